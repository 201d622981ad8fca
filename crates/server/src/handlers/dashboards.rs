//! GetDashboard and GetRayDashboard: links a browser can open. They answer `{"url": …}`
//! (lower-case, and no RequestId, as the spec has them).

use axum::response::Response;
use opendlc_api::{
    ErrorCode, GetDashboardRequest, GetDashboardResponseBody, GetRayDashboardRequest,
};
use opendlc_core::time::now_millis;
use opendlc_core::JobType;

use super::access;
use crate::auth::token::{Claims, TargetType};
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// How long a dashboard link works: a private link is for the one who asked, now; a shared
/// one (`isShared=true`) for as long as a share token (GetToken's default).
const PRIVATE_LINK_SECS: i64 = 3_600;
const SHARED_LINK_SECS: i64 = 604_800;

/// GetDashboard: the job's page (`/dashboard/jobs/{JobId}`), with a token for that job in the
/// link.
pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetDashboardRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    let caller = request.caller()?;
    let lifetime = if q.is_shared.unwrap_or(false) {
        SHARED_LINK_SECS
    } else {
        PRIVATE_LINK_SECS
    };
    let now = now_millis() / 1000;
    let token = state.auth.tokens().issue(&Claims {
        exp: now + lifetime,
        iat: now,
        user_id: caller.user_id().to_string(),
        target_id: job.job_id.clone(),
        target_type: TargetType::Job,
        jti: None,
    });
    let host = request.header("host").unwrap_or("127.0.0.1");
    ok(&GetDashboardResponseBody {
        url: Some(format!(
            "http://{host}/dashboard/jobs/{}?token={token}",
            job.job_id
        )),
    })
}

/// GetRayDashboard: a RayJob's head dashboard. Other job types have none.
pub fn get_ray(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    GetRayDashboardRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    if job.job_type != JobType::RayJob {
        return Err(ApiError::invalid(
            "jobId",
            format!(
                "job {} is a {}; only a RayJob has a Ray dashboard",
                job.job_id, job.job_type
            ),
        ));
    }
    Err(ApiError::new(
        ErrorCode::NotImplemented,
        format!(
            "Job {} is a RayJob, but this server does not start Ray heads yet, so there is no \
             Ray dashboard to link to (docs/JOB_TYPES.md).",
            job.job_id
        ),
    ))
}
