//! The error envelope every 4xx/5xx response carries, and the error codes we use.
//!
//! The SDK raises `ClientException` (4xx) or `ServerException` (5xx) from this body and reads
//! `Code`, `Message` and `RequestId` from it; `HostId` and `Recommend` reach the user only
//! through the exception's `data`. All five are always sent: a missing `Code` would surface as
//! the string `'None'` on the client.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The JSON body of an error response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    /// The request's id (also in every success body).
    #[serde(rename = "RequestId", alias = "requestId")]
    pub request_id: String,
    /// The host that answered, e.g. `127.0.0.1:8080`.
    #[serde(rename = "HostId", alias = "hostId")]
    pub host_id: String,
    /// A dotted error code such as `EntityNotFound.Job` (see [`ErrorCode`]).
    #[serde(rename = "Code", alias = "code")]
    pub code: String,
    /// A human-readable message naming what was wrong.
    #[serde(rename = "Message", alias = "message")]
    pub message: String,
    /// Where to read more; may be empty.
    #[serde(rename = "Recommend", alias = "recommend")]
    pub recommend: String,
}

impl ErrorBody {
    /// An error body for `code`, with an empty `Recommend`.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        request_id: impl Into<String>,
        host_id: impl Into<String>,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            host_id: host_id.into(),
            code: code.as_str().to_string(),
            message: message.into(),
            recommend: String::new(),
        }
    }

    /// The code as a known [`ErrorCode`], if it is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(&self.code)
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:literal;)*) => {
        /// The error codes opendlc answers with, each with its HTTP status.
        ///
        /// Codes follow Alibaba Cloud's dotted style; the SDK treats every 4xx the same
        /// (`ClientException`), so the status matters for plain HTTP clients and logs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire code, e.g. `EntityNotFound.Job`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status the code is sent with.
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// The code for a wire code string, if it is one of ours.
            pub fn from_code(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// A parameter has the wrong type or an invalid value.
    InvalidParameter = "InvalidParameter", 400;
    /// A required parameter is missing.
    MissingParameter = "MissingParameter", 400;
    /// The operation is not allowed in the resource's current status
    /// ("Job can't be stopped, because it is Stopped").
    IncorrectStatus = "IncorrectStatus", 400;
    /// No job with that id (or not visible to the caller).
    JobNotFound = "EntityNotFound.Job", 404;
    /// No pod with that id in the job.
    PodNotFound = "EntityNotFound.Pod", 404;
    /// No TensorBoard with that id.
    TensorboardNotFound = "EntityNotFound.Tensorboard", 404;
    /// No workspace with that id.
    WorkspaceNotFound = "EntityNotFound.Workspace", 404;
    /// The method and path match no operation.
    ActionNotFound = "InvalidAction.NotFound", 404;
    /// The caller may not perform this operation on this resource.
    OperationForbidden = "OperationForbidden", 403;
    /// The caller is not allowed at all (e.g. an invalid or expired token).
    Forbidden = "Forbidden", 403;
    /// The Authorization header is missing, malformed or does not sign the required headers.
    IncompleteSignature = "IncompleteSignature", 400;
    /// The signature does not match the request.
    SignatureDoesNotMatch = "SignatureDoesNotMatch", 403;
    /// The signature nonce was already used (a replay).
    SignatureNonceUsed = "SignatureNonceUsed", 400;
    /// `x-acs-date` is too far from the server's clock.
    TimestampExpired = "InvalidTimeStamp.Expired", 400;
    /// The access key id is unknown.
    AccessKeyNotFound = "InvalidAccessKeyId.NotFound", 404;
    /// The request body exceeds the server's limit. 413 rather than 400: it is what HTTP
    /// clients and proxies expect, and the SDK raises `ClientException` for both.
    RequestTooLarge = "RequestTooLarge", 413;
    /// The request body did not arrive in time (the connection is then closed).
    RequestTimeout = "RequestTimeout", 408;
    /// Too many requests; sent with an `x-acs-retry-after` header.
    Throttling = "Throttling", 429;
    /// The operation exists in the API but opendlc does not implement it.
    NotImplemented = "NotImplemented", 501;
    /// A bug or an unexpected failure on the server.
    InternalError = "InternalError", 500;
    /// The server is shutting down or cannot serve for now; worth retrying.
    ServiceUnavailable = "ServiceUnavailable", 503;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
