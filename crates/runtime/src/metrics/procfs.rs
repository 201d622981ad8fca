//! What `/proc` tells about processes and network namespaces, for metric sampling.

use std::collections::{HashMap, HashSet};
use std::fs;

/// The fields of `/proc/<pid>/stat` that sampling uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcTimes {
    pub pid: u32,
    pub ppid: u32,
    pub session: u32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Field 22: with the pid, identifies the process across pid reuse.
    pub start_ticks: u64,
    /// Resident set, in pages.
    pub rss_pages: u64,
}

pub fn parse_stat(pid: u32, text: &str) -> Option<ProcTimes> {
    // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
    let after_name = text.rfind(')')? + 1;
    let fields: Vec<&str> = text[after_name..].split_ascii_whitespace().collect();
    // fields[0] is field 3 of proc(5).
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(ProcTimes {
        pid,
        ppid: field(4)? as u32,
        session: field(6)? as u32,
        cpu_ticks: field(14)? + field(15)?,
        start_ticks: field(22)?,
        rss_pages: field(24)?,
    })
}

/// Every process of the host, read from `/proc` (processes that vanish while reading are
/// skipped).
pub fn all_processes() -> Vec<ProcTimes> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_stat(pid, &text)
    })
    .collect()
}

/// The processes of the pod whose command is `leader`: its session (the shim starts every pod
/// in a session of its own) plus every descendant of the leader (which catches a process that
/// started a session of its own but is still a child).
pub fn pod_members(processes: &[ProcTimes], leader: u32) -> Vec<&ProcTimes> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in processes {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut members: HashSet<u32> = processes
        .iter()
        .filter(|p| p.session == leader)
        .map(|p| p.pid)
        .collect();
    let mut visited = HashSet::new();
    let mut stack = vec![leader];
    while let Some(pid) = stack.pop() {
        if visited.insert(pid) {
            members.insert(pid);
            stack.extend(children.get(&pid).into_iter().flatten().copied());
        }
    }
    processes
        .iter()
        .filter(|p| members.contains(&p.pid))
        .collect()
}

/// `read_bytes` and `write_bytes` of `/proc/<pid>/io`: bytes that really reached or came from
/// the storage layer (page-cache hits are not counted).
pub fn io_bytes(pid: u32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    parse_io(&text)
}

pub fn parse_io(text: &str) -> Option<(u64, u64)> {
    let mut read = None;
    let mut write = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("read_bytes:") {
            read = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("write_bytes:") {
            write = v.trim().parse().ok();
        }
    }
    Some((read?, write?))
}

/// Bytes received and sent on every interface but loopback of the network namespace `pid`
/// lives in (`/proc/<pid>/net/dev`).
pub fn net_bytes(pid: u32) -> Option<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    Some(parse_net_dev(&text))
}

pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut rx = 0u64;
    let mut tx = 0u64;
    // Two header lines, then `iface: rx_bytes rx_packets … (8 rx fields) tx_bytes …`.
    for line in text.lines().skip(2) {
        let Some((iface, counters)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters
            .split_ascii_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            rx = rx.saturating_add(fields[0]);
            tx = tx.saturating_add(fields[8]);
        }
    }
    (rx, tx)
}

pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_tricky_name() {
        let text = "42 (a) b (c)) S 7 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 9999 1000000 321 18446744073709551615";
        let p = parse_stat(42, text).unwrap();
        assert_eq!(
            (p.ppid, p.session, p.cpu_ticks, p.start_ticks, p.rss_pages),
            (7, 42, 300, 9999, 321)
        );
    }

    #[test]
    fn io_and_net_dev() {
        let io = "rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(parse_io(io), Some((4096, 8192)));
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n  eth0: 500 5 0 0 0 0 0 0 700 7 0 0 0 0 0 0\n  eth1: 1 1 0 0 0 0 0 0 2 1 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(dev), (501, 702));
    }

    fn proc(pid: u32, ppid: u32, session: u32) -> ProcTimes {
        ProcTimes {
            pid,
            ppid,
            session,
            cpu_ticks: 0,
            start_ticks: 0,
            rss_pages: 0,
        }
    }

    #[test]
    fn members_are_the_session_and_the_descendants() {
        let ps = [
            proc(1, 0, 1),
            proc(10, 1, 10),  // the leader
            proc(11, 10, 10), // its child
            proc(12, 11, 12), // a grandchild in a session of its own
            proc(13, 1, 10),  // an orphan still in the session
            proc(20, 1, 20),  // someone else
        ];
        let mut got: Vec<u32> = pod_members(&ps, 10).iter().map(|p| p.pid).collect();
        got.sort();
        assert_eq!(got, vec![10, 11, 12, 13]);
    }
}
