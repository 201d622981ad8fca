use axum::response::Response;
use opendlc_api::{DeleteJobResponseBody, ErrorCode};

use crate::handlers::access;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// DeleteJob: only a finished job; its records, logs and working directory go with it.
pub fn delete(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let job = access::writable_job(state, request, request.param(0))?;
    if !job.status.is_terminal() {
        return Err(ApiError::new(
            ErrorCode::IncorrectStatus,
            format!(
                "Job {} can't be deleted, because it is {}; stop it first.",
                job.job_id, job.status
            ),
        ));
    }
    state.store.delete_job(&job.job_id)?;
    let dir = state.jobs_dir.job(&job.job_id);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %dir.display(), "failed to remove a deleted job's files: {e}");
            }
        }
    });
    ok(&DeleteJobResponseBody {
        job_id: Some(job.job_id),
        request_id: Some(request.request_id.clone()),
    })
}
