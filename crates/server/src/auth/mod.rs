//! Who is calling: every API request is signed with an access key (ACS3-HMAC-SHA256 or the
//! legacy HMAC-SHA1) or, for reading one shared resource, carries a share token. The result is
//! a [`Caller`]: the user, their workspaces and, for a token, the one resource it opens.
//!
//! Order of checks: the scheme (the legacy HMAC-SHA1 is refused unless the server accepts
//! it), the nonce's presence and length, the signature (unknown key, bad signature, tampered
//! body), then the clock (±15 minutes), then the key's rate limit, then the nonce (a replay).
//! The rate limit comes before the nonce is recorded so that the replay cache grows at most at
//! the rate limit (see `nonce.rs`).

pub mod basic;
pub mod honour;
mod limit;
mod nonce;
mod share;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opendlc_api::signature::verify::{
    check_signature, check_time, parse_authorization, Authorization, Received,
};
use opendlc_api::ErrorCode;
use opendlc_core::identity::{Owned, Principal};
use opendlc_core::time::now_millis;
use opendlc_store::{AccessKeyRecord, Store};

use limit::Limiter;
pub use limit::RateLimit;
use nonce::{Nonces, MAX_NONCE_BYTES};
use share::token_target;
use token::{Claims, TargetType, TokenKey};

use crate::http::{ApiError, ApiRequest, Route};

/// The caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// For a request that came with a share token (which reads one resource only): the
    /// token's own terms.
    pub scope: Option<Scope>,
}

/// A share token's terms, as far as the handlers need them.
#[derive(Debug, Clone)]
pub struct Scope {
    /// When it stops working (Unix seconds): what it leads to ends then too.
    pub expires: i64,
}

impl Caller {
    pub fn user_id(&self) -> &str {
        &self.principal.user.user_id
    }

    pub fn can_read(&self, resource: Owned<'_>) -> bool {
        self.principal.can_read(resource)
    }

    /// Writing is never allowed with a share token.
    pub fn can_write(&self, resource: Owned<'_>) -> bool {
        self.scope.is_none() && self.principal.can_write(resource)
    }
}

/// How long a key's secret and its owner's memberships are reused before being read again:
/// a revoked key or a changed membership takes effect within this time.
const KEY_CACHE_TTL: Duration = Duration::from_secs(1);
/// Past this many cached keys the cache starts over (a bound on memory, not a tuning knob).
const KEY_CACHE_MAX: usize = 10_000;

type CachedKey = (Instant, AccessKeyRecord, Principal);

/// Whether requests signed with the legacy HMAC-SHA1 scheme (`signature_algorithm="v2"`) are
/// served. It has no body hash: a man in the middle can change a body it signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacySignatures {
    Accept,
    Refuse,
}

impl LegacySignatures {
    pub fn as_str(self) -> &'static str {
        match self {
            LegacySignatures::Accept => "accept",
            LegacySignatures::Refuse => "refuse",
        }
    }

    pub fn parse(text: &str) -> Option<LegacySignatures> {
        match text.trim() {
            "accept" => Some(LegacySignatures::Accept),
            "refuse" => Some(LegacySignatures::Refuse),
            _ => None,
        }
    }
}

pub struct Authenticator {
    store: Arc<Store>,
    legacy: LegacySignatures,
    tokens: TokenKey,
    keys: Mutex<HashMap<String, CachedKey>>,
    nonces: Mutex<Nonces>,
    limiter: Mutex<Limiter>,
}

impl Authenticator {
    pub fn new(
        store: Arc<Store>,
        tokens: TokenKey,
        limit: RateLimit,
        legacy: LegacySignatures,
    ) -> Authenticator {
        Authenticator {
            store,
            legacy,
            tokens,
            keys: Mutex::new(HashMap::new()),
            nonces: Mutex::new(Nonces::default()),
            limiter: Mutex::new(Limiter::new(limit)),
        }
    }

    pub fn tokens(&self) -> &TokenKey {
        &self.tokens
    }

