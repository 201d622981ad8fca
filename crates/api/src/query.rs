//! Reading and writing query-string requests the way the official SDK encodes them.
//!
//! The SDK sends every scalar through Python's `str()`: booleans arrive as `True`/`False`,
//! integers as `10`. A map (`ListJobs.Tags`) arrives as one compact JSON string, and a nested
//! object (`GetToken.TokenSettings`) is flattened into `TokenSettings.<Field>=<value>` keys.
//! The generated `from_query`/`to_query` methods call the helpers below; the pairs they take
//! are already percent-decoded.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::FieldError;

/// Longest part of a rejected value quoted back in an error message.
const MAX_QUOTED: usize = 64;

/// A type that one query value can be parsed into.
pub trait FromQueryValue: Sized {
    /// What a valid value looks like, for error messages ("an integer").
    const EXPECTED: &'static str;

    /// Whether `Key=` means "not given". True for everything but strings, where the empty
    /// string is a value the SDK sends on purpose.
    const EMPTY_IS_ABSENT: bool = true;

    /// Parses a value; `None` when it is not of this type.
    fn from_query_value(value: &str) -> Option<Self>;
}

/// A type that can be written as one query value, the way the SDK writes it.
pub trait ToQueryValue {
    /// The value as the SDK would send it (`True`, `10`, `{"k":"v"}`).
    fn to_query_value(&self) -> String;
}

/// A request that travels in the query string; implemented by every such generated
/// `XxxRequest` (which also has the same two methods as inherent methods), so that code
/// generic over [`crate::Endpoint`] can parse and write any of them.
pub trait QueryRequest: Sized {
    /// Builds the request from percent-decoded query pairs. Unknown keys are ignored, the last
    /// of repeated keys wins, and `Key=` leaves a non-string field unset.
    fn from_query(pairs: &[(String, String)]) -> Result<Self, FieldError>;

    /// The pairs the official SDK would send for this request (sorted by key, booleans as
    /// `True`/`False`, maps as one JSON string, nested objects flattened).
    fn to_query(&self) -> Vec<(String, String)>;
}

/// A struct that travels flattened in the query string (`TokenSettings.EnableLogDownloadJob`).
/// Implemented by generated code.
pub trait QueryObject {
    /// Sets the field whose wire name is `name` from `value`; `key` is the whole query key,
    /// for error messages. Unknown names are ignored.
    fn set_query_field(&mut self, key: &str, name: &str, value: &str) -> Result<(), FieldError>;

    /// Appends `<prefix>.<Field>=<value>` for every set field, sorted by field name.
    fn push_query_fields(&self, prefix: &str, pairs: &mut Vec<(String, String)>);
}

impl FromQueryValue for String {
    const EXPECTED: &'static str = "a string";
    const EMPTY_IS_ABSENT: bool = false;

    fn from_query_value(value: &str) -> Option<Self> {
        Some(value.to_string())
    }
}

impl FromQueryValue for i64 {
    const EXPECTED: &'static str = "an integer";

    fn from_query_value(value: &str) -> Option<Self> {
        value.trim().parse().ok()
    }
}

impl FromQueryValue for f64 {
    const EXPECTED: &'static str = "a number";

    fn from_query_value(value: &str) -> Option<Self> {
        value.trim().parse().ok().filter(|v: &f64| v.is_finite())
    }
}

impl FromQueryValue for bool {
    const EXPECTED: &'static str = "a boolean (true or false)";

    /// `True`/`False` from Python's `str(bool)`, any other casing of true/false, or 1/0.
    fn from_query_value(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("true") || value == "1" {
            Some(true)
        } else if value.eq_ignore_ascii_case("false") || value == "0" {
            Some(false)
        } else {
            None
        }
    }
}

/// A map arrives as one JSON object (`Tags={"owner":"sdk"}`), as the SDK's "shrink" step
/// encodes it.
impl<V: DeserializeOwned> FromQueryValue for BTreeMap<String, V> {
    const EXPECTED: &'static str = r#"a JSON object such as {"key":"value"}"#;

    fn from_query_value(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
}

/// Free-form values: JSON when the value parses as JSON, otherwise the plain string.
impl FromQueryValue for serde_json::Value {
    const EXPECTED: &'static str = "a JSON value";

    fn from_query_value(value: &str) -> Option<Self> {
        Some(
            serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_string())),
        )
    }
}

impl ToQueryValue for String {
    fn to_query_value(&self) -> String {
        self.clone()
    }
}

impl ToQueryValue for i64 {
    fn to_query_value(&self) -> String {
        self.to_string()
    }
}

