//! The web console (docs/CONSOLE.md): a single-page app served at `/`, its files embedded in
//! the binary. It holds no server-side logic of its own: the pages sign their requests in the
//! browser and use the public API (plus the log stream and capacity extensions), so the console
//! never shows more than its user could fetch with their key. Beside the API it reads one thing
//! the server makes for it: the job types its submit form offers (`job_types`).

mod assets;
mod job_types;

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tower::ServiceExt;

use assets::Asset;

/// What the page may load and where it may connect: only this server (the web terminal's
/// WebSocket included). No inline script, no other origin, never framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'self'";

/// The console's routes in front of `api`, which answers everything else — and `/` when the
/// request is an API call (it has `Authorization` or `x-acs-*` headers): a client whose endpoint
/// points at the root gets the API's JSON error, which it can read, not a page.
pub fn router(api: axum::Router) -> axum::Router {
    let root_api = api.clone();
    axum::Router::new()
        .route(
            "/",
            any(move |request: Request| root(request, root_api.clone())),
        )
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/job-types.json", get(job_types::serve))
        .route("/console/{*path}", get(file))
        .fallback_service(api)
}

async fn root(request: Request, api: axum::Router) -> Response {
    let browser =
        matches!(*request.method(), Method::GET | Method::HEAD) && !is_api_call(request.headers());
    if browser {
        return serve(assets::find("index.html"), request.headers());
    }
    match api.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn is_api_call(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || headers
            .keys()
            .any(|name| name.as_str().starts_with("x-acs-"))
}

async fn index(headers: HeaderMap) -> Response {
    serve(assets::find("index.html"), &headers)
}

async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(assets::find(&path), &headers)
}

fn serve(asset: Option<&'static Asset>, request: &HeaderMap) -> Response {
    let Some(asset) = asset else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "No such file in the console.\n",
        )
            .into_response();
    };
    let etag = asset.etag();
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Revalidate every time (cheap, with the ETag): a new server version shows at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Share links carry a token: never hand the page's address to another site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
