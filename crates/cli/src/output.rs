//! How results are printed: human tables (the default), or the API's exact JSON, or YAML.
//! Data goes to stdout; progress and diagnostics go to stderr.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::error::{CliError, Result};

/// `-o table|json|yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables and summaries.
    #[default]
    Table,
    /// The server's JSON, exactly as it answered (one document per line when a command makes
    /// several calls).
    Json,
    /// The same data as YAML.
    Yaml,
}

pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Prints one API answer as JSON (verbatim) or YAML.
pub fn print_document(format: Format, raw: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json | Format::Table => writeln!(out, "{}", raw.trim_end())?,
        Format::Yaml => {
            let value: Value = serde_json::from_str(raw).map_err(|e| CliError::BadResponse {
                status: 200,
                detail: e.to_string(),
            })?;
            let text = serde_yaml_ng::to_string(&value)
                .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
            write!(out, "---\n{text}")?;
        }
    }
    Ok(())
}

/// A table of text cells, printed with aligned columns.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i] - cell.chars().count();
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn print(&self) -> Result<()> {
        std::io::stdout()
            .lock()
            .write_all(self.render().as_bytes())?;
        Ok(())
    }
}

/// A cell for an optional value: the value, or `-`.
pub fn cell<T: ToString>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map(|v| v.to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "-".to_string())
}

/// `2026-11-22T07:15:16Z` → `2026-11-22 07:15:16`.
pub fn time(value: &Option<String>) -> String {
    match value.as_deref().filter(|v| !v.is_empty()) {
        Some(t) => t.replace('T', " ").trim_end_matches('Z').to_string(),
        None => "-".to_string(),
    }
}

/// Seconds as `45s`, `3m05s`, `2h03m`, `3d04h`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// Text cut to `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    let text = text.replace('\n', " ");
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(&["A", "LONGER"]);
        t.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(t.render(), "A    LONGER\nxyz  1\n");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(7380), "2h03m");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
