//! A value of a pod's environment that may name other pods' addresses.
//!
//! The env contract is written once, for every runtime: `MASTER_ADDR` is "the address of pod
//! `<job>-master-0`", not `127.0.0.1`. Each runtime resolves the addresses its own way — the
//! local runtime to the loopback address (every pod runs on this host), the Slurm runtime to
//! the node each pod landed on (known only once Slurm has placed the gang, so the pod's shim
//! resolves them), a Kubernetes runtime to the pods' DNS names — and no runtime ever rewrites
//! text another one produced.
//!
//! On the wire (a pod's `spec.json`) a value without addresses is a plain JSON string, so the
//! common case reads as it always did; one with addresses is `{"parts": [...]}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One piece of an [`EnvValue`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Text(String),
    /// The address (host name or IP, no port) of the pod with this PodId.
    AddressOf(String),
}

/// Text with symbolic pod addresses in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvValue {
    parts: Vec<Part>,
}

impl EnvValue {
    /// The address of pod `pod_id`.
    pub fn address_of(pod_id: impl Into<String>) -> Self {
        EnvValue {
            parts: vec![Part::AddressOf(pod_id.into())],
        }
    }

    /// `host:port` of pod `pod_id`.
    pub fn endpoint_of(pod_id: impl Into<String>, port: u16) -> Self {
        let mut value = Self::address_of(pod_id);
        value.push_text(format!(":{port}"));
        value
    }

    /// Text in which each `(placeholder, pod_id)` occurrence stands for that pod's address: how
    /// a structured value (TF_CONFIG's JSON) is built with addresses inside. Placeholders must
    /// not occur in the text otherwise.
    pub fn with_addresses(text: &str, placeholders: &[(String, String)]) -> Self {
        let mut value = EnvValue::default();
        let mut rest = text;
        loop {
            let next = placeholders
                .iter()
                .filter_map(|(marker, pod)| rest.find(marker.as_str()).map(|at| (at, marker, pod)))
                .min_by_key(|(at, ..)| *at);
            let Some((at, marker, pod_id)) = next else {
                value.push_text(rest);
                return value;
            };
            value.push_text(&rest[..at]);
            value.parts.push(Part::AddressOf(pod_id.clone()));
            rest = &rest[at + marker.len()..];
        }
    }

    /// Appends the address of pod `pod_id`.
    pub fn push_address(&mut self, pod_id: impl Into<String>) {
        self.parts.push(Part::AddressOf(pod_id.into()));
    }

    pub fn push_text(&mut self, text: impl AsRef<str>) {
        let text = text.as_ref();
        if text.is_empty() {
            return;
        }
        match self.parts.last_mut() {
            Some(Part::Text(last)) => last.push_str(text),
            _ => self.parts.push(Part::Text(text.to_string())),
        }
    }

    /// The value as text, if it names no address.
    pub fn as_text(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// The pods whose addresses the value names.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::AddressOf(pod_id) => Some(pod_id.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The value with every address filled in by `address` (PodId → address).
    pub fn resolve(&self, mut address: impl FnMut(&str) -> String) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(text) => text.clone(),
                Part::AddressOf(pod_id) => address(pod_id),
            })
            .collect()
    }
}

impl From<String> for EnvValue {
    fn from(text: String) -> Self {
        let mut value = EnvValue::default();
        value.push_text(text);
        value
    }
}

impl From<&str> for EnvValue {
    fn from(text: &str) -> Self {
        EnvValue::from(text.to_string())
    }
}

/// For messages and logs: addresses as `<address of POD>`.
impl fmt::Display for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.resolve(|pod| format!("<address of {pod}>")))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Text(String),
    Parts { parts: Vec<Part> },
}

impl Serialize for EnvValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_text() {
            Some(text) => serializer.serialize_str(text),
            None => Wire::Parts {
                parts: self.parts.clone(),
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Text(text) => EnvValue::from(text),
            Wire::Parts { parts } => EnvValue { parts },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_stays_a_string_on_the_wire() {
        let value = EnvValue::from("1");
        assert_eq!(serde_json::to_string(&value).unwrap(), r#""1""#);
        let back: EnvValue = serde_json::from_str(r#""1""#).unwrap();
        assert_eq!(back.as_text(), Some("1"));
    }

    #[test]
    fn addresses_round_trip_and_resolve() {
        let value = EnvValue::endpoint_of("j-master-0", 2000);
        assert_eq!(value.as_text(), None);
        let json = serde_json::to_string(&value).unwrap();
        let back: EnvValue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, value);
        assert_eq!(back.resolve(|_| "10.0.0.1".into()), "10.0.0.1:2000");
        assert_eq!(back.addresses().collect::<Vec<_>>(), ["j-master-0"]);
        assert_eq!(back.to_string(), "<address of j-master-0>:2000");
    }

    #[test]
    fn placeholders_become_addresses() {
        let marks = [
            ("@0@".to_string(), "j-worker-0".to_string()),
            ("@1@".to_string(), "j-worker-1".to_string()),
        ];
        let value = EnvValue::with_addresses(r#"["@1@:2","@0@:1"]"#, &marks);
        let text = value.resolve(|pod| pod.trim_start_matches("j-").to_string());
        assert_eq!(text, r#"["worker-1:2","worker-0:1"]"#);
        assert_eq!(
            EnvValue::with_addresses("none", &marks).as_text(),
            Some("none")
        );
    }
}
