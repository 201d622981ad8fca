//! Signature nonces seen recently: a request signed with a nonce already used is a replay.
//!
//! A nonce only needs remembering while a request carrying it could still pass the clock
//! check, so each is kept for twice the allowed clock skew and then forgotten.
//!
//! Memory is bounded by design: an entry is a fixed-size digest of (access key, nonce) and its
//! time, whatever the nonce's length (which [`MAX_NONCE_BYTES`] bounds anyway), and there are
//! at most [`MAX_NONCES`] of them. Nonces are recorded only after the key's rate limit let the
//! request in, so one key adds at most `burst + rate × window` entries in a window. When the
//! cache is full, the oldest entry is forgotten early: replaying that request then still needs
//! its date within the clock skew, and it is the oldest, so the closest to expiring.

use std::collections::{HashMap, VecDeque};

use opendlc_api::signature::verify::MAX_CLOCK_SKEW_SECS;
use sha2::{Digest, Sha256};

/// How long (seconds) a nonce is remembered.
const WINDOW_SECS: i64 = 2 * MAX_CLOCK_SKEW_SECS;
/// The most nonces remembered: about 1 M × ~80 bytes (the digest twice, the time, the map's
/// overhead), some 80 MiB at worst.
pub const MAX_NONCES: usize = 1_000_000;
/// The longest nonce accepted (the SDK sends 32 hex characters).
pub const MAX_NONCE_BYTES: usize = 128;

/// A nonce as remembered: the first 16 bytes of SHA-256(access key id, nonce).
type Digest16 = [u8; 16];

pub struct Nonces {
    seen: HashMap<Digest16, i64>,
    order: VecDeque<(i64, Digest16)>,
    max: usize,
}

impl Default for Nonces {
    fn default() -> Self {
        Nonces::with_limit(MAX_NONCES)
    }
}

impl Nonces {
    /// A cache that remembers at most `max` nonces.
    pub fn with_limit(max: usize) -> Nonces {
        Nonces {
            seen: HashMap::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// How many nonces are remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }

    /// Records `nonce` (scoped to the key that signed it) at `now`; false if it was seen in
    /// the window.
    pub fn first_use(&mut self, access_key_id: &str, nonce: &str, now: i64) -> bool {
        while let Some((at, _)) = self.order.front() {
            if *at > now - WINDOW_SECS && self.order.len() < self.max {
                break;
            }
            let (_, digest) = self.order.pop_front().expect("front exists");
            self.seen.remove(&digest);
        }
        let digest = digest(access_key_id, nonce);
        if self.seen.contains_key(&digest) {
            return false;
        }
        self.seen.insert(digest, now);
        self.order.push_back((now, digest));
        true
    }
}

fn digest(access_key_id: &str, nonce: &str) -> Digest16 {
    let mut hash = Sha256::new();
    hash.update((access_key_id.len() as u64).to_le_bytes());
    hash.update(access_key_id.as_bytes());
    hash.update(nonce.as_bytes());
    let full = hash.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_within_the_window_and_forgotten_after() {
        let mut nonces = Nonces::default();
        assert!(nonces.first_use("ak", "n1", 1000));
        assert!(!nonces.first_use("ak", "n1", 1001));
        assert!(nonces.first_use("other", "n1", 1001));
        assert!(nonces.first_use("ak", "n1", 1000 + WINDOW_SECS + 1));
    }

    #[test]
    fn the_cache_never_holds_more_than_its_limit_and_forgets_the_oldest_first() {
        let mut nonces = Nonces::with_limit(1000);
        for i in 0..5000 {
            assert!(nonces.first_use("ak", &format!("n{i}"), 1000));
            assert!(nonces.len() <= 1000);
            assert_eq!(nonces.seen.len(), nonces.order.len());
        }
        assert_eq!(nonces.len(), 1000);
        // The newest are still refused as replays; the oldest were forgotten early.
        assert!(!nonces.first_use("ak", "n4999", 1000));
        assert!(nonces.first_use("ak", "n0", 1000));
    }
}
