//! Who may open a TensorBoard through the proxy: [`authorize_tensorboard_access`] is the one
//! check. A browser cannot sign requests, so the proxy takes an access key over HTTP Basic (the
//! key's user must be allowed to read the TensorBoard, as for GetTensorboard) or a share token
//! for this TensorBoard (GetTensorboardSharedUrl, or GetToken with TargetType=tensorboard).

use std::net::IpAddr;

use axum::http::HeaderMap;
use opendlc_core::tensorboard::Tensorboard;

use super::Tensorboards;
use crate::auth::basic::BasicDenied;
use crate::auth::honour::honour;
use crate::auth::token::{Claims, TargetType};
use crate::handlers::owned_tensorboard;
use crate::proxy::cookie;

/// The cookie a shared link's token is kept in, so that the page's own requests (scripts, data)
/// are let in without the token in their URL.
pub const COOKIE: &str = "opendlc_tensorboard_token";

/// How a request was let in.
#[derive(Debug)]
pub enum Access {
    /// An access key whose user may read the TensorBoard.
    Credentials,
    /// A share token for this TensorBoard; `from_query` when it came in the URL (then the
    /// proxy sets the cookie).
    Shared {
        token: String,
        claims: Claims,
        from_query: bool,
    },
}

#[derive(Debug)]
pub enum Denied {
    /// No credentials and no token: ask for them.
    Unauthenticated,
    /// Wrong credentials, or a token that is expired or for another target.
    Forbidden(String),
    /// Too many wrong credentials from this address or for this key: retry after this many
    /// seconds.
    Throttled(u64),
}

pub fn authorize_tensorboard_access(
    tbs: &Tensorboards,
    tb: &Tensorboard,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    query_token: Option<&str>,
    now_secs: i64,
) -> Result<Access, Denied> {
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        let checked = tbs.basic.check(
            &tbs.store,
            client,
            auth.to_str().unwrap_or_default(),
            now_secs as f64,
        );
        return match checked {
            Ok((_, principal)) => {
                if principal.can_read(owned_tensorboard(tb)) {
                    Ok(Access::Credentials)
                } else {
                    Err(Denied::Forbidden(format!(
                        "User {} may not read TensorBoard {}.",
                        principal.user.name, tb.tensorboard_id
                    )))
                }
            }
            Err(BasicDenied::Malformed) => Err(Denied::Forbidden(
                "Only HTTP Basic credentials (access key id and secret) open a TensorBoard.".into(),
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
    let claims = tbs
        .token_key
        .verify(&token, now_secs)
        .map_err(|e| Denied::Forbidden(format!("The shared link is not valid: {e}.")))?;
    if claims.target_type != TargetType::Tensorboard || claims.target_id != tb.tensorboard_id {
        return Err(Denied::Forbidden(format!(
            "The shared link opens {} {}, not this TensorBoard.",
            claims.target_type.as_str(),
            claims.target_id
        )));
    }
    // The link speaks for its issuer: it works while they could open the TensorBoard now.
    honour(&tbs.store, &claims)
        .map_err(|w| Denied::Forbidden(format!("The shared link no longer works: {w}.")))?;
    Ok(Access::Shared {
        token,
        claims,
        from_query,
    })
}
