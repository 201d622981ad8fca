use axum::response::Response;
use opendlc_api::StopJobResponseBody;

use crate::handlers::access;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// StopJob: Stopping (the pods get SIGTERM, then SIGKILL after the grace period) → Stopped.
pub async fn stop(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    access::writable_job(state, request, request.param(0))?;
    let job = state.engine.stop(request.param(0)).await?;
    ok(&StopJobResponseBody {
        job_id: Some(job.job_id),
        request_id: Some(request.request_id.clone()),
    })
}
