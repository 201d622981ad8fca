//! The Ray dashboard of a running RayJob, proxied: `/raydashboard/<JobId>/…` → the job's Ray
//! head dashboard on this host's loopback, with the prefix taken off (the dashboard's pages use
//! relative paths, so they work under it). GetRayDashboard hands out the link with a token for
//! the job in it; the first request sets it as a cookie for the prefix so that the page's own
//! requests are let in, and the token's user must still be allowed to read the job.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opendlc_core::frameworks::ray::{HeadPorts, HEAD_FILE};
use opendlc_core::time::now_millis;
use opendlc_core::{JobStatus, Role};

use crate::auth::honour::honour;
use crate::auth::token::TargetType;
use crate::proxy::{cookie, error, forward, keep_token, query_param};
use crate::state::AppState;

const COOKIE: &str = "opendlc_ray_token";

/// `/raydashboard/<JobId>`: where a job's Ray dashboard is served.
pub fn prefix(job_id: &str) -> String {
    format!("/raydashboard/{job_id}")
}

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/raydashboard/{*rest}", axum::routing::any(proxy))
        .with_state(state)
}

async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let rest = path.strip_prefix("/raydashboard/").unwrap_or_default();
    let (job_id, upstream_path) = match rest.split_once('/') {
        Some((id, tail)) => (id.to_string(), format!("/{tail}")),
        None => {
            // The dashboard's relative links need the trailing slash.
            let to = if query.is_empty() {
                format!("{path}/")
            } else {
                format!("{path}/?{query}")
            };
            return Redirect::temporary(&to).into_response();
        }
    };
    let query_token = query_param(&query, "token");
    let Some(token) = query_token
        .clone()
        .or_else(|| cookie(request.headers(), COOKIE))
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "Forbidden",
            "Opening a Ray dashboard needs the link GetRayDashboard returns (it carries a token).",
        );
    };
    let now = now_millis() / 1000;
    let claims = match state.auth.tokens().verify(&token, now) {
        Ok(c) if c.target_type == TargetType::Job && c.target_id == job_id => c,
        Ok(_) => {
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "The token is for another resource.",
            )
        }
        Err(e) => {
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!("Invalid token: {e}."),
            )
        }
    };
    // The link speaks for its issuer: it works while they could read the job now.
    let (Ok(_), Ok(job)) = (honour(&state.store, &claims), state.store.get_job(&job_id)) else {
        return not_found(&job_id);
    };
    let head = head_ports(&state, &job_id);
    let (Some(head), JobStatus::Running) = (head, job.status) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!(
                "Job {job_id} is {}; its Ray dashboard is up only while it is Running.",
                job.status
            ),
        );
    };
    // Only the token leaves the query: the dashboard does not know it.
    let upstream_query: String = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "token")
        .fold(
            url::form_urlencoded::Serializer::new(String::new()),
            |mut s, (k, v)| {
                s.append_pair(&k, &v);
                s
            },
        )
        .finish();
    // The head is the job's one pod that is not a Worker; on Slurm it is on another node.
    let host = state
        .store
        .pods(&job_id)
        .ok()
        .and_then(|pods| {
            pods.into_iter()
                .find(|p| p.current && p.role != Role::Worker)
        })
        .and_then(|p| p.ip)
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let http = state.tensorboards.http.clone();
    let mut response = match forward(
        &http,
        request,
        (&host, head.dashboard),
        &upstream_path,
        &upstream_query,
    )
    .await
    {
        Ok(response) => response,
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "ServiceUnavailable",
                &format!("The Ray dashboard of job {job_id} did not answer: {e}"),
            )
        }
    };
    if query_token.is_some() {
        keep_token(&mut response, COOKIE, &token, claims.exp, &prefix(&job_id));
    }
    response
}

/// Where the job's Ray head listens, once its pods have started.
pub fn head_ports(state: &AppState, job_id: &str) -> Option<HeadPorts> {
    let bytes = std::fs::read(state.jobs_dir.ray(job_id).join(HEAD_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn not_found(job_id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "EntityNotFound.Job",
        &format!("The job {job_id} does not exist."),
    )
}
