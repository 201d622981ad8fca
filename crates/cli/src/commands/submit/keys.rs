//! Unknown keys in a job file. The API ignores keys it does not know (as PAI does), so a
//! misspelt `displayName` would only come back as "DisplayName is mandatory": the client
//! names the key instead, and says which ones it could have meant.
//!
//! A key is unknown when it does not survive a round trip through [`CreateJobRequest`]: every
//! field the API defines comes back, at any depth (JobSpecs, ResourceConfig, Settings, …).

use opendlc_api::{
    CreateJobRequest, CreateJobRequestCodeSource, CreateJobRequestDataSources, JobSettings,
    JobSpec, ResourceConfig,
};
use serde::de::{self, Deserialize, Visitor};
use serde_json::Value;

/// The first key of `body` that CreateJob does not define, as a message naming it, its path
/// and the keys allowed there. `None` when every key is known, or when the body does not
/// even deserialize (the server then says what is wrong with its values).
pub fn unknown_key(body: &Value) -> Option<String> {
    let request: CreateJobRequest = serde_json::from_value(body.clone()).ok()?;
    let known = serde_json::to_value(request).ok()?;
    let (path, key) = first_unknown(body, &known, String::new())?;
    let allowed = known_keys(&path);
    let mut message = match path.as_str() {
        "" => format!("unknown key {key:?}"),
        _ => format!("unknown key {key:?} in {path}"),
    };
    if let Some(close) = allowed.and_then(|keys| closest(&key, keys)) {
        message.push_str(&format!(" (did you mean {close:?}?)"));
    }
    if let Some(keys) = allowed {
        message.push_str(&format!("; the keys there are: {}", keys.join(", ")));
    }
    Some(message)
}

/// The path (`JobSpecs[0].ResourceConfig`) and name of the first key of `given` missing from
/// `known` (the round-tripped body). Keys set to null are left alone: they drop out of the
/// round trip whatever their name.
fn first_unknown(given: &Value, known: &Value, path: String) -> Option<(String, String)> {
    match (given, known) {
        (Value::Object(given), Value::Object(known)) => given.iter().find_map(|(key, value)| {
            let inner = match path.as_str() {
                "" => key.clone(),
                _ => format!("{path}.{key}"),
            };
            match known.get(key) {
                Some(kept) => first_unknown(value, kept, inner),
                None if value.is_null() => None,
                None => Some((path.clone(), key.clone())),
            }
        }),
        (Value::Array(given), Value::Array(known)) => given
            .iter()
            .zip(known)
            .enumerate()
            .find_map(|(i, (g, k))| first_unknown(g, k, format!("{path}[{i}]"))),
        _ => None,
    }
}

/// The keys of the objects a job file has most often, by the path (indexes ignored).
fn known_keys(path: &str) -> Option<&'static [&'static str]> {
    let mut shape = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => shape.push(c),
            _ => {}
        }
    }
    Some(match shape.as_str() {
        "" => fields::<CreateJobRequest>(),
        "JobSpecs" => fields::<JobSpec>(),
        "JobSpecs.ResourceConfig" => fields::<ResourceConfig>(),
        "Settings" => fields::<JobSettings>(),
        "DataSources" => fields::<CreateJobRequestDataSources>(),
        "CodeSource" => fields::<CreateJobRequestCodeSource>(),
        _ => return None,
    })
}

/// The wire names of a struct's fields, as its `Deserialize` tells a deserializer.
fn fields<T: Deserialize<'static>>() -> &'static [&'static str] {
    let mut found: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut found));
    found
}

/// A deserializer that only notes the field names `deserialize_struct` is given.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct Noted;

impl std::fmt::Display for Noted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names noted")
    }
}

impl std::error::Error for Noted {}

impl de::Error for Noted {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Noted
    }
}

impl<'de> de::Deserializer<'de> for FieldNames<'_> {
    type Error = Noted;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Noted> {
        Err(Noted)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Noted> {
        *self.0 = fields;
        Err(Noted)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The known key closest to `key`: the same but for case, or a few typos away.
fn closest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    if let Some(same) = known.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return Some(same);
    }
    let lower = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_valid_body_has_no_unknown_key() {
        let body = json!({
            "DisplayName": "d", "JobType": "PyTorchJob", "UserCommand": "true",
            "JobSpecs": [{"Type": "Worker", "PodCount": 2, "EcsSpec": "ecs.c6.large",
                          "ResourceConfig": {"CPU": "1", "Memory": "2Gi"}}],
            "Envs": {"ANY_NAME": "x"}, "Settings": {"Tags": {"team": "cv"}},
            "DataSources": [{"Uri": "/data", "MountPath": "/mnt/data"}],
            "Description": null,
        });
        assert_eq!(unknown_key(&body), None);
    }

    #[test]
    fn a_misspelt_key_is_named_with_the_closest_known_one() {
        let message = unknown_key(&json!({"displayName": "d", "JobType": "TFJob"})).unwrap();
        assert!(
            message.starts_with(r#"unknown key "displayName" (did you mean "DisplayName"?); the keys there are: DisplayName, JobType, JobSpecs, UserCommand"#),
            "{message}"
        );
        let message = unknown_key(&json!({"Cmd": "x"})).unwrap();
        assert!(!message.contains("did you mean"), "{message}");
        assert!(message.contains("UserCommand"), "{message}");
    }

    #[test]
    fn nested_keys_are_checked_with_their_path() {
        let body = json!({"JobSpecs": [{"Type": "Worker"}, {"Type": "Master", "PodCnt": 1}]});
        let message = unknown_key(&body).unwrap();
        assert!(
            message
                .starts_with(r#"unknown key "PodCnt" in JobSpecs[1] (did you mean "PodCount"?)"#),
            "{message}"
        );
        let body = json!({"JobSpecs": [{"Type": "Worker", "ResourceConfig": {"Cpus": "1"}}]});
        let message = unknown_key(&body).unwrap();
        assert!(
            message.starts_with(
                r#"unknown key "Cpus" in JobSpecs[0].ResourceConfig (did you mean "CPU"?)"#
            ),
            "{message}"
        );
    }

    #[test]
    fn a_body_with_wrong_values_is_left_to_the_server() {
        assert_eq!(unknown_key(&json!({"PodCount": "x", "JobSpecs": 3})), None);
    }

    #[test]
    fn field_names_come_from_the_wire_types() {
        let names = fields::<JobSpec>();
        assert!(
            names.contains(&"PodCount") && names.contains(&"EcsSpec"),
            "{names:?}"
        );
    }
}