    /// The caller of `request`, which calls `route`.
    pub fn authenticate(&self, request: &ApiRequest, route: Route) -> Result<Caller, ApiError> {
        let received = Received {
            method: &request.method,
            raw_path: &request.raw_path,
            query: &request.query,
            headers: &request.headers,
            body: &request.body,
        };
        if received.header("authorization").is_none() {
            if let Some(token) = share_token(request) {
                return self.token_caller(request, route, token);
            }
        }
        let reject = |r: opendlc_api::signature::verify::Rejected| ApiError::new(r.code, r.message);
        let authorization = parse_authorization(&received).map_err(reject)?;
        let nonce = self.nonce(&received, &authorization)?;
        let access_key_id = authorization.access_key_id().to_string();
        let (key, principal) = self.key_owner(&access_key_id)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::AccessKeyNotFound,
                format!("The access key {access_key_id} does not exist or was revoked."),
            )
        })?;
        check_signature(&received, &authorization, &key.secret).map_err(reject)?;
        if let Some(job_id) = &key.job_id {
            self.job_key_may(route, request, job_id)?;
        }
        let now_ms = now_millis();
        let now = now_ms / 1000;
        check_time(&received, &authorization, now, |text| match authorization {
            Authorization::Acs3 { .. } => parse_iso8601(text),
            Authorization::Legacy { .. } => parse_rfc1123(text),
        })
        .map_err(reject)?;
        self.throttle(&access_key_id, now_ms)?;
        let fresh = self
            .nonces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first_use(&access_key_id, nonce, now);
        if !fresh {
            return Err(ApiError::new(
                ErrorCode::SignatureNonceUsed,
                format!(
                    "The signature nonce {nonce} was already used: every request needs a new one."
                ),
            ));
        }
        Ok(Caller {
            principal,
            scope: None,
        })
    }

    /// The request's signature nonce, which both schemes must carry (ACS3 signs it by rule; the
    /// legacy scheme signs every `x-acs-*` header), if the scheme is accepted at all.
    fn nonce<'r>(
        &self,
        received: &'r Received<'_>,
        authorization: &Authorization,
    ) -> Result<&'r str, ApiError> {
        if matches!(authorization, Authorization::Legacy { .. })
            && self.legacy == LegacySignatures::Refuse
        {
            return Err(ApiError::new(
                ErrorCode::IncompleteSignature,
                "This server refuses the legacy HMAC-SHA1 signature (\"acs\"): sign with \
                 ACS3-HMAC-SHA256 (the SDK's default), or start the server with \
                 --legacy-signatures accept.",
            ));
        }
        let nonce = received
            .header("x-acs-signature-nonce")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::IncompleteSignature,
                    "The request has no x-acs-signature-nonce header: every signed request \
                     needs a new nonce.",
                )
            })?;
        if nonce.len() > MAX_NONCE_BYTES {
            return Err(ApiError::invalid(
                "x-acs-signature-nonce",
                format!(
                    "the nonce is {} bytes long; at most {MAX_NONCE_BYTES} are allowed.",
                    nonce.len()
                ),
            ));
        }
        Ok(nonce)
    }

    /// The active key and its owner, from the cache when read less than [`KEY_CACHE_TTL`] ago.
    fn key_owner(
        &self,
        access_key_id: &str,
    ) -> Result<Option<(AccessKeyRecord, Principal)>, ApiError> {
        let now = Instant::now();
        {
            let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((read_at, key, principal)) = keys.get(access_key_id) {
                if now.duration_since(*read_at) < KEY_CACHE_TTL {
                    return Ok(Some((key.clone(), principal.clone())));
                }
            }
        }
        let found = self.store.key_owner(access_key_id)?;
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= KEY_CACHE_MAX {
            keys.clear();
        }
        match &found {
            Some((key, principal)) => {
                keys.insert(
                    access_key_id.to_string(),
                    (now, key.clone(), principal.clone()),
                );
            }
            None => {
                keys.remove(access_key_id);
            }
        }
        Ok(found)
    }

    fn token_caller(
        &self,
        request: &ApiRequest,
        route: Route,
        token: &str,
    ) -> Result<Caller, ApiError> {
        let now_ms = now_millis();
        let claims: Claims = self
            .tokens
            .verify(token, now_ms / 1000)
            .map_err(|e| ApiError::new(ErrorCode::Forbidden, format!("Invalid token: {e}.")))?;
        let target = request
            .params
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        let allowed = token_target(route) == Some(claims.target_type);
        if !allowed || target != claims.target_id {
            let action = route.as_str();
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "The token opens {} {} for reading only; {action} on \"{target}\" needs a \
                     signed request.",
                    claims.target_type.as_str(),
                    claims.target_id
                ),
            ));
        }
        self.throttle(&format!("token:{}", claims.user_id), now_ms)?;
        let principal = honour::honour(&self.store, &claims).map_err(|withdrawn| {
            let id = &claims.target_id;
            match (withdrawn, claims.target_type) {
                (honour::Withdrawn::IssuerGone, _) => {
                    ApiError::new(ErrorCode::Forbidden, "The token's issuer no longer exists.")
                }
                // Answered as the signed call of the issuer would be: a resource they may not
                // read is answered like a missing one.
                (honour::Withdrawn::NotAllowed(..), TargetType::Job) => ApiError::job_not_found(id),
                (honour::Withdrawn::NotAllowed(..), TargetType::Tensorboard) => ApiError::new(
                    ErrorCode::TensorboardNotFound,
                    format!("The TensorBoard {id} does not exist."),
                ),
                (withdrawn, _) => ApiError::new(
                    ErrorCode::Forbidden,
                    format!("The token no longer opens anything: {withdrawn}."),
                ),
            }
        })?;
        Ok(Caller {
            principal,
            scope: Some(Scope {
                expires: claims.exp,
            }),
        })
    }

    fn throttle(&self, key: &str, now_ms: i64) -> Result<(), ApiError> {
        let taken = self
            .limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(key, now_ms as f64 / 1000.0);
        taken.map_err(ApiError::throttled)
    }
}

