//! The range of every number in a CreateJob or UpdateJob body.
//!
//! The wire types read every integer as `i64` (the spec's int32 and int64 alike), so a value
//! such as `JobMaxRunningTimeMinutes=9223372036854775807` would pass the parser and overflow
//! later. [`check_numbers`] walks the body as sent and refuses, naming the field, any number
//! outside its documented range; the fields with a check of their own (Priority, PodCount,
//! JobMaxRunningTimeMinutes, Settings.JobReservedMinutes) keep it and are skipped here.

use serde_json::Value;

use crate::error::Invalid;

/// The longest JobMaxRunningTimeMinutes: ten years.
pub const MAX_RUNNING_MINUTES: i64 = 10 * 365 * 24 * 60;

/// Fields checked where they are read, with their own messages.
const CHECKED_ELSEWHERE: [&str; 4] = [
    "Priority",
    "PodCount",
    "JobMaxRunningTimeMinutes",
    "JobReservedMinutes",
];

/// The range of an integer field, by its name: ports are ports, everything else is a count,
/// a size or a duration the spec declares int32 (int64 sizes too fit in it).
fn integer_range(name: &str) -> (i64, i64) {
    match name {
        "DefaultPort" | "ExtraPorts" | "Port" => (1, 65_535),
        _ => (0, i64::from(i32::MAX)),
    }
}

/// The range of a fractional field.
fn number_range(name: &str) -> (f64, f64) {
    match name {
        "SpotDiscountLimit" => (0.0, 1.0),
        _ => (0.0, f64::from(i32::MAX)),
    }
}

/// Refuses the first number in `body` (a request as parsed, written back as JSON) that is out
/// of its field's range.
pub fn check_numbers(body: &Value) -> Result<(), Invalid> {
    walk(body, "", "")
}

fn walk(value: &Value, path: &str, name: &str) -> Result<(), Invalid> {
    match value {
        Value::Object(fields) => {
            for (key, child) in fields {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                // AdvancedSettings and the like are free-form: nothing there is read as a number.
                if key == "AdvancedSettings" {
                    continue;
                }
                walk(child, &child_path, key)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), name)?;
            }
            Ok(())
        }
        Value::Number(n) if !CHECKED_ELSEWHERE.contains(&name) => {
            if let Some(i) = n.as_i64() {
                let (min, max) = integer_range(name);
                if !(min..=max).contains(&i) {
                    return Err(Invalid::value(
                        path,
                        format!("must be between {min} and {max}, got {i}"),
                    ));
                }
            } else if let Some(f) = n.as_f64() {
                let (min, max) = number_range(name);
                if !(f.is_finite() && (min..=max).contains(&f)) {
                    return Err(Invalid::value(
                        path,
                        format!("must be between {min} and {max}, got {f}"),
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_out_of_range_are_refused_with_their_path() {
        let err = check_numbers(&json!({"JobSpecs": [{"ServiceSpec": {"DefaultPort": 70000}}]}))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid parameter JobSpecs[0].ServiceSpec.DefaultPort: must be between 1 and 65535, got 70000"
        );
        let err = check_numbers(&json!({"ElasticSpec": {"MaxParallelism": -1}})).unwrap_err();
        assert!(
            err.to_string().contains("ElasticSpec.MaxParallelism"),
            "{err}"
        );
        let err =
            check_numbers(&json!({"TemplateVersion": 9_223_372_036_854_775_807_i64})).unwrap_err();
        assert!(err.to_string().contains("TemplateVersion"), "{err}");
        let err = check_numbers(&json!({"JobSpecs": [{"SpotSpec": {"SpotDiscountLimit": 1.5}}]}))
            .unwrap_err();
        assert!(err.to_string().contains("SpotDiscountLimit"), "{err}");
    }

    #[test]
    fn numbers_in_range_and_fields_checked_elsewhere_pass() {
        let ok = json!({
            "Priority": 100,
            "JobSpecs": [{"PodCount": 2, "ServiceSpec": {"ExtraPorts": [8081, 8082]}}],
            "Settings": {"JobReservedMinutes": 30, "AdvancedSettings": {"x": -5}},
            "TemplateVersion": 1
        });
        assert!(check_numbers(&ok).is_ok());
    }
}
