//! HTTP Basic credentials (an access key id and its secret), which a browser sends to the
//! TensorBoard proxy and the web terminal: [`BasicGuard::check`] is the one check, and it stops
//! guessing.
//!
//! Failures are counted per access key id and per client address, each in a bucket of
//! [`FAILURE_BURST`] that refills one failure per [`REFILL_SECS`]. A failure that finds either
//! bucket empty locks that key id or address out for [`LOCKOUT_SECS`]: every attempt then, with
//! the right secret or not, is answered 429 with `Retry-After`, so a guessing loop learns
//! nothing while locked. Successes are not limited (a TensorBoard page sends the header with
//! every asset). The tables are bounded ([`MAX_TRACKED`]); when full after forgetting idle
//! entries, attempts from new keys and addresses are refused as throttled (fail closed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use opendlc_core::identity::Principal;
use opendlc_store::{AccessKeyRecord, Store};

/// Failures allowed in a row before the refill rate applies.
pub const FAILURE_BURST: f64 = 10.0;
/// One more failure is allowed every this many seconds.
pub const REFILL_SECS: f64 = 10.0;
/// How long a key id or address is locked out once it ran out of failures.
pub const LOCKOUT_SECS: f64 = 300.0;
/// The most keys and addresses tracked at once.
const MAX_TRACKED: usize = 100_000;

/// Why Basic credentials did not open.
#[derive(Debug, PartialEq)]
pub enum BasicDenied {
    /// The header is not `Basic base64(id:secret)`.
    Malformed,
    /// Unknown or revoked key, or wrong secret.
    Invalid,
    /// A job's own key (its pods' credentials): it acts through the API, for its job only,
    /// and opens none of the proxied pages.
    JobKey,
    /// Locked out for this many more seconds.
    Throttled(u64),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    tokens: f64,
    at: f64,
    locked_until: f64,
}

#[derive(Default)]
pub struct BasicGuard {
    subjects: Mutex<HashMap<String, Failures>>,
}

impl BasicGuard {
    /// The key and its owner if `header` carries valid credentials and neither the key id nor
    /// `client` is locked out; a wrong secret counts against both.
    pub fn check(
        &self,
        store: &Store,
        client: Option<IpAddr>,
        header: &str,
        now: f64,
    ) -> Result<(AccessKeyRecord, Principal), BasicDenied> {
        let (id, secret) = basic_credentials(header).ok_or(BasicDenied::Malformed)?;
        let subjects = subjects(&id, client);
        self.locked(&subjects, now)?;
        match store.key_owner(&id).ok().flatten() {
            Some((key, principal))
                if key.revoked.is_none() && constant_time_eq(&key.secret, &secret) =>
            {
                match key.job_id {
                    Some(_) => Err(BasicDenied::JobKey),
                    None => Ok((key, principal)),
                }
            }
            _ => {
                self.failed(&subjects, now);
                Err(BasicDenied::Invalid)
            }
        }
    }

    fn locked(&self, subjects: &[String], now: f64) -> Result<(), BasicDenied> {
        let table = self.subjects.lock().unwrap_or_else(|e| e.into_inner());
        let until = subjects
            .iter()
            .filter_map(|s| table.get(s))
            .map(|f| f.locked_until)
            .fold(0.0, f64::max);
        if until > now {
            return Err(BasicDenied::Throttled((until - now).ceil().max(1.0) as u64));
        }
        if table.len() >= MAX_TRACKED && subjects.iter().any(|s| !table.contains_key(s)) {
            return Err(BasicDenied::Throttled(REFILL_SECS as u64));
        }
        Ok(())
    }

