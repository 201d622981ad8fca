//! GetWebTerminal: a `ws://` URL to a shell in a running pod, valid for 30 seconds; with
//! `IsShared=true` it opens once, without credentials.

use axum::response::Response;
use opendlc_api::{ErrorCode, GetWebTerminalRequest, GetWebTerminalResponseBody};
use opendlc_core::time::now_millis;
use opendlc_core::{JobStatus, PodStatus};

use super::access;
use super::query;
use crate::auth::token::{Claims, TargetType};
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;
use crate::webterminal::access::SHARED_PREFIX;
use crate::webterminal::{target_id, target_path, URL_VALID_SECONDS};

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetWebTerminalRequest::from_query(&request.query)?;
    let job_id = request.param(0);
    let pod_id = request.param(1);
    // A shell in a pod can change anything the job can: it takes the right to change the job.
    let job = access::writable_job(state, request, job_id)?;
    let pods = state.store.pods(job_id)?;
    let uid = query::text(&q.pod_uid);
    let pod = pods
        .iter()
        .filter(|p| p.pod_id == pod_id)
        .find(|p| match &uid {
            Some(uid) => &p.pod_uid == uid,
            None => p.current,
        })
        .ok_or_else(|| {
            let which = uid
                .as_deref()
                .map(|u| format!(" (PodUid {u})"))
                .unwrap_or_default();
            ApiError::new(
                ErrorCode::PodNotFound,
                format!("The job {job_id} has no pod {pod_id}{which}."),
            )
        })?;
    // A job kept after its end (JobReservedMinutes) keeps its pods' terminals.
    let kept = pod.current
        && matches!(
            job.status,
            JobStatus::SucceededReserving | JobStatus::FailedReserving
        );
    if pod.status != PodStatus::Running && !kept {
        return Err(ApiError::new(
            ErrorCode::IncorrectStatus,
            format!(
                "Pod {pod_id} is {}; a web terminal needs a Running pod (or a pod of a job \
                 kept by JobReservedMinutes).",
                pod.status.as_str()
            ),
        ));
    }
    let shared = q.is_shared.unwrap_or(false);
    let now = now_millis() / 1000;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let token = state.web_terminals.token_key.issue(&Claims {
        target_type: TargetType::WebTerminal,
        target_id: target_id(job_id, pod_id, &pod.pod_uid),
        user_id: request.caller()?.user_id().to_string(),
        iat: now,
        exp: now + URL_VALID_SECONDS,
        jti: Some(if shared {
            format!("{SHARED_PREFIX}{nonce}")
        } else {
            nonce
        }),
    });
    let url = format!(
        "{}{}?token={token}",
        state.web_terminals.base_url,
        target_path(job_id, pod_id, &pod.pod_uid)
    );
    ok(&GetWebTerminalResponseBody {
        web_terminal_url: Some(url),
        request_id: Some(request.request_id.clone()),
    })
}
