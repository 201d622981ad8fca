//! Parsing JSON request bodies (CreateJob, UpdateJob, CreateTensorboard).

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::FieldError;

/// Parses a JSON request body into `T`, naming the offending field on a type error
/// (`JobSpecs[0].PodCount: invalid type: string "2", expected i64`).
///
/// The top level must be a JSON object: serde would otherwise read an array positionally into
/// a struct, which no client means. An empty body is an error here; whether an empty body means
/// "all defaults" is the caller's decision. Unknown fields are ignored.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(FieldError::whole(
                "the request body is empty, expected a JSON object",
            ))
        }
        Some(_) => {
            return Err(match serde_json::from_slice::<serde_json::Value>(bytes) {
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
    Ok(value)
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

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
