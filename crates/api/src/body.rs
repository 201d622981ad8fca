//! Parsing JSON request bodies (CreateJob, UpdateJob, CreateTensorboard).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::error::Category;
use serde_json::Value;

use crate::error::FieldError;

/// Parses a JSON request body into `T`, naming the offending field on a type error
/// (`JobSpecs[0].PodCount: invalid type: string "2", expected i64`).
///
/// The top level must be a JSON object: serde would otherwise read an array positionally into
/// a struct, which no client means — and so must every nested object (`"Settings": []` is
/// refused like `"Settings": 5`). An empty body is an error here; whether an empty body means
/// "all defaults" is the caller's decision. Unknown fields are ignored.
pub fn parse_body<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Result<T, FieldError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(FieldError::whole(
                "the request body is empty, expected a JSON object",
            ))
        }
        Some(_) => {
            return Err(match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => FieldError::whole(format!(
                    "the request body must be a JSON object, got {}",
                    json_kind(&value)
                )),
                Err(err) => not_json(&err),
            })
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.classify() != Category::Data {
            return not_json(&inner);
        }
        let field = if path == "." { String::new() } else { path };
        FieldError::new(field, without_position(&inner))
    })?;
    de.end().map_err(|err| not_json(&err))?;
    let sent: Value = serde_json::from_slice(bytes).map_err(|err| not_json(&err))?;
    let read = serde_json::to_value(&value).map_err(|err| not_json(&err))?;
    no_array_for_object(&sent, &read, "")?;
    Ok(value)
}

/// Fails where the body sent an array and `T` read it as a struct (serde reads a sequence into
/// a struct positionally): `sent` is the body, `read` the parsed value written back.
fn no_array_for_object(sent: &Value, read: &Value, path: &str) -> Result<(), FieldError> {
    match (sent, read) {
        (Value::Array(_), Value::Object(_)) => Err(FieldError::new(
            path,
            "invalid type: sequence, expected an object",
        )),
        (Value::Object(sent), Value::Object(read)) => {
            for (key, value) in sent {
                if let Some(parsed) = read.get(key) {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    no_array_for_object(value, parsed, &child)?;
                }
            }
            Ok(())
        }
        (Value::Array(sent), Value::Array(read)) => {
            for (i, (value, parsed)) in sent.iter().zip(read).enumerate() {
                no_array_for_object(value, parsed, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn not_json(err: &serde_json::Error) -> FieldError {
    FieldError::whole(format!("the request body is not valid JSON: {err}"))
}

/// serde_json appends ` at line L column C`; for a type error the field path says more.
fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_string(),
        None => text,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CreateJobRequest;

    #[test]
    fn a_nested_object_sent_as_an_array_is_refused_like_a_top_level_one() {
        let err = parse_body::<CreateJobRequest>(br#"{"Settings":[]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid parameter Settings: invalid type: sequence, expected an object"
        );
        let err = parse_body::<CreateJobRequest>(br#"{"JobSpecs":[{"ResourceConfig":["1"]}]}"#)
            .unwrap_err();
        assert_eq!(err.field, "JobSpecs[0].ResourceConfig");
        assert!(parse_body::<CreateJobRequest>(br#"{"Settings":{},"JobSpecs":[]}"#).is_ok());
    }
}
