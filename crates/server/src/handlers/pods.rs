//! GetPodLogs and GetPodEvents.

use axum::http::header::CONTENT_DISPOSITION;
use axum::http::HeaderValue;
use axum::response::Response;
use opendlc_api::{
    ContainerInfo, ErrorCode, GetPodEventsRequest, GetPodEventsResponseBody, GetPodLogsRequest,
    GetPodLogsResponseBody,
};
use opendlc_core::Pod;
use opendlc_runtime::logs::{read_log, LogQuery};

use super::{access, job_events, query};
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// Lines returned when MaxLines is absent (the documented default).
pub const DEFAULT_MAX_LINES: u64 = 2000;
const MAX_LINES_LIMIT: u64 = 1_000_000;

/// The pod incarnation a request means: the one with `pod_uid` if given, else the current one,
/// else the latest (a pod that left its elastic job, or of a job queued again).
fn find_pod(
    state: &AppState,
    request: &ApiRequest,
    job_id: &str,
    pod_id: &str,
    pod_uid: &Option<String>,
) -> Result<Pod, ApiError> {
    access::readable_job(state, request, job_id)?;
    let pods = state.store.pods(job_id)?;
    let pod_uid = query::text(pod_uid);
    let mut incarnations = pods.into_iter().filter(|p| p.pod_id == pod_id);
    let found = match &pod_uid {
        Some(uid) => incarnations.find(|p| &p.pod_uid == uid),
        None => incarnations.max_by_key(|p| (p.current, p.created)),
    };
    found.ok_or_else(|| {
        let which = pod_uid
            .map(|u| format!(" with PodUid {u}"))
            .unwrap_or_default();
        ApiError::new(
            ErrorCode::PodNotFound,
            format!("The job {job_id} has no pod {pod_id}{which}."),
        )
    })
}

/// GetPodLogs: the pod's log lines (a million at most, for a download), read and answered on a
/// blocking thread: a download of a big log takes a second, which on one of the few threads
/// that answer requests held back every other client's (GetJob beside it: 550–770 ms).
pub async fn logs(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetPodLogsRequest::from_query(&request.query)?;
    let (job_id, pod_id) = (request.param(0), request.param(1));
    let pod = find_pod(state, request, job_id, pod_id, &q.pod_uid)?;
    let download = q.download_to_file.unwrap_or(false);
    let default_lines = if download {
        MAX_LINES_LIMIT
    } else {
        DEFAULT_MAX_LINES
    };
    let log_query = LogQuery {
        max_lines: query::count(q.max_lines, "MaxLines", default_lines, MAX_LINES_LIMIT)? as usize,
        since: Some(opendlc_core::time::to_datetime(
            query::time(&q.start_time, "StartTime")?.unwrap_or_else(|| {
                opendlc_core::time::now_millis() - job_events::DEFAULT_LOOKBACK_MS
            }),
        )),
        until: query::time(&q.end_time, "EndTime")?.map(opendlc_core::time::to_datetime),
    };
    let pod_dir = state.jobs_dir.pod(job_id, &pod.pod_uid);
    let containers = Containers::of(state, job_id, &pod)?;
    let wanted = containers.wanted(q.containers.as_deref())?;
    let paths: Vec<_> = wanted
        .iter()
        .map(|name| {
            if name == MAIN_CONTAINER {
                pod_dir.join(opendlc_runtime::LOG_FILE)
            } else {
                opendlc_runtime::pod::containers::log_path(&pod_dir, name)
            }
        })
        .collect();
    let mut answer = GetPodLogsResponseBody {
        request_id: Some(request.request_id.clone()),
        job_id: Some(job_id.to_string()),
        pod_id: Some(pod_id.to_string()),
        pod_uid: Some(pod.pod_uid.clone()),
        logs: None,
        containers: Some(wanted.join(",")),
        container_info: Some(ContainerInfo {
            main_container: Some(MAIN_CONTAINER.into()),
            sidecar_containers: Some(containers.sidecars),
        }),
    };
    let mut response = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for path in &paths {
            lines.extend(
                read_log(path, &log_query)
                    .map_err(|e| ApiError::internal("read the pod's log", e))?,
            );
        }
        answer.logs = Some(lines);
        ok(&answer)
    })
    .await
    .map_err(|e| ApiError::internal("read the pod's log", e))??;
    if download {
        let disposition = format!("attachment; filename=\"{pod_id}.log.json\"");
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            response.headers_mut().insert(CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

/// What GetPodLogs calls the pod's main command (its `ContainerInfo.MainContainer`).
pub const MAIN_CONTAINER: &str = "main";

/// The containers of a pod besides its main command (its role's ExtraPodSpec).
struct Containers {
    init: Vec<String>,
    sidecars: Vec<String>,
}

impl Containers {
    fn of(state: &AppState, job_id: &str, pod: &Pod) -> Result<Self, ApiError> {
        let job = state.store.get_job(job_id)?;
        let extras = job
            .roles
            .iter()
            .find(|r| r.role == pod.role)
            .map(|r| &r.extras);
        let names = |list: &[opendlc_core::containers::Container]| -> Vec<String> {
            list.iter().map(|c| c.name.clone()).collect()
        };
        Ok(Containers {
            init: extras.map(|e| names(&e.init)).unwrap_or_default(),
            sidecars: extras.map(|e| names(&e.sidecars)).unwrap_or_default(),
        })
    }

    /// The containers `Containers` names (comma-separated; the main one when empty), each
    /// checked.
    fn wanted(&self, asked: Option<&str>) -> Result<Vec<String>, ApiError> {
        let asked: Vec<&str> = asked
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if asked.is_empty() {
            return Ok(vec![MAIN_CONTAINER.to_string()]);
        }
        let known: Vec<&str> = std::iter::once(MAIN_CONTAINER)
            .chain(self.init.iter().map(String::as_str))
            .chain(self.sidecars.iter().map(String::as_str))
            .collect();
        asked
            .into_iter()
            .map(|name| {
                if known.contains(&name) {
                    Ok(name.to_string())
                } else {
                    Err(ApiError::invalid(
                        "Containers",
                        format!(
                            "the pod has no container \"{name}\"; it has {}",
                            known.join(", ")
                        ),
                    ))
                }
            })
            .collect()
    }
}

pub fn events(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetPodEventsRequest::from_query(&request.query)?;
    let (job_id, pod_id) = (request.param(0), request.param(1));
    let pod = find_pod(state, request, job_id, pod_id, &q.pod_uid)?;
    // A PodUid names one incarnation: the events of its lifetime.
    let window = match query::text(&q.pod_uid) {
        Some(_) => (Some(pod.created), pod.finished),
        None => (None, None),
    };
    let events = job_events::read_events(
        state,
        job_id,
        Some(pod_id),
        q.max_events_num,
        &q.start_time,
        &q.end_time,
        window,
    )?;
    ok(&GetPodEventsResponseBody {
        request_id: Some(request.request_id.clone()),
        job_id: Some(job_id.to_string()),
        pod_id: Some(pod_id.to_string()),
        pod_uid: Some(pod.pod_uid),
        events: Some(events),
    })
}
