//! GetDashboard and GetRayDashboard: links a browser can open. They answer `{"url": …}`
//! (lower-case, and no RequestId, as the spec has them).

use axum::response::Response;
use opendlc_api::{
    ErrorCode, GetDashboardRequest, GetDashboardResponseBody, GetRayDashboardRequest,
    GetRayDashboardResponseBody,
};
use opendlc_core::time::now_millis;
use opendlc_core::JobStatus;

use super::access;
use crate::auth::token::{Claims, TargetType};
use crate::http::{ok, ApiError, ApiRequest};
use crate::ray_dashboard;
use crate::state::AppState;

/// How long a dashboard link works: a private link is for the one who asked, now; a shared
/// one (`isShared=true`) for as long as a share token (GetToken's default).
const PRIVATE_LINK_SECS: i64 = 3_600;
const SHARED_LINK_SECS: i64 = 604_800;

/// GetDashboard: the job's page in the web console (`/#/jobs/{JobId}?token=…`), with a token for
/// that job in the link. The token sits in the address's fragment, which browsers never send:
/// it stays out of request lines and logs; the page reads it and sends it with its own calls.
/// The same token opens the no-JavaScript page at `/dashboard/jobs/{JobId}?token=…`.
pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetDashboardRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    let token = job_link_token(state, request, &job.job_id, q.is_shared.unwrap_or(false))?;
    let host = request.header("host").unwrap_or("127.0.0.1");
    ok(&GetDashboardResponseBody {
        url: Some(format!(
            "{}://{host}/#/jobs/{}?token={token}",
            state.scheme, job.job_id
        )),
    })
}

/// A token for links to one job's pages: for the caller, for an hour, or a week when shared;
/// a caller holding a share token gets one that ends when theirs does (a link never outlives
/// the access it came from).
fn job_link_token(
    state: &AppState,
    request: &ApiRequest,
    job_id: &str,
    shared: bool,
) -> Result<String, ApiError> {
    let caller = request.caller()?;
    let lifetime = if shared {
        SHARED_LINK_SECS
    } else {
        PRIVATE_LINK_SECS
    };
    let now = now_millis() / 1000;
    let mut exp = now + lifetime;
    if let Some(scope) = &caller.scope {
        exp = exp.min(scope.expires);
    }
    Ok(state.auth.tokens().issue(&Claims {
        exp,
        iat: now,
        user_id: caller.user_id().to_string(),
        target_id: job_id.to_string(),
        target_type: TargetType::Job,
        jti: None,
    }))
}

/// GetRayDashboard: the link to a running RayJob's head dashboard, proxied by this server at
/// `/raydashboard/{JobId}/` with a token for the job. A distributed DataJuicerJob runs on a Ray
/// cluster too (its head's ports are recorded once its pods start); other job types have none.
pub fn get_ray(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetRayDashboardRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    if !job.job_type.framework().runs_ray(&job) {
        return Err(ApiError::invalid(
            "jobId",
            format!(
                "job {} is a {}; only a RayJob or a distributed DataJuicerJob has a Ray dashboard",
                job.job_id, job.job_type
            ),
        ));
    }
    if job.status != JobStatus::Running || ray_dashboard::head_ports(state, &job.job_id).is_none() {
        return Err(ApiError::new(
            ErrorCode::IncorrectStatus,
            format!(
                "Job {} is {}; its Ray dashboard is up only while it is Running.",
                job.job_id, job.status
            ),
        ));
    }
    let token = job_link_token(state, request, &job.job_id, q.is_shared.unwrap_or(false))?;
    let host = request.header("host").unwrap_or("127.0.0.1");
    ok(&GetRayDashboardResponseBody {
        url: Some(format!(
            "{}://{host}{}/?token={token}",
            state.scheme,
            ray_dashboard::prefix(&job.job_id)
        )),
        // Ray's metrics pages need Prometheus and Grafana, which opendlc does not run.
        metrics_enabled: Some("false".into()),
    })
}
