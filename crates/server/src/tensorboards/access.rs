//! Who may open a TensorBoard through the proxy: [`authorize_tensorboard_access`] is the one
//! check. A browser cannot sign requests, so the proxy takes an access key over HTTP Basic (the
//! key's user must be allowed to read the TensorBoard, as for GetTensorboard) or a share token
//! for this TensorBoard (GetTensorboardSharedUrl, or GetToken with TargetType=tensorboard).

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use opendlc_core::identity::Principal;
use opendlc_core::tensorboard::Tensorboard;
use opendlc_store::Store;

use super::Tensorboards;
use crate::auth::basic::{BasicDenied, BasicGuard};
use crate::auth::honour::honour;
use crate::auth::token::{Claims, TargetType, TokenKey};
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
        return by_credentials(
            &tbs.basic,
            &tbs.store,
            auth,
            client,
            now_secs,
            "a TensorBoard",
            |principal| {
                principal
                    .can_read(owned_tensorboard(tb))
                    .then_some(())
                    .ok_or_else(|| {
                        format!(
                            "User {} may not read TensorBoard {}.",
                            principal.user.name, tb.tensorboard_id
                        )
                    })
            },
        );
    }
    by_token(
        &tbs.token_key,
        &tbs.store,
        headers,
        query_token,
        COOKIE,
        now_secs,
        (TargetType::Tensorboard, &tb.tensorboard_id),
        ("The shared link", "this TensorBoard"),
    )
}

/// HTTP Basic credentials on a proxied page: let in when their user `may` see it (else its
/// refusal); `what` names the page in the other refusals ("a TensorBoard", "a job's ports").
pub fn by_credentials(
    basic: &BasicGuard,
    store: &Store,
    header: &HeaderValue,
    client: Option<IpAddr>,
    now_secs: i64,
    what: &str,
    may: impl FnOnce(&Principal) -> Result<(), String>,
) -> Result<Access, Denied> {
    match basic.check(
        store,
        client,
        header.to_str().unwrap_or_default(),
        now_secs as f64,
    ) {
        Ok((_, principal)) => may(&principal)
            .map(|()| Access::Credentials)
            .map_err(Denied::Forbidden),
        Err(BasicDenied::Malformed) => Err(Denied::Forbidden(format!(
            "Only HTTP Basic credentials (access key id and secret) open {what}."
        ))),
        Err(BasicDenied::JobKey) => Err(Denied::Forbidden(
            "A job's own access key works through the API, for its job only.".into(),
        )),
        Err(BasicDenied::Invalid) => Err(Denied::Forbidden(
            "The access key id or secret is not valid.".into(),
        )),
        Err(BasicDenied::Throttled(secs)) => Err(Denied::Throttled(secs)),
    }
}

/// A share token for a proxied page's `target` — in the URL, else in the page's cookie
/// `cookie_name` — that its issuer could still use now ([`honour`]). `naming`: what the token
/// is called and what the page is, for the refusals ("The shared link", "this TensorBoard").
#[allow(clippy::too_many_arguments)]
pub fn by_token(
    key: &TokenKey,
    store: &Store,
    headers: &HeaderMap,
    query_token: Option<&str>,
    cookie_name: &str,
    now_secs: i64,
    target: (TargetType, &str),
    naming: (&str, &str),
) -> Result<Access, Denied> {
    let (token_is, page) = naming;
    let (token, from_query) = match query_token {
        Some(t) => (t.to_string(), true),
        None => match cookie(headers, cookie_name) {
            Some(t) => (t, false),
            None => return Err(Denied::Unauthenticated),
        },
    };
    let claims = key
        .verify(&token, now_secs)
        .map_err(|e| Denied::Forbidden(format!("{token_is} is not valid: {e}.")))?;
    if claims.target_type != target.0 || claims.target_id != target.1 {
        return Err(Denied::Forbidden(format!(
            "{token_is} opens {} {}, not {page}.",
            claims.target_type.as_str(),
            claims.target_id
        )));
    }
    // The token speaks for its issuer: it works while they could open the page now.
    honour(store, &claims)
        .map_err(|w| Denied::Forbidden(format!("{token_is} no longer works: {w}.")))?;
    Ok(Access::Shared {
        token,
        claims,
        from_query,
    })
}