/// The `Token` (or `token`) query parameter.
fn share_token(request: &ApiRequest) -> Option<&str> {
    request
        .query
        .iter()
        .find(|(k, v)| (k == "Token" || k == "token") && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// `2024-01-01T00:00:00Z` (x-acs-date) as Unix seconds.
fn parse_iso8601(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// `Sun, 22 Nov 2026 07:08:50 GMT` (the legacy scheme's Date) as Unix seconds.
fn parse_rfc1123(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|t| t.timestamp())
}

/// Whether a job key's request reads that very job: itself, its events, its pods' logs and
/// events, its metrics and sanity checks.
fn reads_own_job(route: Route, request: &ApiRequest, job_id: &str) -> bool {
    use opendlc_api::Action;
    let reads_a_job = matches!(
        route,
        Route::Dlc(
            Action::GetJob
                | Action::GetJobEvents
                | Action::GetPodLogs
                | Action::GetPodEvents
                | Action::GetJobMetrics
                | Action::GetJobSanityCheckResult
                | Action::ListJobSanityCheckResults
        ) | Route::Extension(crate::http::Extension::StreamJobLogs)
    );
    reads_a_job && request.params.first().map(String::as_str) == Some(job_id)
}

/// The workspace a CreateJob body names (the default one when it names none).
fn workspace_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|b| b["WorkspaceId"].as_str().map(str::to_string))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| opendlc_core::identity::DEFAULT_WORKSPACE_ID.to_string())
}

impl Authenticator {
    /// What a job's own key (its pods' credentials, `CredentialConfig.EnableCredentialInject`)
    /// may do: read that job, and what its credentials' policies grant (`opendlc_core::grants`)
    /// with its owner's rights — a job it creates in the job's own workspace. Anything else is
    /// refused, saying so.
    fn job_key_may(
        &self,
        route: Route,
        request: &ApiRequest,
        job_id: &str,
    ) -> Result<(), ApiError> {
        if reads_own_job(route, request, job_id) {
            return Ok(());
        }
        let job = self.store.get_job(job_id)?;
        let grants = opendlc_core::grants::Grants::of(&job.request).unwrap_or_default();
        let forbidden = |why: String| Err(ApiError::new(ErrorCode::Forbidden, why));
        if !grants.allows(route.as_str()) {
            return forbidden(format!(
                "This access key is job {job_id}'s own (its pods' credentials): it reads that job, \
                 its pods' logs and events and its metrics, and what its CredentialConfig's \
                 policies allow; they do not allow paidlc:{}.",
                route.as_str()
            ));
        }
        if route == Route::Dlc(opendlc_api::Action::CreateJob) {
            let asked = workspace_of(&request.body);
            if asked != job.workspace_id {
                return forbidden(format!(
                    "This access key is job {job_id}'s own: the jobs it creates are in that job's \
                     workspace, {}, not {asked}.",
                    job.workspace_id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_times_parse_in_both_formats() {
        assert_eq!(parse_iso8601("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(
            parse_rfc1123("Mon, 01 Jan 2024 00:00:00 GMT"),
            Some(1_704_067_200)
        );
        assert_eq!(parse_iso8601("yesterday"), None);
    }
}
