//! A share token speaks for its issuer, so it opens only what the issuer could open now:
//! [`honour`] is the one check every way in with a token makes (the API, the TensorBoard proxy,
//! the web terminal, the job page, the Ray dashboard), each time the token is used. A link
//! stops working once its issuer is gone, has no active access key, or may no longer read the
//! resource (it became PRIVATE to someone else, the issuer left its workspace) — or, for a web
//! terminal, may no longer change the job.

use opendlc_core::identity::Principal;
use opendlc_store::Store;

use super::token::{Claims, TargetType};
use crate::handlers::{owned_job, owned_tensorboard};

/// Why a token its server signed is not honoured now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withdrawn {
    #[error("its issuer no longer exists")]
    IssuerGone,
    #[error("its issuer has no active access key")]
    NoActiveKey,
    /// The resource is gone, or its issuer may no longer do with it what the token does; the
    /// two are not told apart.
    #[error("its issuer may no longer open {0} {1}")]
    NotAllowed(&'static str, String),
}

/// The issuer of `claims` (verified, for the target the caller asked for), if they may still do
/// what the token does.
pub fn honour(store: &Store, claims: &Claims) -> Result<Principal, Withdrawn> {
    let principal = store
        .principal(&claims.user_id)
        .ok()
        .flatten()
        .ok_or(Withdrawn::IssuerGone)?;
    let keys = store.access_keys(Some(&claims.user_id)).unwrap_or_default();
    if !keys.iter().any(|k| k.revoked.is_none()) {
        return Err(Withdrawn::NoActiveKey);
    }
    let kind = claims.target_type.as_str();
    let not_allowed = || Withdrawn::NotAllowed(kind, claims.target_id.clone());
    let allowed = match claims.target_type {
        TargetType::Job => store
            .get_job(&claims.target_id)
            .is_ok_and(|job| principal.can_read(owned_job(&job))),
        TargetType::Tensorboard => store
            .get_tensorboard(&claims.target_id)
            .ok()
            .flatten()
            .is_some_and(|tb| principal.can_read(owned_tensorboard(&tb))),
        // `<JobId>/<PodId>/<PodUid>`: a shell takes the right to change the job.
        TargetType::WebTerminal => {
            let job_id = claims.target_id.split('/').next().unwrap_or_default();
            store
                .get_job(job_id)
                .is_ok_and(|job| principal.can_write(owned_job(&job)))
        }
    };
    if allowed {
        Ok(principal)
    } else {
        Err(not_allowed())
    }
}
