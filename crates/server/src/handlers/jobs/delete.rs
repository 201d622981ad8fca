use axum::response::Response;
use opendlc_api::{DeleteJobResponseBody, ErrorCode};
use opendlc_core::JobStatus;

use crate::handlers::access;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// DeleteJob: only a finished job; its records, logs and working directory go with it.
pub async fn delete(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let job = access::writable_job(state, request, request.param(0))?;
    if !job.status.is_terminal() {
        return Err(ApiError::new(
            ErrorCode::IncorrectStatus,
            refusal(&job.job_id, job.status),
        ));
    }
    // A long run's metrics take the store many short transactions to delete: on a blocking
    // thread, not on one of the few that answer requests.
    let (store, job_id) = (state.store.clone(), job.job_id.clone());
    tokio::task::spawn_blocking(move || store.delete_job(&job_id))
        .await
        .map_err(|e| ApiError::internal("delete the job", e))??;
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

/// Why a job that has not ended cannot be deleted, and what to do about it. A job just stopped
/// is still Stopping while its pods end: deleting it needs only a wait, not another stop.
fn refusal(job_id: &str, status: JobStatus) -> String {
    match status {
        JobStatus::Stopping => format!(
            "Job {job_id} can't be deleted yet: it is Stopping, and can be deleted once it is \
             Stopped."
        ),
        status => format!("Job {job_id} can't be deleted, because it is {status}; stop it first."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopping_job_is_said_to_need_only_a_wait() {
        assert_eq!(
            refusal("dlc1", JobStatus::Stopping),
            "Job dlc1 can't be deleted yet: it is Stopping, and can be deleted once it is Stopped."
        );
        assert_eq!(
            refusal("dlc1", JobStatus::Running),
            "Job dlc1 can't be deleted, because it is Running; stop it first."
        );
    }
}
