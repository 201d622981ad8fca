//! One module per operation group, one function per operation; [`call`] picks it.

mod ecs_specs;
mod job_events;
mod jobs;
mod pods;
mod query;

use axum::response::Response;
use opendlc_api::{ErrorCode, Operation};

use crate::http::{ApiError, ApiRequest};
use crate::state::AppState;

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
        other => Err(ApiError::new(
            ErrorCode::NotImplemented,
            format!(
                "{other} is part of the PAI-DLC API but not available on this opendlc server yet."
            ),
        )),
    }
}
