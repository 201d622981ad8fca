//! The one error type of this crate: a request field that could not be read.

/// A request field (query parameter or body field) that could not be parsed.
///
/// `field` is the wire name or path (`ShowOwn`, `JobSpecs[0].PodCount`); it is empty when the
/// problem is the request as a whole (a body that is not JSON). The server turns this into an
/// `InvalidParameter` error whose message is this error's `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.field, .message))]
pub struct FieldError {
    /// Wire name or path of the offending field; empty for the request as a whole.
    pub field: String,
    /// What was wrong, e.g. `expected an integer, got "ten"`.
    pub message: String,
}

impl FieldError {
    /// An error about one field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An error about the request as a whole (no single field to blame).
    pub fn whole(message: impl Into<String>) -> Self {
        Self::new(String::new(), message)
    }
}

/// `Invalid parameter <field>: <message>`, or just the message for the request as a whole.
fn describe(field: &str, message: &str) -> String {
    if field.is_empty() {
        message.to_string()
    } else {
        format!("Invalid parameter {field}: {message}")
    }
}
