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

pub use access::owned_tensorboard;

use axum::response::Response;
use opendlc_api::{ErrorCode, Operation};

use crate::http::{ApiError, ApiRequest};
use crate::state::AppState;

/// A route outside the PAI-DLC 2020-12-03 operations: opendlc's own extensions and the
/// AIWorkspace (2021-02-04) calls that PAI scripts make beside DLC's (docs/COMPATIBILITY.md).
#[derive(Debug, Clone, Copy)]
pub struct Extension {
    /// The action name, as `x-acs-action` carries it and share tokens check it.
    pub action: &'static str,
    /// The API version it belongs to (`x-acs-version`).
    pub version: &'static str,
}

const DLC: &str = opendlc_api::signature::API_VERSION;
/// AIWorkspace's API version.
pub const AIWORKSPACE: &str = "2021-02-04";

/// Which extension `request` is, if any; its path parameters go into `request.params`.
pub fn resolve_extension(request: &mut ApiRequest) -> Option<Extension> {
    let segments: Vec<String> = request.raw_path.split('/').map(String::from).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (action, version, params) = match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["", "api", "v1", "jobs", job_id, "logs", "stream"]) if !job_id.is_empty() => {
            ("StreamJobLogs", DLC, vec![*job_id])
        }
        ("GET", ["", "api", "v1", "capacity"]) => ("GetCapacity", DLC, vec![]),
        ("GET", ["", "api", "v1", "workspaces"]) => ("ListWorkspaces", AIWORKSPACE, vec![]),
        ("POST", ["", "api", "v1", "workspaces"]) => ("CreateWorkspace", AIWORKSPACE, vec![]),
        ("GET", ["", "api", "v1", "workspaces", id]) if !id.is_empty() => {
            ("GetWorkspace", AIWORKSPACE, vec![*id])
        }
        ("GET", ["", "api", "v1", "images"]) => ("ListImages", AIWORKSPACE, vec![]),
        _ => return None,
    };
    request.params = params
        .into_iter()
        .map(crate::http::percent_decode)
        .collect();
    Some(Extension { action, version })
}

pub async fn call_extension(
    state: &AppState,
    extension: Extension,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    match extension.action {
        "StreamJobLogs" => log_stream::stream(state, &request).await,
        "GetCapacity" => capacity::get(state, &request),
        "ListWorkspaces" => workspaces::list(state, &request),
        "CreateWorkspace" => workspaces::create(state, &request),
        "GetWorkspace" => workspaces::get(state, &request),
        "ListImages" => images::list(state, &request).await,
        other => Err(ApiError::internal(
            "route the request",
            format!("no handler for the extension {other}"),
        )),
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
        "GetToken" => tokens::get(state, &request),
        "GetDashboard" => dashboards::get(state, &request),
        "GetRayDashboard" => dashboards::get_ray(state, &request),
        "GetJobSanityCheckResult" => sanity::get(state, &request),
        "ListJobSanityCheckResults" => sanity::list(state, &request),
        other => Err(ApiError::new(
            ErrorCode::NotImplemented,
            format!(
                "{other} is part of the PAI-DLC API but not available on this opendlc server yet."
            ),
        )),
    }
}
