//! One module per operation group, one function per operation; [`call`] picks it.

mod access;
mod capacity;
mod dashboards;
mod ecs_specs;
mod images;
mod job_events;
mod jobs;
mod log_stream;
mod metrics;
mod pods;
mod query;
mod sanity;
mod tensorboards;
mod tokens;
mod web_terminal;
mod workspaces;

pub use access::{owned_job, owned_tensorboard};
pub use log_stream::LogStreams;

use axum::response::Response;
use opendlc_api::Action;

use crate::http::{ApiError, ApiRequest, Extension};
use crate::state::AppState;

/// The handler of each PAI-DLC operation. One arm per [`Action`] and no catch-all: an
/// operation added to the spec does not build until it has a handler here.
pub async fn call(
    state: &AppState,
    action: Action,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    match action {
        Action::CreateJob => jobs::create(state, &request).await,
        Action::GetJob => jobs::get(state, &request),
        Action::ListJobs => jobs::list(state, &request).await,
        Action::UpdateJob => jobs::update(state, &request).await,
        Action::StopJob => jobs::stop(state, &request).await,
        Action::DeleteJob => jobs::delete(state, &request).await,
        Action::GetPodLogs => pods::logs(state, &request).await,
        Action::GetPodEvents => pods::events(state, &request),
        Action::GetJobEvents => job_events::get(state, &request),
        Action::ListEcsSpecs => ecs_specs::list(state, &request),
        Action::GetJobMetrics => metrics::get(state, &request).await,
        Action::CreateTensorboard => tensorboards::create(state, &request).await,
        Action::GetTensorboard => tensorboards::get(state, &request),
        Action::ListTensorboards => tensorboards::list(state, &request),
        Action::StartTensorboard => tensorboards::start(state, &request).await,
        Action::StopTensorboard => tensorboards::stop(state, &request).await,
        Action::UpdateTensorboard => tensorboards::update(state, &request).await,
        Action::DeleteTensorboard => tensorboards::delete(state, &request).await,
        Action::GetTensorboardSharedUrl => tensorboards::shared_url(state, &request),
        Action::GetWebTerminal => web_terminal::get(state, &request),
        Action::GetToken => tokens::get(state, &request),
        Action::GetDashboard => dashboards::get(state, &request),
        Action::GetRayDashboard => dashboards::get_ray(state, &request),
        Action::GetJobSanityCheckResult => sanity::get(state, &request),
        Action::ListJobSanityCheckResults => sanity::list(state, &request),
    }
}

/// The handler of each [`Extension`], exhaustive like [`call`].
pub async fn call_extension(
    state: &AppState,
    extension: Extension,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    match extension {
        Extension::StreamJobLogs => log_stream::stream(state, &request).await,
        Extension::GetCapacity => capacity::get(state, &request),
        Extension::ListWorkspaces => workspaces::list(state, &request),
        Extension::CreateWorkspace => workspaces::create(state, &request),
        Extension::GetWorkspace => workspaces::get(state, &request),
        Extension::ListImages => images::list(state, &request).await,
    }
}
