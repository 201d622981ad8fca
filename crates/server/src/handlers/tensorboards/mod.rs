//! The eight TensorBoard operations. The processes and the proxy are in `crate::tensorboards`.

mod control;
mod create;
mod read;

pub use control::{delete, start, stop, update};
pub use create::create;
pub use read::{get, list, shared_url};

use opendlc_api::ErrorCode;
use opendlc_core::tensorboard::Tensorboard;

use crate::http::{ApiError, ApiRequest};
use crate::state::AppState;

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::TensorboardNotFound,
        format!("The TensorBoard {id} does not exist."),
    )
}

/// The TensorBoard, if the caller may change it.
fn find(state: &AppState, request: &ApiRequest, id: &str) -> Result<Tensorboard, ApiError> {
    crate::handlers::access::writable_tensorboard(state, request, id)
}

fn accessibility(value: &Option<String>) -> Result<Option<String>, ApiError> {
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("PUBLIC") || v.eq_ignore_ascii_case("PRIVATE") => {
            Ok(Some(v.to_ascii_uppercase()))
        }
        Some(v) => Err(ApiError::invalid(
            "Accessibility",
            format!("must be PUBLIC or PRIVATE, got \"{v}\""),
        )),
    }
}

fn max_running_minutes(value: Option<i64>) -> Result<Option<i64>, ApiError> {
    match value {
        Some(m) if m < 0 => Err(ApiError::invalid(
            "MaxRunningTimeMinutes",
            format!("must be 0 (no limit) or more, got {m}"),
        )),
        other => Ok(other),
    }
}
