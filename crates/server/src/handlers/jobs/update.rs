use axum::response::Response;
use opendlc_api::{ErrorCode, UpdateJobRequest, UpdateJobResponseBody};
use opendlc_core::secrets;
use opendlc_core::submission::apply_update;

use crate::handlers::access;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// UpdateJob: Priority, Accessibility and Description of an unfinished job; JobSpecs and
/// UserCommand only while it has not started.
pub async fn update(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let body: UpdateJobRequest = request.json()?;
    let mut job = access::writable_job(state, request, request.param(0))?;
    if job.status.is_terminal() {
        return Err(ApiError::new(
            ErrorCode::IncorrectStatus,
            format!(
                "Job {} can't be updated, because it is {}.",
                job.job_id, job.status
            ),
        ));
    }
    let before = job.request.clone();
    let specs_changed = apply_update(
        &mut job,
        &body,
        state.pool,
        &state.quotas,
        &state.gpu_types,
        state.prices.as_ref(),
    )?;
    if specs_changed {
        // New JobSpecs may name host paths (LocalMountSpecs): granted as at creation.
        let place = crate::sources::Place {
            workspace_id: &job.workspace_id,
            protected: &[&state.data_dir, state.jobs_dir.root()],
        };
        crate::sources::check(&state.data_dir, place, &job.request)?;
        super::check_nodes(state, &job)?;
    }
    secrets::keep_redacted(&before, &mut job.request);
    let job = state.engine.update(job, specs_changed).await?;
    for note in super::ignored_fields("UpdateJob", &body) {
        if let Err(e) = state.store.add_event(&job.job_id, &note) {
            tracing::warn!(job.id = %job.job_id, "failed to record an event: {e}");
        }
    }
    ok(&UpdateJobResponseBody {
        job_id: Some(job.job_id),
        request_id: Some(request.request_id.clone()),
    })
}
