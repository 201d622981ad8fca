//! The one mapping from errors to the Alibaba error envelope.

use opendlc_api::{ErrorCode, FieldError};
use opendlc_core::error::Invalid;
use opendlc_store::StoreError;

use crate::engine::EngineError;

/// An error an operation answers with: a code (which fixes the HTTP status) and a message for
/// the user. Internal failures are logged where they happen and answered as `InternalError`.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Sent as `x-acs-retry-after` (seconds): the SDK then raises `ThrottlingException`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn throttled(retry_after_secs: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(
                ErrorCode::Throttling,
                format!(
                    "Too many requests with this access key; retry after {retry_after_secs} s."
                ),
            )
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::OperationForbidden, message)
    }

    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("Invalid parameter {field}: {message}"),
        )
    }

    pub fn job_not_found(job_id: &str) -> Self {
        ApiError::new(
            ErrorCode::JobNotFound,
            format!("The job {job_id} does not exist."),
        )
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!("{context}: {err}");
        ApiError::new(
            ErrorCode::InternalError,
            format!("The server failed to {context}; see its log."),
        )
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::new(ErrorCode::InvalidParameter, e.to_string())
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        let code = match e {
            Invalid::Missing { .. } => ErrorCode::MissingParameter,
            Invalid::Value { .. } => ErrorCode::InvalidParameter,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::JobNotFound(job_id) => ApiError::job_not_found(&job_id),
            StoreError::Transition { job_id, from, to } => ApiError::new(
                ErrorCode::IncorrectStatus,
                format!("Job {job_id} can't become {to}, because it is {from}."),
            ),
            other => ApiError::internal("read or write its database", other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::IncorrectStatus {
                job_id,
                action,
                status,
            } => ApiError::new(
                ErrorCode::IncorrectStatus,
                format!("Job {job_id} can't be {action}, because it is {status}."),
            ),
            EngineError::Store(e) => e.into(),
            EngineError::Invalid(e) => e.into(),
            EngineError::ShutDown => {
                ApiError::new(ErrorCode::InternalError, "The server is shutting down.")
            }
            e @ EngineError::Thread(_) => ApiError::internal("start the engine", e),
        }
    }
}
