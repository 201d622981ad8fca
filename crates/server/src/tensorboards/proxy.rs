//! The reverse proxy: `/tensorboard/<TensorboardId>/…` → the TensorBoard's own tensorboard
//! process on 127.0.0.1 (started with `--path_prefix /tensorboard/<TensorboardId>`, so paths
//! pass through unchanged). Responses are buffered (TensorBoard's largest, its script bundle,
//! is a few MiB).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opendlc_core::tensorboard::TensorboardStatus;
use opendlc_core::time::now_millis;

use super::access::{authorize_tensorboard_access, Access, Denied, COOKIE};
use super::Tensorboards;

/// Request bodies tensorboard needs are tiny (plugin queries); this bounds them.
const MAX_REQUEST_BODY: usize = 1024 * 1024;
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// `/tensorboard/<id>`: the path prefix of a TensorBoard.
pub fn prefix(id: &str) -> String {
    format!("/tensorboard/{id}")
}

pub fn router(tbs: Arc<Tensorboards>) -> axum::Router {
    axum::Router::new()
        .route("/tensorboard/{*rest}", axum::routing::any(proxy))
        .with_state(tbs)
}

async fn proxy(State(tbs): State<Arc<Tensorboards>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let id = path
        .strip_prefix("/tensorboard/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let query_token = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let tb = match tbs.store.get_tensorboard(&id) {
        Ok(Some(tb)) => tb,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "EntityNotFound.Tensorboard",
                &format!("The TensorBoard {id} does not exist."),
            )
        }
        Err(e) => {
            tracing::error!("failed to read a TensorBoard: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "The server failed to read its database; see its log.",
            );
        }
    };
    let access = match authorize_tensorboard_access(
        &tbs,
        &tb,
        request.headers(),
        query_token.as_deref(),
        now_millis() / 1000,
    ) {
        Ok(access) => access,
        Err(Denied::Unauthenticated) => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "Forbidden",
                "Opening a TensorBoard needs the server's credentials (HTTP Basic: an access key id and secret) or a shared link (GetTensorboardSharedUrl).",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"opendlc\""),
            );
            return response;
        }
        Err(Denied::Forbidden(message)) => {
            return error(StatusCode::FORBIDDEN, "Forbidden", &message);
        }
    };
    let (Some(port), TensorboardStatus::Running) = (tb.port, tb.status) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!("The TensorBoard {id} is {}, not Running.", tb.status),
        );
    };
    let mut response = match forward(&tbs, request, port, &path, &query).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(tensorboard.id = %id, "proxy: {e}");
            return error(
                StatusCode::BAD_GATEWAY,
                "ServiceUnavailable",
                &format!("The TensorBoard {id} did not answer: {e}"),
            );
        }
    };
    if let Access::Shared {
        token,
        claims,
        from_query: true,
    } = access
    {
        let max_age = (claims.exp - now_millis() / 1000).max(0);
        let cookie = format!(
            "{COOKIE}={token}; Path={}/; Max-Age={max_age}; HttpOnly; SameSite=Lax",
            prefix(&id)
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn forward(
    tbs: &Tensorboards,
    request: Request,
    port: u16,
    path: &str,
    query: &str,
) -> Result<Response, String> {
    let url = if query.is_empty() {
        format!("http://127.0.0.1:{port}{path}")
    } else {
        format!("http://127.0.0.1:{port}{path}?{query}")
    };
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_REQUEST_BODY)
        .await
        .map_err(|e| format!("failed to read the request body: {e}"))?;
    let method =
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).map_err(|e| e.to_string())?;
    let mut upstream = tbs.http.request(method, url).body(body);
    for (name, value) in &parts.headers {
        let name = name.as_str();
        if HOP_BY_HOP.contains(&name) || name == "authorization" || name == "cookie" {
            continue;
        }
        upstream = upstream.header(name, value.as_bytes());
    }
    let answer = upstream.send().await.map_err(|e| e.to_string())?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = Vec::new();
    for (name, value) in answer.headers() {
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.push((n, v));
        }
    }
    let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (n, v) in headers {
        response.headers_mut().append(n, v);
    }
    Ok(response)
}

/// An error in the API's envelope.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = opendlc_api::ErrorBody {
        request_id: uuid::Uuid::new_v4().to_string().to_uppercase(),
        host_id: String::new(),
        code: code.to_string(),
        message: message.to_string(),
        recommend: String::new(),
    };
    (status, axum::Json(body)).into_response()
}
