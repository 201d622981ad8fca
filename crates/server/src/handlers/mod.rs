//! One module per operation group, one function per operation; [`call`] picks it.

mod ecs_specs;
mod job_events;
mod jobs;
mod log_stream;
mod metrics;
mod pods;
mod query;
mod tensorboards;
mod web_terminal;

use axum::response::Response;
use opendlc_api::{ErrorCode, Operation};

use crate::http::{ApiError, ApiRequest};
use crate::state::AppState;

/// Routes of opendlc's own that extend the PAI-DLC API (documented in docs/COMPATIBILITY.md).
pub async fn call_extension(
    state: &AppState,
    request: &mut ApiRequest,
) -> Option<Result<Response, ApiError>> {
    let segments: Vec<&str> = request.raw_path.split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["", "api", "v1", "jobs", job_id, "logs", "stream"]) if !job_id.is_empty() => {
            request.params = vec![crate::http::percent_decode(job_id)];
            Some(log_stream::stream(state, request).await)
        }
        _ => None,
    }
}

pub async fn call(
    state: &AppState,
    operation: &Operation,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    match operation.action {
        "CreateJob" => jobs::create(state, &request),
        "GetJob" => jobs::get(state, &request),
        "ListJobs" => jobs::list(state, &request),
        "UpdateJob" => jobs::update(state, &request).await,
        "StopJob" => jobs::stop(state, &request).await,
        "DeleteJob" => jobs::delete(state, &request),
        "GetPodLogs" => pods::logs(state, &request),
        "GetPodEvents" => pods::events(state, &request),
        "GetJobEvents" => job_events::get(state, &request),
        "ListEcsSpecs" => ecs_specs::list(state, &request),
        "GetJobMetrics" => metrics::get(state, &request),
        "CreateTensorboard" => tensorboards::create(state, &request).await,
        "GetTensorboard" => tensorboards::get(state, &request),
        "ListTensorboards" => tensorboards::list(state, &request),
        "StartTensorboard" => tensorboards::start(state, &request).await,
        "StopTensorboard" => tensorboards::stop(state, &request).await,
        "UpdateTensorboard" => tensorboards::update(state, &request).await,
        "DeleteTensorboard" => tensorboards::delete(state, &request).await,
        "GetTensorboardSharedUrl" => tensorboards::shared_url(state, &request),
        "GetWebTerminal" => web_terminal::get(state, &request),
        other => Err(ApiError::new(
            ErrorCode::NotImplemented,
            format!(
                "{other} is part of the PAI-DLC API but not available on this opendlc server yet."
            ),
        )),
    }
}
