//! The server's threads ahead of its pods: when the host is busy (pods starting and ending by
//! the hundred), the API's requests should not wait behind the pods' processes. Where the
//! server may (root), its runtime's threads run at [`SERVER_NICE`]; a pod's shim goes back to
//! the usual 0 as its first act, so pods are not favoured with it.

/// The server's threads' niceness where it may set it: ahead of nice-0 work, far from the
/// real-time end.
pub const SERVER_NICE: libc::c_int = -5;

/// Raises the calling thread's priority to [`SERVER_NICE`]; without the privilege, nothing
/// changes.
pub fn raise_this_thread() {
    set_this_thread(SERVER_NICE);
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
