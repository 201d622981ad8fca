use axum::response::Response;
use opendlc_api::GetJobRequest;
use opendlc_core::scheduler::{PREEMPTED, SPOT_EVICTED};
use opendlc_core::time::format_wire;
use opendlc_core::JobStatus;

use crate::handlers::access;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;
use crate::views::{job_view, Names};

/// GetJob: everything known about the job; `NeedDetail=false` leaves out pods and history.
///
/// A queued job also says why it waits, as of the scheduler's last decision: ReasonCode and
/// ReasonMessage ("needs 4 GPU, 2 free in pool public; 3 jobs ahead"), and two fields of
/// opendlc's own that the SDK ignores, `QueuePosition` (1 = next) and `EstimatedStartTime`
/// (when it can be known; see docs/SCHEDULER.md).
pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetJobRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    let detail = q.need_detail.unwrap_or(true);
    let (pods, history) = if detail {
        (
            state.store.pods(&job.job_id)?,
            state.store.status_history(&job.job_id)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let restarted = job.restart_count + job.infra_restart_count > 0;
    let restarts = if detail && restarted {
        state.store.restarts(&job.job_id)?
    } else {
        Vec::new()
    };
    let names = Names::for_job(&state.store, &job)?;
    let mut view = job_view(
        &job,
        &pods,
        &history,
        &restarts,
        &request.request_id,
        &names,
        &state.cluster_id,
    );
    let wait = matches!(job.status, JobStatus::Queuing | JobStatus::Bidding)
        .then(|| state.engine.wait_of(&job.job_id))
        .flatten();
    let Some(wait) = wait else {
        return ok(&view);
    };
    let reason = wait.reason(job.reason.as_ref());
    match reason.code.as_str() {
        PREEMPTED => view.sub_status = Some("Preempted".into()),
        SPOT_EVICTED => view.sub_status = Some("Evicted".into()),
        _ => {}
    }
    view.reason_code = Some(reason.code);
    view.reason_message = Some(reason.message);
    let mut value =
        serde_json::to_value(&view).map_err(|e| ApiError::internal("serialize the job", e))?;
    value["QueuePosition"] = wait.position.into();
    if let Some(eta) = wait.eta {
        value["EstimatedStartTime"] = format_wire(eta).into();
    }
    ok(&value)
}
