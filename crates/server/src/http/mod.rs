//! HTTP: every request goes through [`dispatch`], which routes on the raw path (so that an
//! encoded `/` in an id never splits a segment, as the SDK's signing expects), reads the body
//! within the spec's 64 KiB limit, calls the operation's handler and wraps the outcome: a JSON
//! body with `RequestId` on success, the Alibaba error envelope on failure.

pub mod error;
mod request;
pub mod route;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use opendlc_api::{ErrorBody, ErrorCode};

pub use error::ApiError;
pub use request::ApiRequest;
pub use route::{Extension, Route};

use crate::handlers;
use crate::state::AppState;

/// CreateJob's documented body limit; no operation needs more.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(state)
}

async fn dispatch(State(state): State<AppState>, request: Request<Body>) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let result = match ApiRequest::read(request, request_id.clone()).await {
        Ok(api_request) => handle(&state, api_request).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(response) => response,
        Err(e) => error_response(e, &request_id, &host),
    }
}

async fn handle(state: &AppState, mut request: ApiRequest) -> Result<Response, ApiError> {
    let Some(route) = request.route else {
        return Err(ApiError::new(
            ErrorCode::ActionNotFound,
            format!(
                "No operation of the PAI-DLC API 2020-12-03 is {} {}.",
                request.method, request.raw_path
            ),
        ));
    };
    let (action, version) = (route.as_str(), route.version());
    if let Some(sent) = request.header("x-acs-version") {
        if sent != version {
            return Err(ApiError::new(
                ErrorCode::ActionNotFound,
                format!(
                    "{} {} is {action} of API version {version}, but the request says \
                     x-acs-version {sent}.",
                    request.method, request.raw_path
                ),
            ));
        }
    }
    let caller = state.auth.authenticate(&request, route)?;
    request.caller = Some(caller);
    tracing::debug!(action, "request");
    match route {
        Route::Dlc(action) => handlers::call(state, action, request).await,
        Route::Extension(extension) => handlers::call_extension(state, extension, request).await,
    }
}

fn error_response(e: ApiError, request_id: &str, host: &str) -> Response {
    let body = ErrorBody {
        request_id: request_id.to_string(),
        host_id: host.to_string(),
        code: e.code.as_str().to_string(),
        message: e.message,
        recommend: format!(
            "https://api.aliyun.com/troubleshoot?q={}&product=pai-dlc",
            e.code.as_str()
        ),
    };
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(secs) = e.retry_after {
        response
            .headers_mut()
            .insert("x-acs-retry-after", HeaderValue::from(secs.max(1)));
    }
    response
}

/// A success: the response body as JSON. Every operation's body carries its own RequestId
/// field, filled in by the handler.
pub fn ok<T: serde::Serialize>(body: &T) -> Result<Response, ApiError> {
    Ok(axum::Json(body).into_response())
}

/// [`ok`] for a body of about `bytes` bytes, written once into a buffer of that size (a growing
/// buffer copies a large body over and over: a week of a 100-pod job's metrics is 7 MB).
pub fn ok_sized<T: serde::Serialize>(body: &T, bytes: usize) -> Result<Response, ApiError> {
    let mut json = Vec::with_capacity(bytes);
    serde_json::to_writer(&mut json, body)
        .map_err(|e| ApiError::internal("failed to write the answer", e))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response())
}
