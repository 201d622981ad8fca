//! Small parsers shared by the commands: durations, times, `k=v` lists.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{CliError, Result};

/// `90`, `90s`, `5m`, `2h`, `1d`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Ok(Duration::from_secs_f64(secs.max(0.0)));
    }
    let mut total = 0f64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86400.0,
            _ => return Err(format!("{text:?} is not a duration like 30s, 5m or 2h")),
        };
        let n: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 30s, 5m or 2h"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(format!("{text:?} is not a duration like 30s, 5m or 2h"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// A time for the API: RFC 3339 (`2026-01-02T03:04:05Z`) as given, or a duration ago (`10m`).
pub fn parse_since(text: &str) -> Result<String, String> {
    if chrono::DateTime::parse_from_rfc3339(text.trim()).is_ok() {
        return Ok(text.trim().to_string());
    }
    let ago = parse_duration(text).map_err(|_| {
        format!("{text:?} is neither a time like 2026-01-02T03:04:05Z nor a duration like 10m")
    })?;
    let at = chrono::Utc::now() - chrono::Duration::from_std(ago).unwrap_or_default();
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// `k=v` items (already split on commas by clap) into a map.
pub fn key_values(items: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .filter(|i| !i.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(CliError::usage(format!(
                "{flag}: expected NAME=VALUE, got {item:?}"
            ))),
        })
        .collect()
}

/// A pod's name without its job's prefix: `dlc1-worker-0` → `worker-0`.
pub fn short_pod<'a>(job_id: &str, pod_id: &'a str) -> &'a str {
    pod_id
        .strip_prefix(job_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(pod_id)
}

/// Whether a job status is final.
pub fn is_final(status: &str) -> bool {
    matches!(status, "Succeeded" | "Failed" | "Stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn since_accepts_times_and_durations() {
        assert_eq!(
            parse_since("2026-01-02T03:04:05Z").unwrap(),
            "2026-01-02T03:04:05Z"
        );
        assert!(parse_since("10m").unwrap().ends_with('Z'));
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn pods_shorten() {
        assert_eq!(short_pod("dlc1", "dlc1-worker-0"), "worker-0");
        assert_eq!(short_pod("dlc1", "other"), "other");
    }
}
