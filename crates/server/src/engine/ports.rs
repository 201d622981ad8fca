//! Ports for a job's pods (`MASTER_PORT`, a Ray cluster's ports, …): free on this host when
//! the job is admitted, and bound by its pods seconds later.
//!
//! Between the two, every process on the host opens connections, and each takes a local port
//! from the kernel's ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by default):
//! a Ray head's own processes take dozens while it starts. A port handed out from that range
//! can be taken that way before its pod binds it, and the pod then fails (a Ray raylet that
//! cannot bind its port never registers). So ports are handed out from below the ephemeral
//! range, where only an explicit bind takes a port, and from [`LOWEST`] up: the ports under it
//! are services' well-known ones and Ray's workers' (10002–19999 by default). The ports are
//! handed out in turn, from a random point, so that two jobs admitted one after the other never
//! get the same one while it may still be waiting for its pod. Where the ephemeral range leaves
//! too few ports outside it, the kernel picks, as it would for anyone.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;

use rand::Rng;

/// The lowest port handed out.
const LOWEST: u16 = 20_000;
/// Fewer ports than this outside the ephemeral range, and the kernel picks instead.
const AT_LEAST: u32 = 1_024;

/// `n` distinct ports free on this host right now, none in the kernel's ephemeral range.
pub(super) fn free_ports(n: usize) -> Vec<u16> {
    static PORTS: LazyLock<Ports> = LazyLock::new(|| {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|text| ephemeral_range(&text))
            .and_then(handed_out_from);
        Ports::new(range)
    });
    PORTS.take(n)
}

/// The ports handed out in turn, and the turn.
#[derive(Debug)]
struct Ports {
    range: Option<RangeInclusive<u16>>,
    next: AtomicU32,
}

impl Ports {
    fn new(range: Option<RangeInclusive<u16>>) -> Ports {
        Ports {
            range,
            next: AtomicU32::new(u32::from(rand::thread_rng().gen::<u16>())),
        }
    }

    /// `n` distinct ports, each free when it was tried. A port is tried once per pass over the
    /// range; where a whole pass finds too few, the kernel picks the rest.
    fn take(&self, n: usize) -> Vec<u16> {
        let mut ports = Vec::with_capacity(n);
        if let Some(range) = &self.range {
            let (first, len) = (u32::from(*range.start()), range.len() as u32);
            for _ in 0..len {
                if ports.len() == n {
                    break;
                }
                let port = (first + self.next.fetch_add(1, Ordering::Relaxed) % len) as u16;
                if !ports.contains(&port) && is_free(port) {
                    ports.push(port);
                }
            }
        }
        let mut seen: HashSet<u16> = ports.iter().copied().collect();
        while ports.len() < n {
            match kernel_pick() {
                // No port to be had (descriptors exhausted): the pods will report the failure.
                None => ports.resize(n, 0),
                Some(port) if seen.insert(port) => ports.push(port),
                Some(_) => {}
            }
        }
        ports
    }
}

/// Whether nothing listens on `port`, on any address: a pod may bind its port on any.
fn is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

fn kernel_pick() -> Option<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    listener.local_addr().ok().map(|a| a.port())
}

/// `ip_local_port_range`'s two numbers.
fn ephemeral_range(text: &str) -> Option<(u16, u16)> {
    let mut numbers = text.split_whitespace().map(str::parse::<u16>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(low)), Some(Ok(high))) if low <= high => Some((low, high)),
        _ => None,
    }
}

/// Where ports are handed out, given the ephemeral range: below it from [`LOWEST`], else above
/// it; `None` where neither holds [`AT_LEAST`] ports.
fn handed_out_from((low, high): (u16, u16)) -> Option<RangeInclusive<u16>> {
    let below = (low > LOWEST).then(|| LOWEST..=low - 1);
    let above = (high < u16::MAX).then(|| high.max(LOWEST - 1) + 1..=u16::MAX);
    [below, above]
        .into_iter()
        .flatten()
        .find(|range| range.len() as u32 >= AT_LEAST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_handed_out_below_the_ephemeral_range_or_else_above_it() {
        assert_eq!(ephemeral_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(ephemeral_range("60999 32768"), None);
        assert_eq!(ephemeral_range(""), None);
        assert_eq!(handed_out_from((32768, 60999)), Some(20_000..=32_767));
        // A range reaching low: what is above it, if enough.
        assert_eq!(handed_out_from((1024, 50_000)), Some(50_001..=65_535));
        assert_eq!(handed_out_from((1024, 65_000)), None);
        assert_eq!(handed_out_from((20_500, 65_535)), None);
    }

    #[test]
    fn every_port_handed_out_is_free_distinct_and_outside_the_ephemeral_range() {
        let ports = free_ports(50);
        assert_eq!(ports.len(), 50);
        assert_eq!(ports.iter().collect::<HashSet<_>>().len(), 50);
        let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let (low, high) = ephemeral_range(&text).unwrap();
        if let Some(range) = handed_out_from((low, high)) {
            assert!(ports.iter().all(|p| range.contains(p)), "{ports:?}");
        }
        // The next job's are not the same ones, free as they all still are.
        let next = free_ports(50);
        assert!(next.iter().all(|p| !ports.contains(p)), "{next:?}");
    }

    #[test]
    fn a_port_in_use_is_passed_over_and_the_kernel_picks_when_none_is_left() {
        let held = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        let ports = Ports::new(Some(port..=port));
        let picked = ports.take(2);
        assert_eq!(picked.len(), 2);
        assert!(!picked.contains(&port), "{picked:?}");
        assert!(picked.iter().all(|&p| p != 0) && picked[0] != picked[1]);
    }
}
