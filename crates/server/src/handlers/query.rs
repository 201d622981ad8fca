//! Reading the query parameters several operations share: times, paging, order, lists.

use opendlc_core::time::{parse_wire, Millis};

use crate::http::ApiError;

pub fn time(value: &Option<String>, field: &str) -> Result<Option<Millis>, ApiError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => parse_wire(text).map(Some).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("\"{text}\" is not a time like 2024-01-01T00:00:00Z"),
            )
        }),
    }
}

/// A positive count within `1..=max`, `default` when absent.
pub fn count(value: Option<i64>, field: &str, default: u64, max: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 && n as u64 <= max => Ok(n as u64),
        Some(n) => Err(ApiError::invalid(
            field,
            format!("must be between 1 and {max}, got {n}"),
        )),
    }
}

/// `asc`/`desc` in any case; `default_desc` when absent.
pub fn descending(value: &Option<String>, default_desc: bool) -> Result<bool, ApiError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default_desc),
        Some(v) if v.eq_ignore_ascii_case("desc") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("asc") => Ok(false),
        Some(v) => Err(ApiError::invalid(
            "Order",
            format!("must be asc or desc, got \"{v}\""),
        )),
    }
}

/// A comma-separated list, blanks dropped.
pub fn list(value: &Option<String>) -> Vec<String> {
    value
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

/// A non-blank string parameter.
pub fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}
