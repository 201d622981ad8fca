//! Who may open a web terminal: the URL's token (from GetWebTerminal, valid 30 s) and either the
//! server's credentials (HTTP Basic with an access key) or, for a shared URL, nothing more — but
//! then only once.

use axum::http::HeaderMap;

use super::WebTerminals;
use crate::auth::token::{Claims, TargetType};
use crate::tensorboards::access::basic_credentials;

/// The `jti` prefix of a shared (single-use, credential-free) terminal token.
pub const SHARED_PREFIX: &str = "shared-";

#[derive(Debug)]
pub enum Denied {
    Unauthenticated(String),
    Forbidden(String),
}

/// The claims of a token that lets this request open the terminal of `target_id`.
pub fn authorize_web_terminal_access(
    wt: &WebTerminals,
    target_id: &str,
    headers: &HeaderMap,
    token: Option<&str>,
    now: i64,
) -> Result<Claims, Denied> {
    let token = token.ok_or_else(|| {
        Denied::Unauthenticated("The URL has no token; ask GetWebTerminal for one.".into())
    })?;
    let claims = wt
        .token_key
        .verify(token, now)
        .map_err(|e| Denied::Forbidden(format!("The web terminal URL is not valid: {e}.")))?;
    if claims.target_type != TargetType::WebTerminal || claims.target_id != target_id {
        return Err(Denied::Forbidden(
            "The web terminal URL is for another pod.".into(),
        ));
    }
    let shared = claims
        .jti
        .as_deref()
        .is_some_and(|j| j.starts_with(SHARED_PREFIX));
    if shared {
        let jti = claims.jti.as_deref().unwrap_or_default();
        if !wt.use_once(jti, claims.exp, now) {
            return Err(Denied::Forbidden(
                "The shared web terminal URL was already used; it opens once.".into(),
            ));
        }
        return Ok(claims);
    }
    match headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials)
    {
        Some((id, secret)) => match wt.store.key_owner(&id).ok().flatten() {
            // The URL opens for the user who asked for it (or a server admin).
            Some((key, principal))
                if key.secret == secret
                    && key.revoked.is_none()
                    && (principal.user.user_id == claims.user_id || principal.user.is_admin) =>
            {
                Ok(claims)
            }
            Some((key, _)) if key.secret == secret => Err(Denied::Forbidden(
                "This web terminal URL was issued to another user.".into(),
            )),
            _ => Err(Denied::Forbidden(
                "The access key id or secret is not valid.".into(),
            )),
        },
        None => Err(Denied::Unauthenticated(
            "This web terminal URL needs the server's credentials (HTTP Basic); ask for IsShared=true to open it without.".into(),
        )),
    }
}
