//! Per-access-key rate limiting: a token bucket per key, refilled at `rate` requests per
//! second up to `burst`. Excess requests are answered `Throttling` (429) with
//! `x-acs-retry-after`, which the SDK turns into a `ThrottlingException`.

use std::collections::HashMap;

/// Requests per second and bucket size; a rate of 0 turns limiting off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub rate: f64,
    pub burst: f64,
}

impl RateLimit {
    /// `rate` per second with a burst of twice that (at least 1).
    pub fn per_second(rate: f64) -> RateLimit {
        RateLimit {
            rate,
            burst: (rate * 2.0).max(1.0),
        }
    }
}

pub struct Limiter {
    limit: RateLimit,
    buckets: HashMap<String, (f64, f64)>,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one request from `key`'s bucket at `now` (seconds); `Err(retry_after_secs)` when
    /// it is empty.
    pub fn take(&mut self, key: &str, now: f64) -> Result<(), u64> {
        if self.limit.rate <= 0.0 {
            return Ok(());
        }
        let RateLimit { rate, burst } = self.limit;
        let (tokens, last) = self.buckets.entry(key.to_string()).or_insert((burst, now));
        *tokens = (*tokens + (now - *last).max(0.0) * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let mut limiter = Limiter::new(RateLimit::per_second(2.0));
        for _ in 0..4 {
            assert!(limiter.take("ak", 0.0).is_ok());
        }
        assert_eq!(limiter.take("ak", 0.0), Err(1));
        assert!(limiter.take("other", 0.0).is_ok(), "buckets are per key");
        assert!(limiter.take("ak", 0.5).is_ok());
        assert!(limiter.take("ak", 0.5).is_err());
    }

    #[test]
    fn off_never_limits() {
        let mut limiter = Limiter::new(RateLimit::per_second(0.0));
        for _ in 0..10_000 {
            assert!(limiter.take("ak", 0.0).is_ok());
        }
    }
}
