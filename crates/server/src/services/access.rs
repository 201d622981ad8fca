//! Who may open a job's ports through the proxy: [`authorize_service_access`] is the one check.
//! The rules are the job's other reads: an access key over HTTP Basic whose user may read the
//! job, or a token for the job (GetToken with TargetType=job, a dashboard link's) whose issuer
//! still may ([`honour`]).

use std::net::IpAddr;

use axum::http::HeaderMap;
use opendlc_core::Job;

use crate::auth::basic::BasicDenied;
use crate::auth::honour::honour;
use crate::auth::token::TargetType;
use crate::handlers::owned_job;
use crate::proxy::cookie;
use crate::state::AppState;
use crate::tensorboards::access::{Access, Denied};

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
        let checked = state.tensorboards.basic.check(
            &state.store,
            client,
            auth.to_str().unwrap_or_default(),
            now_secs as f64,
        );
        return match checked {
            Ok((_, principal)) if principal.can_read(owned_job(job)) => Ok(Access::Credentials),
            Ok((_, principal)) => Err(Denied::Forbidden(format!(
                "User {} may not read job {}.",
                principal.user.name, job.job_id
            ))),
            Err(BasicDenied::Malformed) => Err(Denied::Forbidden(
                "Only HTTP Basic credentials (access key id and secret) open a job's ports.".into(),
            )),
            Err(BasicDenied::JobKey) => Err(Denied::Forbidden(
                "A job's own access key works through the API, for its job only.".into(),
            )),
            Err(BasicDenied::Invalid) => Err(Denied::Forbidden(
                "The access key id or secret is not valid.".into(),
            )),
            Err(BasicDenied::Throttled(secs)) => Err(Denied::Throttled(secs)),
        };
    }
    let (token, from_query) = match query_token {
        Some(t) => (t.to_string(), true),
        None => match cookie(headers, COOKIE) {
            Some(t) => (t, false),
            None => return Err(Denied::Unauthenticated),
        },
    };
    let claims = state
        .auth
        .tokens()
        .verify(&token, now_secs)
        .map_err(|e| Denied::Forbidden(format!("The token is not valid: {e}.")))?;
    if claims.target_type != TargetType::Job || claims.target_id != job.job_id {
        return Err(Denied::Forbidden(format!(
            "The token opens {} {}, not job {}.",
            claims.target_type.as_str(),
            claims.target_id,
            job.job_id
        )));
    }
    // The token speaks for its issuer: it works while they could read the job now.
    honour(&state.store, &claims)
        .map_err(|w| Denied::Forbidden(format!("The token no longer works: {w}.")))?;
    Ok(Access::Shared {
        token,
        claims,
        from_query,
    })
}
