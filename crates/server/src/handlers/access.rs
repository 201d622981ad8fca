//! The access rules applied to one request: which jobs its caller may read or change
//! (`opendlc_core::identity` has the rules; this looks the resources up).

use opendlc_core::identity::{Owned, WorkspaceRole};
use opendlc_core::tensorboard::Tensorboard;
use opendlc_core::Job;
use opendlc_store::Visibility;

use crate::auth::Caller;
use crate::http::{ApiError, ApiRequest};
use crate::state::AppState;

pub fn owned_job(job: &Job) -> Owned<'_> {
    Owned {
        owner_id: &job.user_id,
        workspace_id: &job.workspace_id,
        accessibility: &job.accessibility,
    }
}

/// The job, if the caller may read it; a job they may not see is answered like a missing
/// one, so ids cannot be probed.
pub fn readable_job(state: &AppState, request: &ApiRequest, job_id: &str) -> Result<Job, ApiError> {
    let caller = request.caller()?;
    let job = state.store.get_job(job_id)?;
    if caller.can_read(owned_job(&job)) {
        Ok(job)
    } else {
        Err(ApiError::job_not_found(job_id))
    }
}

/// The job, if the caller may change it (its creator, a workspace admin, a server admin).
pub fn writable_job(state: &AppState, request: &ApiRequest, job_id: &str) -> Result<Job, ApiError> {
    let job = readable_job(state, request, job_id)?;
    let caller = request.caller()?;
    if caller.can_write(owned_job(&job)) {
        Ok(job)
    } else {
        Err(ApiError::forbidden(format!(
            "Only the creator of job {job_id} or an admin of workspace {} may change it.",
            job.workspace_id
        )))
    }
}

/// Checks that the caller may create resources in the workspace.
pub fn check_member(state: &AppState, caller: &Caller, workspace_id: &str) -> Result<(), ApiError> {
    if state.store.workspace(workspace_id)?.is_none() {
        return Err(ApiError::new(
            opendlc_api::ErrorCode::WorkspaceNotFound,
            format!("The workspace {workspace_id} does not exist."),
        ));
    }
    if caller.scope.is_some() || !caller.principal.is_member(workspace_id) {
        return Err(ApiError::forbidden(format!(
            "User {} is not a member of workspace {workspace_id}.",
            caller.principal.user.name
        )));
    }
    Ok(())
}

/// The TensorBoard, if the caller may read it (one they may not see is answered like a missing
/// one).
pub fn readable_tensorboard(
    state: &AppState,
    request: &ApiRequest,
    tensorboard_id: &str,
) -> Result<Tensorboard, ApiError> {
    let caller = request.caller()?;
    match state.store.get_tensorboard(tensorboard_id)? {
        Some(tb) if caller.can_read(owned_tensorboard(&tb)) => Ok(tb),
        _ => Err(ApiError::new(
            opendlc_api::ErrorCode::TensorboardNotFound,
            format!("The TensorBoard {tensorboard_id} does not exist."),
        )),
    }
}

/// The TensorBoard, if the caller may change it (its creator, a workspace admin, a server admin).
pub fn writable_tensorboard(
    state: &AppState,
    request: &ApiRequest,
    tensorboard_id: &str,
) -> Result<Tensorboard, ApiError> {
    let tb = readable_tensorboard(state, request, tensorboard_id)?;
    if request.caller()?.can_write(owned_tensorboard(&tb)) {
        Ok(tb)
    } else {
        Err(ApiError::forbidden(format!(
            "Only the creator of TensorBoard {tensorboard_id} or an admin of workspace {} may change it.",
            tb.workspace_id
        )))
    }
}

pub fn owned_tensorboard(tb: &Tensorboard) -> Owned<'_> {
    Owned {
        owner_id: &tb.user_id,
        workspace_id: &tb.workspace_id,
        accessibility: &tb.accessibility,
    }
}

/// What the caller may read, as a filter of ListJobs and ListTensorboards: their own, what
/// their workspaces hold when they administer them, the PUBLIC ones of their workspaces; `None`
/// for a server administrator, who reads everything.
pub fn visibility(caller: &Caller) -> Option<Visibility> {
    let principal = &caller.principal;
    if principal.user.is_admin {
        return None;
    }
    let in_role = |role: WorkspaceRole| {
        principal
            .workspaces
            .iter()
            .filter(|(_, r)| **r >= role)
            .map(|(w, _)| w.clone())
            .collect()
    };
    Some(Visibility {
        user_id: principal.user.user_id.clone(),
        member_of: in_role(WorkspaceRole::Member),
        admin_of: in_role(WorkspaceRole::Admin),
    })
}
