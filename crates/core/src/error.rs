//! The error every request validator of this crate returns: a field of a CreateJob or UpdateJob
//! request that is missing or breaks a rule. The server turns it into the API's
//! `MissingParameter` / `InvalidParameter` envelope; its messages are what the API user reads.
//!
//! It has a module of its own so that dependencies point one way. `submission` validates a
//! whole request and calls the validators of `sources`, `reservation` and `data_juicer` for
//! their parts; when `Invalid` lived in `submission`, those validators imported it back from
//! there, and the four modules formed an import cycle. Now they all depend on this module,
//! which depends on nothing.

/// A request field that is missing or breaks a rule, named as in the API (`JobSpecs[0].Type`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("{field} is mandatory for this action.")]
    Missing { field: String },
    #[error("Invalid parameter {field}: {message}")]
    Value { field: String, message: String },
}

impl Invalid {
    pub fn value(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid::Value {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field it is about.
    pub fn field(&self) -> &str {
        match self {
            Invalid::Missing { field } | Invalid::Value { field, .. } => field,
        }
    }

    pub(crate) fn missing(field: impl Into<String>) -> Invalid {
        Invalid::Missing {
            field: field.into(),
        }
    }
}
