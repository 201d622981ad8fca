//! Who may open a web terminal: the URL's token (from GetWebTerminal, valid 30 s) and either the
//! server's credentials (HTTP Basic with an access key) or, for a shared URL, nothing more — but
//! then only once.

use std::net::IpAddr;

use axum::http::HeaderMap;

use super::WebTerminals;
use crate::auth::basic::BasicDenied;
use crate::auth::honour::honour;
use crate::auth::token::{Claims, TargetType};

/// The `jti` prefix of a shared (single-use, credential-free) terminal token.
pub const SHARED_PREFIX: &str = "shared-";

#[derive(Debug)]
pub enum Denied {
    Unauthenticated(String),
    Forbidden(String),
    /// Too many wrong credentials from this address or for this key: retry after this many
    /// seconds.
    Throttled(u64),
}

/// The claims of a token that lets this request open the terminal of `target_id`.
pub fn authorize_web_terminal_access(
    wt: &WebTerminals,
    target_id: &str,
    headers: &HeaderMap,
    client: Option<IpAddr>,
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
    // The URL speaks for its issuer: it works while they could still change the job.
    honour(&wt.store, &claims)
        .map_err(|w| Denied::Forbidden(format!("The web terminal URL no longer works: {w}.")))?;
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
    let Some(header) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(needs_credentials());
    };
    match wt.basic.check(&wt.store, client, header, now as f64) {
        // The URL opens for the user who asked for it (or a server admin).
        Ok((_, principal))
            if principal.user.user_id == claims.user_id || principal.user.is_admin =>
        {
            Ok(claims)
        }
        Ok(_) => Err(Denied::Forbidden(
            "This web terminal URL was issued to another user.".into(),
        )),
        Err(BasicDenied::Malformed) => Err(needs_credentials()),
        Err(BasicDenied::JobKey) => Err(Denied::Forbidden(
            "A job's own access key works through the API, for its job only.".into(),
        )),
        Err(BasicDenied::Invalid) => Err(Denied::Forbidden(
            "The access key id or secret is not valid.".into(),
        )),
        Err(BasicDenied::Throttled(secs)) => Err(Denied::Throttled(secs)),
    }
}

fn needs_credentials() -> Denied {
    Denied::Unauthenticated(
        "This web terminal URL needs the server's credentials (HTTP Basic); ask for IsShared=true to open it without.".into(),
    )
}
