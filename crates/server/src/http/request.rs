//! A request as the handlers see it: its route, its decoded path parameters, query pairs and
//! body.

use axum::body::Body;
use axum::http::Request;
use opendlc_api::ErrorCode;

use crate::auth::Caller;

use super::route::Route;
use super::{ApiError, MAX_BODY_BYTES};

pub struct ApiRequest {
    pub request_id: String,
    pub method: String,
    pub raw_path: String,
    /// What the method and path call, resolved once when the request is read; `None`: nothing.
    pub route: Option<Route>,
    /// Path parameters in template order, percent-decoded.
    pub params: Vec<String>,
    /// Query pairs, percent-decoded (`+` is a space, as the SDK encodes it).
    pub query: Vec<(String, String)>,
    /// Every header, names lower-case, in arrival order (signature checks need them).
    pub headers: Vec<(String, String)>,
    pub body: axum::body::Bytes,
    /// Who is calling; set once the request is authenticated, before any handler runs.
    pub caller: Option<Caller>,
}

impl ApiRequest {
    pub async fn read(request: Request<Body>, request_id: String) -> Result<ApiRequest, ApiError> {
        let (parts, body) = request.into_parts();
        let raw_path = parts.uri.path().to_string();
        let method = parts.method.as_str().to_string();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                if crate::net::is_timeout(&e) {
                    ApiError::new(
                        ErrorCode::RequestTimeout,
                        "The request body did not arrive in time; the connection is closed.",
                    )
                } else {
                    ApiError::new(
                        ErrorCode::RequestTooLarge,
                        format!("The request body exceeds the limit of {MAX_BODY_BYTES} bytes."),
                    )
                }
            })?;
        let (route, params) = match Route::resolve(&method, &raw_path) {
            Some((route, params)) => (Some(route), params),
            None => (None, Vec::new()),
        };
        Ok(ApiRequest {
            request_id,
            method,
            raw_path,
            route,
            params,
            query,
            headers,
            body,
            caller: None,
        })
    }

    /// The authenticated caller.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller.as_ref().ok_or_else(|| {
            ApiError::internal("authenticate the request", "a handler ran without a caller")
        })
    }

    /// A header's first value (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `i`-th path parameter (routing guarantees it exists).
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or_default()
    }

    /// The body parsed as `T`; an empty body means every field is absent.
    pub fn json<T: serde::de::DeserializeOwned + serde::Serialize + Default>(
        &self,
    ) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        Ok(opendlc_api::parse_body(&self.body)?)
    }
}

pub(super) fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}
