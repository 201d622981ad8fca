//! Signature nonces seen recently: a request signed with a nonce already used is a replay.
//!
//! A nonce only needs remembering while a request carrying it could still pass the clock
//! check, so each is kept for twice the allowed clock skew and then forgotten.

use std::collections::{HashMap, VecDeque};

use opendlc_api::signature::verify::MAX_CLOCK_SKEW_SECS;

/// How long (seconds) a nonce is remembered.
const WINDOW_SECS: i64 = 2 * MAX_CLOCK_SKEW_SECS;
/// A bound on memory: past this many live nonces the oldest are forgotten early (a replay
/// then needs to beat this many requests in the window, and the date check still holds).
const MAX_NONCES: usize = 1_000_000;

#[derive(Default)]
pub struct Nonces {
    seen: HashMap<String, i64>,
    order: VecDeque<(i64, String)>,
}

impl Nonces {
    /// Records `nonce` (scoped to the key that signed it) at `now`; false if it was seen in
    /// the window.
    pub fn first_use(&mut self, access_key_id: &str, nonce: &str, now: i64) -> bool {
        while let Some((at, _)) = self.order.front() {
            if *at > now - WINDOW_SECS && self.order.len() < MAX_NONCES {
                break;
            }
            let (_, key) = self.order.pop_front().expect("front exists");
            self.seen.remove(&key);
        }
        let key = format!("{access_key_id}\n{nonce}");
        if self.seen.contains_key(&key) {
            return false;
        }
        self.seen.insert(key.clone(), now);
        self.order.push_back((now, key));
        true
    }
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
}
