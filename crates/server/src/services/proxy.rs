//! The reverse proxy of a job's declared ports: `/services/<JobId>/<PodId>/<port>/<rest>` →
//! `http://<the pod's address>:<port>/<rest>`. Every part of the path is checked before
//! anything is sent: the job exists and the caller may read it, the pod is a current pod of
//! that job and Running, the port is one its role declared. The pod's address is the one its
//! runtime recorded (the loopback on the local runtime), never one the request names.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use opendlc_core::service::declared_ports;
use opendlc_core::time::now_millis;
use opendlc_core::{JobStatus, PodStatus};
use opendlc_store::StoreError;

use super::access::{authorize_service_access, COOKIE};
use super::prefix;
use crate::proxy::{
    database_error, error, forward, is_upgrade, keep_token, query_param, refused, tunnel,
};
use crate::state::AppState;
use crate::tensorboards::access::Access;

/// What a job's pages may do in a browser: run as pages of an origin of their own (not the
/// console's), so that what a job serves cannot act with the console's credentials.
const SANDBOX: &str = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads";

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/services/{*rest}", axum::routing::any(proxy))
        .with_state(state)
}

async fn proxy(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let rest = path.strip_prefix("/services/").unwrap_or_default();
    let mut parts = rest.splitn(4, '/');
    let (Some(job_id), Some(pod), Some(port)) = (parts.next(), parts.next(), parts.next()) else {
        return error(
            StatusCode::NOT_FOUND,
            "EntityNotFound.Service",
            "A job's port is served at /services/<JobId>/<PodId>/<port>/.",
        );
    };
    let Some(tail) = parts.next() else {
        // Relative links in the service's pages need the trailing slash.
        let to = if query.is_empty() {
            format!("{path}/")
        } else {
            format!("{path}/?{query}")
        };
        return Redirect::temporary(&to).into_response();
    };
    let job = match state.store.get_job(job_id) {
        Ok(job) => job,
        Err(StoreError::JobNotFound(_)) => return job_not_found(job_id),
        Err(e) => {
            tracing::error!(job.id = %job_id, "failed to read a job: {e}");
            return database_error();
        }
    };
    let query_token = query_param(&query, "token");
    let access =
        match authorize_service_access(
            &state,
            &job,
            request.headers(),
            crate::net::client_ip(request.extensions()),
            query_token.as_deref(),
            now_millis() / 1000,
        ) {
            Ok(access) => access,
            Err(denied) => return refused(
                denied,
                "Opening a job's port needs the server's credentials (HTTP Basic: an access key \
                 id and secret) or a token for the job (GetToken) as ?token=.",
            ),
        };
    let pods = match state.store.pods(job_id) {
        Ok(pods) => pods,
        Err(e) => {
            tracing::error!(job.id = %job_id, "failed to read the job's pods: {e}");
            return database_error();
        }
    };
    // The PodId, or the part after the JobId (`worker-0`).
    let Some(pod) = pods.into_iter().find(|p| {
        p.current && (p.pod_id == pod || p.pod_id.strip_prefix(job_id) == Some(&format!("-{pod}")))
    }) else {
        return error(
            StatusCode::NOT_FOUND,
            "EntityNotFound.Pod",
            &format!("Job {job_id} has no pod {pod}."),
        );
    };
    let declared = declared_ports(&job, pod.role);
    let port = match port.parse::<u16>() {
        Ok(port) if declared.contains(&port) => port,
        _ => {
            let declared = if declared.is_empty() {
                "none".to_string()
            } else {
                declared
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!(
                    "Port {port} is not one the {} pods of job {job_id} declare (ServiceSpec: \
                     {declared}).",
                    pod.role
                ),
            );
        }
    };
    if job.status != JobStatus::Running || pod.status != PodStatus::Running {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!(
                "Pod {} of job {job_id} is {}; its ports are served only while it is Running.",
                pod.pod_id, pod.status
            ),
        );
    }
    // Only the token leaves the query: the service does not know it.
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
    let host = pod.ip.clone().unwrap_or_else(|| "127.0.0.1".to_string());
    let upstream_path = format!("/{tail}");
    let forwarded = if is_upgrade(&request) {
        // A WebSocket (a notebook's kernel, a dashboard's live view): joined through.
        tunnel(request, (&host, port), &upstream_path, &upstream_query).await
    } else {
        let http = state.tensorboards.http.clone();
        forward(
            &http,
            request,
            (&host, port),
            &upstream_path,
            &upstream_query,
        )
        .await
    };
    let mut response = match forwarded {
        Ok(response) => response,
        Err(e) => {
            tracing::debug!(job.id = %job_id, pod.id = %pod.pod_id, port, "service proxy: {e}");
            return error(
                StatusCode::BAD_GATEWAY,
                "ServiceUnavailable",
                &format!(
                    "Pod {} of job {job_id} did not answer on port {port}: {e}",
                    pod.pod_id
                ),
            );
        }
    };
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX),
    );
    if let Access::Shared {
        token,
        claims,
        from_query: true,
    } = access
    {
        keep_token(&mut response, COOKIE, &token, claims.exp, &prefix(job_id));
    }
    response
}

fn job_not_found(job_id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "EntityNotFound.Job",
        &format!("The job {job_id} does not exist."),
    )
}