impl ToQueryValue for f64 {
    /// Like Python's `str(float)`: a whole number keeps its `.0`.
    fn to_query_value(&self) -> String {
        if self.is_finite() && self.fract() == 0.0 && self.abs() < 1e16 {
            format!("{self:.1}")
        } else {
            self.to_string()
        }
    }
}

impl ToQueryValue for bool {
    /// Python's `str(bool)`.
    fn to_query_value(&self) -> String {
        if *self { "True" } else { "False" }.to_string()
    }
}

impl<V: Serialize> ToQueryValue for BTreeMap<String, V> {
    /// Compact JSON, as the SDK's `json.dumps(..., separators=(',', ':'))`.
    fn to_query_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ToQueryValue for serde_json::Value {
    fn to_query_value(&self) -> String {
        match self {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// Parses the value of query key `key`; `Ok(None)` when it is empty and `T` has no empty value.
pub fn parse<T: FromQueryValue>(key: &str, value: &str) -> Result<Option<T>, FieldError> {
    if value.is_empty() && T::EMPTY_IS_ABSENT {
        return Ok(None);
    }
    T::from_query_value(value)
        .map(Some)
        .ok_or_else(|| invalid(key, T::EXPECTED, value))
}

/// Parses a nested object given whole, as JSON (`TokenSettings={"EnableLogDownloadJob":true}`).
/// The SDK flattens instead; this keeps hand-written clients working too.
pub fn parse_json<T: DeserializeOwned>(key: &str, value: &str) -> Result<Option<T>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(value)
        .map(Some)
        .map_err(|_| invalid(key, "a JSON object", value))
}

/// Sets one field of a flattened nested object: `key` is `Prefix.Field`, `prefix_len` the
/// length of `Prefix.`. The object stays `None` until one of its fields gets a value.
pub fn set_nested<T: QueryObject + Default + PartialEq>(
    slot: &mut Option<T>,
    key: &str,
    prefix_len: usize,
    value: &str,
) -> Result<(), FieldError> {
    let mut object = slot.take().unwrap_or_default();
    object.set_query_field(key, &key[prefix_len..], value)?;
    if object != T::default() {
        *slot = Some(object);
    }
    Ok(())
}

/// Inserts one entry of a map given flattened (`Tags.owner=sdk`), which older clients send.
pub fn insert_entry<V: FromQueryValue>(
    slot: &mut Option<BTreeMap<String, V>>,
    key: &str,
    prefix_len: usize,
    value: &str,
) -> Result<(), FieldError> {
    let name = &key[prefix_len..];
    if let Some(parsed) = parse::<V>(key, value)? {
        slot.get_or_insert_with(BTreeMap::new)
            .insert(name.to_string(), parsed);
    }
    Ok(())
}

/// Appends `key=value` when the field is set.
pub fn push<T: ToQueryValue>(pairs: &mut Vec<(String, String)>, key: &str, value: &Option<T>) {
    if let Some(value) = value {
        pairs.push((key.to_string(), value.to_query_value()));
    }
}

/// Appends a nested object flattened as `key.<Field>=value`, when it is set.
pub fn push_nested<T: QueryObject>(
    pairs: &mut Vec<(String, String)>,
    key: &str,
    value: &Option<T>,
) {
    if let Some(value) = value {
        value.push_query_fields(key, pairs);
    }
}

fn invalid(key: &str, expected: &str, value: &str) -> FieldError {
    let quoted: String = value.chars().take(MAX_QUOTED).collect();
    let ellipsis = if quoted.len() < value.len() {
        "…"
    } else {
        ""
    };
    FieldError::new(
        key,
        format!("expected {expected}, got {quoted:?}{ellipsis}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_like_python() {
        assert_eq!(1.0_f64.to_query_value(), "1.0");
        assert_eq!(1.5_f64.to_query_value(), "1.5");
        assert_eq!((-3.0_f64).to_query_value(), "-3.0");
    }

    #[test]
    fn non_finite_floats_are_rejected() {
        assert_eq!(f64::from_query_value("NaN"), None);
        assert_eq!(f64::from_query_value("inf"), None);
        assert_eq!(f64::from_query_value("2.5"), Some(2.5));
    }

    #[test]
    fn maps_are_written_as_compact_json() {
        let tags = BTreeMap::from([("team".to_string(), "a b".to_string())]);
        assert_eq!(tags.to_query_value(), r#"{"team":"a b"}"#);
        assert_eq!(true.to_query_value(), "True");
    }
}
