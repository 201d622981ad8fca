//! Who may open a TensorBoard through the proxy: [`authorize_tensorboard_access`] is the one
//! check, so that the server's authentication (users, workspaces) plugs in here.

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::Tensorboards;
use crate::share_token::{Claims, TokenError};

/// The share-token target type of TensorBoards.
pub const TARGET_TYPE: &str = "tensorboard";
/// The cookie a shared link's token is kept in, so that the page's own requests (scripts, data)
/// are let in without the token in their URL.
pub const COOKIE: &str = "opendlc_tensorboard_token";

/// How a request was let in.
#[derive(Debug)]
pub enum Access {
    /// The server's own credentials (today: HTTP Basic with an access key id and secret).
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
}

pub fn authorize_tensorboard_access(
    tbs: &Tensorboards,
    tensorboard_id: &str,
    headers: &HeaderMap,
    query_token: Option<&str>,
    now_secs: i64,
) -> Result<Access, Denied> {
    if let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) {
        return match basic_credentials(auth.to_str().unwrap_or_default()) {
            Some((id, secret)) if id == tbs.admin_key.id && secret == tbs.admin_key.secret => {
                Ok(Access::Credentials)
            }
            _ => Err(Denied::Forbidden(
                "The access key id or secret is not valid.".into(),
            )),
        };
    }
    let (token, from_query) = match query_token {
        Some(t) => (t.to_string(), true),
        None => match cookie(headers, COOKIE) {
            Some(t) => (t, false),
            None => return Err(Denied::Unauthenticated),
        },
    };
    match tbs
        .token_key
        .verify(&token, TARGET_TYPE, tensorboard_id, now_secs)
    {
        Ok(claims) => Ok(Access::Shared {
            token,
            claims,
            from_query,
        }),
        Err(e @ (TokenError::Expired(_) | TokenError::WrongTarget { .. })) => Err(
            Denied::Forbidden(format!("The shared link is not valid here: {e}.")),
        ),
        Err(e) => Err(Denied::Forbidden(format!(
            "The shared link is not valid: {e}."
        ))),
    }
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}
