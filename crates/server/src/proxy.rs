//! Forwarding a browser's request to a web UI that a job or TensorBoard runs on this host's
//! loopback (TensorBoard, the Ray dashboard, a job's declared ports), for the reverse proxies in
//! front of them.
//! Responses are streamed through as they come (a download, an event stream); request bodies
//! are read whole, up to a bound.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::tensorboards::access::Denied;

/// Request bodies these UIs send are small (plugin queries, API calls); this bounds them.
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

/// Sends `request` to `http://127.0.0.1:{port}{path}?{query}` and returns its answer. The
/// caller's credentials (Authorization, cookies) are for this server and are not passed on.
pub async fn forward(
    http: &reqwest::Client,
    request: Request,
    (host, port): (&str, u16),
    path: &str,
    query: &str,
) -> Result<Response, String> {
    let url = if query.is_empty() {
        format!("http://{host}:{port}{path}")
    } else {
        format!("http://{host}:{port}{path}?{query}")
    };
    // Nothing the request names (its path, its query) may move the request to another host
    // or port than the one the caller checked.
    let parsed = url::Url::parse(&url).map_err(|e| format!("not a valid address: {e}"))?;
    let same_host = parsed
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(host));
    if !same_host || parsed.port_or_known_default() != Some(port) {
        return Err(format!("{url} is not on {host}:{port}"));
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_REQUEST_BODY)
        .await
        .map_err(|e| format!("failed to read the request body: {e}"))?;
    let method =
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).map_err(|e| e.to_string())?;
    let mut upstream = http.request(method, url).body(body);
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
    // Streamed as it comes: a page's large download or a service's event stream is neither
    // held in the server's memory whole nor delayed until it ends.
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    for (n, v) in headers {
        response.headers_mut().append(n, v);
    }
    Ok(response)
}

/// Whether `request` asks to switch protocols (a WebSocket's handshake).
pub fn is_upgrade(request: &Request) -> bool {
    let connection = request
        .headers()
        .get_all(axum::http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    connection && request.headers().contains_key(axum::http::header::UPGRADE)
}

/// The longest answer head a tunnelled handshake may have.
const MAX_UPGRADE_HEAD: usize = 64 * 1024;

/// A protocol switch (a WebSocket) through to `host:port`: the request's head is sent on a
/// connection of its own (without the caller's credentials, as [`forward`] does), and if the
/// upstream switches (101), the caller's connection and that one are joined both ways until
/// either closes. Any other answer is returned as it is.
pub async fn tunnel(
    mut request: Request,
    (host, port): (&str, u16),
    path: &str,
    query: &str,
) -> Result<Response, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let caller = hyper::upgrade::on(&mut request);
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nhost: {host}:{port}\r\n",
        request.method()
    );
    for (name, value) in request.headers() {
        let name = name.as_str();
        if matches!(name, "host" | "authorization" | "cookie" | "content-length") {
            continue;
        }
        let value = value
            .to_str()
            .map_err(|_| format!("the header {name} is not text"))?;
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut upstream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("failed to connect to {host}:{port}: {e}"))?;
    upstream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // The answer's head, and whatever came after it in the same reads.
    let mut read = Vec::new();
    let (status, headers, used) = loop {
        let mut chunk = [0u8; 8192];
        let n = upstream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the upstream closed the connection before answering".into());
        }
        read.extend_from_slice(&chunk[..n]);
        let mut parsed = [httparse::EMPTY_HEADER; 64];
        let mut answer = httparse::Response::new(&mut parsed);
        match answer.parse(&read).map_err(|e| e.to_string())? {
            httparse::Status::Complete(used) => {
                let status = StatusCode::from_u16(answer.code.unwrap_or(502))
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                let headers: Vec<(HeaderName, HeaderValue)> = answer
                    .headers
                    .iter()
                    .filter_map(|h| {
                        Some((
                            HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                            HeaderValue::from_bytes(h.value).ok()?,
                        ))
                    })
                    .collect();
                break (status, headers, used);
            }
            httparse::Status::Partial if read.len() < MAX_UPGRADE_HEAD => {}
            httparse::Status::Partial => {
                return Err("the upstream's answer head is too long".into())
            }
        }
    };
    let mut rest = read.split_off(used);
    if status != StatusCode::SWITCHING_PROTOCOLS {
        // Not switched (a refusal): its body, as long as it says, up to a bound.
        let length = headers
            .iter()
            .find(|(n, _)| n == axum::http::header::CONTENT_LENGTH)
            .and_then(|(_, v)| v.to_str().ok()?.parse::<usize>().ok())
            .unwrap_or(rest.len())
            .min(MAX_UPGRADE_HEAD);
        while rest.len() < length {
            let mut chunk = [0u8; 8192];
            match upstream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => rest.extend_from_slice(&chunk[..n]),
            }
        }
        rest.truncate(length);
    }
    let body = match status {
        StatusCode::SWITCHING_PROTOCOLS => Body::empty(),
        _ => Body::from(std::mem::take(&mut rest)),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (n, v) in headers {
        if status != StatusCode::SWITCHING_PROTOCOLS
            && matches!(
                n.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            )
        {
            continue;
        }
        response.headers_mut().append(n, v);
    }
    if status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response);
    }
    tokio::spawn(async move {
        let Ok(caller) = caller.await else {
            return;
        };
        let mut caller = hyper_util::rt::TokioIo::new(caller);
        if caller.write_all(&rest).await.is_ok() {
            let _ = tokio::io::copy_bidirectional(&mut caller, &mut upstream).await;
        }
    });
    Ok(response)
}

/// Keeps a share token that came in the URL as the cookie `name` for the page's `path` (its
/// prefix, without the trailing slash) until `expires` (Unix seconds), so that the page's own
/// requests are let in without it.
pub fn keep_token(response: &mut Response, name: &str, token: &str, expires: i64, path: &str) {
    let max_age = (expires - opendlc_core::time::now_millis() / 1000).max(0);
    let cookie = format!("{name}={token}; Path={path}/; Max-Age={max_age}; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
}

/// The answer when the store could not be read (the error is in the server's log).
pub fn database_error() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "The server failed to read its database; see its log.",
    )
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The value of query parameter `name`, if present.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The answer to a request a proxied page's check refused; `needs` says, to a caller who sent
/// nothing, what would let them in.
pub fn refused(denied: Denied, needs: &str) -> Response {
    match denied {
        Denied::Unauthenticated => {
            let mut response = error(StatusCode::UNAUTHORIZED, "Forbidden", needs);
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"opendlc\""),
            );
            response
        }
        Denied::Forbidden(message) => error(StatusCode::FORBIDDEN, "Forbidden", &message),
        Denied::Throttled(secs) => throttled(secs),
    }
}

/// 429 with `Retry-After`: too many wrong HTTP Basic credentials (see `auth::basic`).
pub fn throttled(retry_after_secs: u64) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Throttling",
        &format!(
            "Too many wrong credentials from this address or for this access key; retry after \
             {retry_after_secs} s."
        ),
    );
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs),
    );
    response
}

/// An error in the API's envelope.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = opendlc_api::ErrorBody {
        request_id: uuid::Uuid::new_v4().to_string().to_uppercase(),
        host_id: String::new(),
        code: code.to_string(),
        message: message.to_string(),
        recommend: String::new(),
    };
    (status, axum::Json(body)).into_response()
}
