use axum::response::Response;
use opendlc_api::GetJobRequest;

use crate::handlers::access;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;
use crate::views::{job_view, Names};

/// GetJob: everything known about the job; `NeedDetail=false` leaves out pods and history.
pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetJobRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    let (pods, history) = if q.need_detail.unwrap_or(true) {
        (
            state.store.pods(&job.job_id)?,
            state.store.status_history(&job.job_id)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let names = Names::for_job(&state.store, &job)?;
    ok(&job_view(
        &job,
        &pods,
        &history,
        &request.request_id,
        &names,
    ))
}
