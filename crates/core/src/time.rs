//! Time on the wire: UTC, `YYYY-MM-DDTHH:MM:SSZ`; in the store: milliseconds since the epoch.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC. The one time type the domain and the store share.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

/// Where a component that decides by the time (the engine: deadlines, reservations, hangs,
/// sanity timeouts) reads it: the wall clock in the server, a hand-moved one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        now_millis()
    }
}

/// A clock that moves only when told to; clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl ManualClock {
    pub fn starting_at(ms: Millis) -> Self {
        ManualClock(std::sync::Arc::new(ms.into()))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// `2024-01-01T00:00:00Z`, the format of every `Gmt*Time` field.
pub fn format_wire(ms: Millis) -> String {
    to_datetime(ms).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2024-01-01 00:00:00`, the prefix of every event line.
pub fn format_event(ms: Millis) -> String {
    to_datetime(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Accepts RFC 3339 (`2024-01-01T00:00:00Z`, with or without fraction or offset) and the
/// space-separated form `2024-01-01 00:00:00` (read as UTC), which PAI's own CLI sends.
pub fn parse_wire(text: &str) -> Option<Millis> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_round_trips() {
        let ms = parse_wire("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(format_wire(ms), "2024-01-02T03:04:05Z");
        assert_eq!(format_event(ms), "2024-01-02 03:04:05");
        assert_eq!(parse_wire("2024-01-02 03:04:05"), Some(ms));
        assert_eq!(parse_wire("2024-01-02T11:04:05+08:00"), Some(ms));
        assert_eq!(parse_wire("yesterday"), None);
    }
}
