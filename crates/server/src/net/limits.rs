//! How many connections the server holds at once, overall and per client address.
//!
//! Every connection is an open file. The bound is derived from the process's open-files limit
//! (`RLIMIT_NOFILE`, read at start) minus a reserve for everything else the server opens: the
//! database, pods' log and exit files, TensorBoard processes and the proxy's own connections.
//! One client address may hold only a fraction of the total, so that one misbehaving host
//! cannot take every slot. A connection over either bound is closed as soon as it is accepted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Files always kept for the rest of the server.
const RESERVED_FILES: u64 = 256;
/// Never more connections than this, whatever the open-files limit.
const MAX_CONNECTIONS: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections held at once, all clients together.
    pub total: usize,
    /// Connections held at once from one client address.
    pub per_address: usize,
}

impl ConnectionLimits {
    /// The limits for an open-files limit of `open_files`: a quarter of it plus
    /// `RESERVED_FILES` are kept for the rest of the server; one address may hold an eighth
    /// of the rest (between 8 and 256).
    pub fn for_open_files(open_files: u64) -> ConnectionLimits {
        let reserve = RESERVED_FILES + open_files / 4;
        let total = (open_files.saturating_sub(reserve) as usize).clamp(16, MAX_CONNECTIONS);
        ConnectionLimits {
            total,
            per_address: (total / 8).clamp(8, 256),
        }
    }

    /// The limits for this process's open-files limit (its soft limit).
    pub fn detect() -> ConnectionLimits {
        ConnectionLimits::for_open_files(open_files_limit())
    }
}

/// The soft `RLIMIT_NOFILE` of this process (1024 if it cannot be read).
pub fn open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes into the struct we pass; no other memory is involved.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return if rc != 0 { 1024 } else { u64::MAX / 2 };
    }
    limit.rlim_cur
}

/// The connections held now; a [`Slot`] is one of them, released when dropped.
#[derive(Clone)]
pub struct Connections {
    limits: ConnectionLimits,
    held: Arc<Mutex<Held>>,
}

#[derive(Default)]
struct Held {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

pub struct Slot {
    held: Arc<Mutex<Held>>,
    address: IpAddr,
}

impl Connections {
    pub fn new(limits: ConnectionLimits) -> Connections {
        Connections {
            limits,
            held: Arc::default(),
        }
    }

    /// A slot for a connection from `address`, unless a bound is reached.
    pub fn admit(&self, address: IpAddr) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let from_address = held.by_address.get(&address).copied().unwrap_or(0);
        if held.total >= self.limits.total || from_address >= self.limits.per_address {
            return None;
        }
        held.total += 1;
        held.by_address.insert(address, from_address + 1);
        Some(Slot {
            held: self.held.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.total -= 1;
        if let Some(n) = held.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                held.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_leave_headroom_below_the_open_files_limit() {
        let l = ConnectionLimits::for_open_files(1024);
        assert_eq!(
            l,
            ConnectionLimits {
                total: 512,
                per_address: 64
            }
        );
        for nofile in [256, 1024, 4096, 65_536, 1 << 20] {
            let l = ConnectionLimits::for_open_files(nofile);
            assert!(l.total as u64 + RESERVED_FILES <= nofile.max(RESERVED_FILES + 16));
            assert!(l.per_address < l.total);
        }
    }

    #[test]
    fn slots_are_bounded_overall_and_per_address_and_come_back() {
        let conns = Connections::new(ConnectionLimits {
            total: 3,
            per_address: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = conns.admit(a).unwrap();
        let _a2 = conns.admit(a).unwrap();
        assert!(conns.admit(a).is_none(), "per address");
        let _b1 = conns.admit(b).unwrap();
        assert!(conns.admit(b).is_none(), "overall");
        drop(a1);
        assert!(conns.admit(b).is_some());
    }
}