    fn failed(&self, subjects: &[String], now: f64) {
        let mut table = self.subjects.lock().unwrap_or_else(|e| e.into_inner());
        if table.len() >= MAX_TRACKED {
            // Entries refilled and not locked carry nothing worth remembering.
            table.retain(|_, f| f.locked_until > now || refilled(f, now) < FAILURE_BURST);
        }
        for subject in subjects {
            if table.len() >= MAX_TRACKED && !table.contains_key(subject) {
                continue;
            }
            let f = table.entry(subject.clone()).or_insert(Failures {
                tokens: FAILURE_BURST,
                at: now,
                locked_until: 0.0,
            });
            f.tokens = refilled(f, now);
            f.at = now;
            if f.tokens >= 1.0 {
                f.tokens -= 1.0;
            } else {
                f.locked_until = now + LOCKOUT_SECS;
                tracing::warn!(subject = %subject, "HTTP Basic: too many failures, locked out");
            }
        }
    }
}

fn refilled(f: &Failures, now: f64) -> f64 {
    (f.tokens + (now - f.at).max(0.0) / REFILL_SECS).min(FAILURE_BURST)
}

/// What failures count against: the key id (bounded in length) and the client's address.
fn subjects(id: &str, client: Option<IpAddr>) -> Vec<String> {
    let id: String = id.chars().take(64).collect();
    let mut out = vec![format!("key:{id}")];
    if let Some(ip) = client {
        out.push(format!("addr:{ip}"));
    }
    out
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `Basic base64(id:secret)` → (id, secret).
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard_fails(guard: &BasicGuard, subjects: &[String], now: f64, times: usize) {
        for _ in 0..times {
            guard.locked(subjects, now).unwrap();
            guard.failed(subjects, now);
        }
    }

    #[test]
    fn a_burst_of_failures_locks_the_key_and_the_address_out() {
        let guard = BasicGuard::default();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let s = subjects("ak", Some(ip));
        guard_fails(&guard, &s, 0.0, FAILURE_BURST as usize);
        assert_eq!(guard.locked(&s, 0.0), Ok(()), "the burst itself passes");
        guard.failed(&s, 0.0);
        assert_eq!(
            guard.locked(&s, 1.0),
            Err(BasicDenied::Throttled(LOCKOUT_SECS as u64 - 1))
        );
        // Another key from the same address, and the same key from elsewhere, are locked too.
        assert!(guard.locked(&subjects("other", Some(ip)), 1.0).is_err());
        assert!(guard
            .locked(&subjects("ak", Some("10.0.0.8".parse().unwrap())), 1.0)
            .is_err());
        assert!(guard
            .locked(&subjects("other", Some("10.0.0.8".parse().unwrap())), 1.0)
            .is_ok());
        assert_eq!(guard.locked(&s, LOCKOUT_SECS + 1.0), Ok(()), "it ends");
    }

    #[test]
    fn slow_failures_refill_and_never_lock() {
        let guard = BasicGuard::default();
        let s = subjects("ak", None);
        for i in 0..100 {
            let now = i as f64 * REFILL_SECS;
            guard.locked(&s, now).unwrap();
            guard.failed(&s, now);
        }
    }

    #[test]
    fn a_jobs_own_key_opens_no_proxied_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("opendlc.db")).unwrap();
        let user = store.create_user("alice", false, 0).unwrap();
        for (id, job_id) in [("user-key", None), ("job-key", Some("dlcjob".to_string()))] {
            store
                .put_access_key(&AccessKeyRecord {
                    access_key_id: id.into(),
                    user_id: user.user_id.clone(),
                    secret: "s3cret".into(),
                    created: 0,
                    revoked: None,
                    job_id,
                })
                .unwrap();
        }
        let guard = BasicGuard::default();
        let header = |id: &str| format!("Basic {}", STANDARD.encode(format!("{id}:s3cret")));
        assert!(guard.check(&store, None, &header("user-key"), 0.0).is_ok());
        assert_eq!(
            guard.check(&store, None, &header("job-key"), 0.0).err(),
            Some(BasicDenied::JobKey)
        );
    }

    #[test]
    fn credentials_parse() {
        assert_eq!(
            basic_credentials(&format!("Basic {}", STANDARD.encode("id:se:cret"))),
            Some(("id".into(), "se:cret".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert!(constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd"));
    }
}
