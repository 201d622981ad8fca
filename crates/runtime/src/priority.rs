//! The server's threads ahead of its pods: when the host is busy (pods starting and ending by
//! the hundred), the API's requests should not wait behind the pods' processes. Where the
//! server may (root), its threads (the runtime's, the engine's, CreateJob's intake) and its
//! session's group run at [`SERVER_NICE`]; the lanes that start and sweep pods, and a pod's
//! shim as its first act, go back to the usual 0, so pods are not favoured with it.

use std::fs;

/// The server's threads' niceness where it may set it: ahead of nice-0 work, far from the
/// real-time end.
pub const SERVER_NICE: libc::c_int = -5;

/// Raises the calling thread's priority to [`SERVER_NICE`]; without the privilege, nothing
/// changes.
pub fn raise_this_thread() {
    set_this_thread(SERVER_NICE);
}

/// Raises this process's session group to [`SERVER_NICE`] until the returned guard is dropped.
/// Where the kernel groups processes by session (autogroup:
/// `/proc/sys/kernel/sched_autogroup_enabled`), the processes of the root cgroup are scheduled
/// a session at a time, and a thread's niceness counts only among its session's threads: the
/// whole server weighed as much as the pod side's one cgroup, and under a flood of jobs its
/// threads waited for the CPU about as long as they ran (a GetJob polled while 10,000 jobs were
/// admitted answered in 11–19 ms at p99; 4.5–9 ms raised). The session's other processes (the
/// shell the server was started from) share the group, so it is given back as it was when the
/// server ends (not after a `kill -9`). Without the privilege, or without autogroups (a server
/// in a cgroup of its own, as a systemd service is), nothing changes.
pub fn raise_session() -> Option<SessionRaised> {
    let before = session_nice()?;
    if before <= SERVER_NICE {
        return None;
    }
    fs::write(AUTOGROUP, SERVER_NICE.to_string()).ok()?;
    Some(SessionRaised { before })
}

/// The session group raised by [`raise_session`]; dropped, it has its niceness back.
#[must_use = "dropped, the session's group is lowered again"]
pub struct SessionRaised {
    before: libc::c_int,
}

impl Drop for SessionRaised {
    fn drop(&mut self) {
        let _ = fs::write(AUTOGROUP, self.before.to_string());
    }
}

/// This process's session group, where the kernel has them: "/autogroup-25 nice 0".
const AUTOGROUP: &str = "/proc/self/autogroup";

fn session_nice() -> Option<libc::c_int> {
    let group = fs::read_to_string(AUTOGROUP).ok()?;
    group.split_whitespace().last()?.parse().ok()
}

/// Gives the calling thread (in the shim: the process, single-threaded then) the usual
/// priority again, if it inherited a raised one.
pub fn reset_this_thread() {
    // SAFETY: getpriority/setpriority on integers; errno is read right after.
    let current = unsafe {
        *libc::__errno_location() = 0;
        libc::getpriority(libc::PRIO_PROCESS, 0)
    };
    if current < 0 {
        set_this_thread(0);
    }
}

fn set_this_thread(nice: libc::c_int) {
    // On Linux the niceness is per thread: PRIO_PROCESS with the thread's id sets only it.
    // SAFETY: syscalls on integers; a failure (no privilege) leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice() -> libc::c_int {
        // SAFETY: getpriority on integers.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn a_raised_thread_goes_back_to_the_usual_priority() {
        // On a thread of its own: the niceness is per thread.
        std::thread::spawn(|| {
            let before = nice();
            raise_this_thread();
            let raised = nice();
            // Raised where the test may (root); unchanged otherwise.
            assert!(
                raised == SERVER_NICE || raised == before,
                "{before} → {raised}"
            );
            reset_this_thread();
            let expected = if raised < 0 { 0 } else { raised };
            assert_eq!(nice(), expected);
        })
        .join()
        .unwrap();
    }
}
