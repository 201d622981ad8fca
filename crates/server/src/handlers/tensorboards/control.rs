//! StartTensorboard, StopTensorboard, UpdateTensorboard, DeleteTensorboard.

use axum::response::Response;
use opendlc_api::{
    DeleteTensorboardResponseBody, ErrorCode, StartTensorboardResponseBody,
    StopTensorboardResponseBody, UpdateTensorboardRequest, UpdateTensorboardResponseBody,
};
use opendlc_core::tensorboard::TensorboardStatus;
use opendlc_core::time::now_millis;

use super::{accessibility, find, max_running_minutes, not_found};
use crate::handlers::query;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

fn incorrect(id: &str, action: &str, status: TensorboardStatus) -> ApiError {
    ApiError::new(
        ErrorCode::IncorrectStatus,
        format!("TensorBoard {id} can't be {action}, because it is {status}."),
    )
}

/// A Stopped, Failed or Succeeded TensorBoard runs again (same id, same URL).
pub async fn start(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let id = request.param(0);
    {
        let _guard = state.tensorboards.lock.lock().await;
        let tb = find(state, request, id)?;
        if tb.status.is_active() {
            return Err(incorrect(id, "started", tb.status));
        }
        state.tensorboards.launch(&tb)?;
    }
    ok(&StartTensorboardResponseBody {
        tensorboard_id: Some(id.to_string()),
        request_id: Some(request.request_id.clone()),
    })
}

/// Stops a Creating or Running TensorBoard; stopping a Stopped one again is fine.
pub async fn stop(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let id = request.param(0);
    {
        let _guard = state.tensorboards.lock.lock().await;
        let tb = find(state, request, id)?;
        match tb.status {
            TensorboardStatus::Creating | TensorboardStatus::Running => {
                state.tensorboards.terminate(
                    &tb,
                    TensorboardStatus::Stopped,
                    "TensorboardStoppedByUser",
                    "The TensorBoard was stopped by its user.".into(),
                )?;
            }
            TensorboardStatus::Stopped => {}
            other => return Err(incorrect(id, "stopped", other)),
        }
    }
    ok(&StopTensorboardResponseBody {
        tensorboard_id: Some(id.to_string()),
        request_id: Some(request.request_id.clone()),
    })
}

/// MaxRunningTimeMinutes (counted from the current run's start), Accessibility, Priority.
pub async fn update(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = UpdateTensorboardRequest::from_query(&request.query)?;
    let id = request.param(0);
    let max = max_running_minutes(q.max_running_time_minutes)?;
    let access = accessibility(&q.accessibility)?;
    let priority = query::text(&q.priority);
    {
        let _guard = state.tensorboards.lock.lock().await;
        find(state, request, id)?;
        let updated = state.store.update_tensorboard_settings(
            id,
            max,
            access.as_deref(),
            priority.as_deref(),
            now_millis(),
        )?;
        if !updated {
            return Err(not_found(id));
        }
    }
    ok(&UpdateTensorboardResponseBody {
        tensorboard_id: Some(id.to_string()),
        request_id: Some(request.request_id.clone()),
    })
}

/// Stops the process if it runs, then forgets the TensorBoard (its summaries stay).
pub async fn delete(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let id = request.param(0);
    {
        let _guard = state.tensorboards.lock.lock().await;
        let tb = find(state, request, id)?;
        if tb.status.is_active() {
            state.tensorboards.terminate(
                &tb,
                TensorboardStatus::Stopped,
                "TensorboardDeleted",
                "The TensorBoard was deleted.".into(),
            )?;
        }
        state.store.delete_tensorboard(id)?;
        let _ = std::fs::remove_dir_all(state.tensorboards.dir.join(id));
    }
    tracing::info!(tensorboard.id = %id, "tensorboard deleted");
    ok(&DeleteTensorboardResponseBody {
        tensorboard_id: Some(id.to_string()),
        request_id: Some(request.request_id.clone()),
    })
}
