use axum::response::Response;
use opendlc_api::{CreateJobRequest, CreateJobResponseBody};
use opendlc_core::submission::{validate_create, SubmitContext};
use opendlc_core::{ids, time};

use crate::handlers::access;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// CreateJob: validate, store (acknowledged only once committed), hand to the engine.
pub async fn create(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let mut body: CreateJobRequest = request.json()?;
    let caller = request.caller()?;
    crate::sources::fill_default_mount_paths(&state.data_dir, &mut body)?;
    let ctx = SubmitContext {
        job_id: ids::new_job_id(),
        user_id: caller.user_id(),
        now: time::now_millis(),
        pool: state.pool,
        quotas: &state.quotas,
        gpu_types: &state.gpu_types,
        on_slurm: state.on_slurm,
        prices: state.prices.as_ref(),
    };
    let job = validate_create(&body, &ctx)?;
    let place = crate::sources::Place {
        workspace_id: &job.workspace_id,
        protected: &[&state.data_dir, state.jobs_dir.root()],
    };
    crate::sources::check(&state.data_dir, place, &body)?;
    super::check_nodes(state, &job)?;
    access::check_member(state, caller, &job.workspace_id)?;
    // Nothing is ignored silently: each field the request set that has no effect here
    // becomes an event of the job (the field ledger, docs/COMPATIBILITY.md).
    let mut notes = super::ignored_fields("CreateJob", &body);
    notes.extend(job.error_monitoring().notes());
    if !state.pods_have_own_view {
        for (i, role) in job.roles.iter().enumerate() {
            if role.shared_memory_mib.is_some() {
                notes.push(format!(
                    "JobSpecs[{i}].ResourceConfig.SharedMemory is not applied: pods on this \
                     server have no view of their own (it needs a server running as root on \
                     the local runtime), so they share the host's /dev/shm"
                ));
            }
        }
    }
    let job_id = job.job_id.clone();
    let (job_type, pods) = (job.job_type, job.pod_count());
    state.engine.submit(job, notes).await?;
    tracing::info!(job.id = %job_id, job.r#type = %job_type, pods, "job created");
    ok(&CreateJobResponseBody {
        job_id: Some(job_id),
        request_id: Some(request.request_id.clone()),
    })
}
