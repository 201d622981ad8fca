//! What the shim and the supervisor need to know about processes, from `/proc`, and how they
//! signal a process without hitting an unrelated one that reused its pid.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub state: u8,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    /// Field 22: when the process started, in clock ticks since boot.
    pub start_ticks: u64,
}

impl ProcStat {
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, b'Z' | b'X')
    }
}

/// `/proc/<pid>/stat`, or `None` if there is no such process.
pub(crate) fn stat(pid: u32) -> io::Result<Option<ProcStat>> {
    match fs::read(format!("/proc/{pid}/stat")) {
        Ok(bytes) => Ok(parse_stat(&bytes)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse_stat(bytes: &[u8]) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
    let after_name = bytes.iter().rposition(|&b| b == b')')? + 1;
    let text = std::str::from_utf8(&bytes[after_name..]).ok()?;
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    // fields[0] is field 3 of the man page.
    let field = |n: usize| fields.get(n - 3).copied();
    Some(ProcStat {
        state: *field(3)?.as_bytes().first()?,
        ppid: field(4)?.parse().ok()?,
        pgrp: field(5)?.parse().ok()?,
        session: field(6)?.parse().ok()?,
        start_ticks: field(22)?.parse().ok()?,
    })
}

/// A pidfd: a handle on one process that stays valid (and never names another process) after
/// it exits; it becomes readable when the process exits.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new file descriptor that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

pub(crate) fn pidfd_send_signal(pidfd: &OwnedFd, signal: Signal) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we own; a null siginfo means "as kill() would".
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match rc {
        0 => Ok(()),
        _ => match io::Error::last_os_error() {
            // Already exited: nothing to signal.
            e if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            e => Err(e),
        },
    }
}

/// Whether the process behind `pidfd` has exited (its pidfd is readable then).
pub(crate) fn has_exited(pidfd: &OwnedFd) -> bool {
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(
        pidfd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO), Ok(n) if n > 0)
}

/// The process `pid` if it is the one that started at `start_ticks`, as a pidfd (which, unlike
/// the pid, cannot come to mean another process). `None` if it is gone (an unreaped zombie
/// still counts as present).
pub(crate) fn open_verified(pid: u32, start_ticks: u64) -> io::Result<Option<OwnedFd>> {
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Checked after opening: if the ticks match now, the pidfd is the process we mean.
    Ok(match stat(pid)? {
        Some(s) if s.start_ticks == start_ticks => Some(pidfd),
        _ => None,
    })
}

/// Is the process `pid`, started at `start_ticks`, still there (possibly as a zombie)?
pub(crate) fn is_alive(pid: u32, start_ticks: u64) -> io::Result<bool> {
    Ok(stat(pid)?.is_some_and(|s| s.start_ticks == start_ticks))
}

/// Whether `pid` is still the process that started at `start_ticks` and has not ended (a
/// zombie has: it runs no more code).
pub(crate) fn is_running(pid: u32, start_ticks: u64) -> io::Result<bool> {
    Ok(stat(pid)?.is_some_and(|s| s.start_ticks == start_ticks && !s.is_zombie()))
}

/// Live (non-zombie) processes matching `keep`, from a scan of `/proc`.
pub(crate) fn find(keep: impl Fn(u32, &ProcStat) -> bool) -> io::Result<Vec<u32>> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit between the listing and the read: that is not an error.
        if let Ok(Some(s)) = stat(pid) {
            if !s.is_zombie() && keep(pid, &s) {
                found.push(pid);
            }
        }
    }
    Ok(found)
}

/// SIGKILLs every live process matching `keep`, again until none is left (processes may fork
/// while we kill), giving up after `timeout` (`Duration::ZERO`: a single pass). `reap` runs
/// between rounds so that the caller can collect its own children. Returns how many processes
/// were signalled.
pub(crate) fn kill_all(
    keep: impl Fn(u32, &ProcStat) -> bool,
    timeout: Duration,
    mut reap: impl FnMut(),
) -> io::Result<usize> {
    let deadline = Instant::now() + timeout;
    let mut signalled = 0;
    loop {
        let pids = find(&keep)?;
        if pids.is_empty() {
            return Ok(signalled);
        }
        for pid in pids {
            if kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok() {
                signalled += 1;
            }
        }
        if Instant::now() >= deadline {
            return Ok(signalled);
        }
        reap();
        std::thread::sleep(Duration::from_millis(5));
        reap();
    }
}

/// SIGKILLs what is left of a pod whose shim is gone: every process in the shim's session.
/// The kernel does not reuse a pid while it still names a session, so processes whose session
/// is `shim_pid` are the pod's — unless a new process now has that pid (the session is then
/// empty and its number was recycled), which `shim_start_ticks` tells apart.
pub(crate) fn kill_orphaned_pod(
    shim_pid: u32,
    shim_start_ticks: u64,
    timeout: Duration,
) -> io::Result<usize> {
    if let Some(s) = stat(shim_pid)? {
        if s.start_ticks != shim_start_ticks {
            return Ok(0);
        }
    }
    kill_all(
        |pid, s| pid != shim_pid && s.session == shim_pid,
        timeout,
        || {},
    )
}

/// Makes `command`'s process start with no signal blocked. std hands the parent's signal mask
/// on to children, and the shim and the MPI worker block the signals they read from a
/// signalfd: a pod inheriting that mask would never see the SIGTERM that stops it (it would
/// wait out its grace period), and a shell waiting for its children never sees SIGCHLD.
pub(crate) fn unblock_signals_in_child(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls sigprocmask, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )
            .map_err(io::Error::from)
        });
    }
}

/// What a program that failed said last on stderr (its last line that is not blank), for an
/// error message; `otherwise` when it said nothing.
pub(crate) fn last_words(stderr: &[u8], otherwise: &str) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(otherwise)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_names() {
        let line = b"42 (a) b (c)) S 1 42 40 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            (s.state, s.ppid, s.pgrp, s.session, s.start_ticks),
            (b'S', 1, 42, 40, 12345)
        );
    }

    #[test]
    fn sees_itself() {
        let me = std::process::id();
        let s = stat(me).unwrap().unwrap();
        assert!(is_alive(me, s.start_ticks).unwrap());
        assert!(!is_alive(me, s.start_ticks + 1).unwrap());
        assert!(open_verified(me, s.start_ticks).unwrap().is_some());
        assert!(open_verified(me, s.start_ticks + 1).unwrap().is_none());
    }
}
