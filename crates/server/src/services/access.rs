//! Who may open a job's ports through the proxy: [`authorize_service_access`] is the one check.
//! The rules are the job's other reads: an access key over HTTP Basic whose user may read the
//! job, or a token for the job (GetToken with TargetType=job, a dashboard link's) whose issuer
//! still may ([`honour`]).

use std::net::IpAddr;

use axum::http::HeaderMap;
use opendlc_core::Job;

use crate::auth::token::TargetType;
use crate::handlers::owned_job;
use crate::state::AppState;
use crate::tensorboards::access::{by_credentials, by_token, Access, Denied};

/// The cookie a link's token is kept in (for the job's prefix), so that the pages a service
/// serves are let in without the token in every URL.
pub const COOKIE: &str = "opendlc_service_token";

pub fn authorize_service_access(
    state: &AppState,
    job: &Job,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    query_token: Option<&str>,
    now_secs: i64,
) -> Result<Access, Denied> {
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        return by_credentials(
            &state.tensorboards.basic,
            &state.store,
            auth,
            client,
            now_secs,
            "a job's ports",
            |principal| {
                principal
                    .can_read(owned_job(job))
                    .then_some(())
                    .ok_or_else(|| {
                        format!(
                            "User {} may not read job {}.",
                            principal.user.name, job.job_id
                        )
                    })
            },
        );
    }
    by_token(
        state.auth.tokens(),
        &state.store,
        headers,
        query_token,
        COOKIE,
        now_secs,
        (TargetType::Job, &job.job_id),
        ("The token", &format!("job {}", job.job_id)),
    )
}
