//! The shim's main loop: wait for the command's process group leader to exit, turning a stop
//! request into SIGTERM → grace period → SIGKILL; then make sure nothing of the pod survives.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::diag;
use super::pump::{poll_ready, PolledPumps};
use super::signals::Signals;
use crate::process;

/// How the leader ended, as recorded in exit.json.
pub(super) struct Ending {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub reason: Option<String>,
}

/// Runs until the leader (`pid`, also the process group id) has exited and been reaped. With
/// `kill_reason`, the pod is killed at once (it must not run) and the reason recorded.
/// Meanwhile the command's output is copied into its log (`pumps`).
pub(super) fn wait_for_leader(
    signals: &Signals,
    mut pumps: Option<&mut PolledPumps>,
    leader: Pid,
    grace: Duration,
    kill_reason: Option<String>,
) -> Ending {
    let mut reason = kill_reason;
    if let Some(why) = &reason {
        diag(format_args!("killing the pod: {why}"));
        signal_group(leader, Signal::SIGKILL);
    }
    let mut stopping = reason.is_some();
    let mut deadline: Option<Instant> = None;
    loop {
        if let Some(status) = reap(Some(leader)) {
            return ending(status, reason);
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let received = wait(signals, pumps.as_deref_mut(), timeout).unwrap_or_else(|e| {
            diag(format_args!("failed to wait for signals: {e}"));
            // Keep supervising, slowly, rather than leave the pod unwatched.
            std::thread::sleep(Duration::from_millis(100));
            Vec::new()
        });
        for signal in received {
            match signal {
                Signal::SIGTERM | Signal::SIGINT if !stopping => {
                    stopping = true;
                    diag(format_args!(
                        "asked to stop: SIGTERM to the process group, SIGKILL in {}",
                        human(grace)
                    ));
                    signal_group(leader, Signal::SIGTERM);
                    // A stopped process would only see SIGTERM once continued (systemd does the same).
                    signal_group(leader, Signal::SIGCONT);
                    deadline = Some(Instant::now() + grace);
                }
                // SIGCHLD: reaped at the top of the loop. SIGHUP: ignored on purpose, and a
                // second stop request changes nothing.
                _ => {}
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            deadline = None;
            diag(format_args!(
                "the grace period is over: SIGKILL to the process group"
            ));
            signal_group(leader, Signal::SIGKILL);
            reason = Some(format!("killed after the grace period of {}", human(grace)));
        }
    }
}

/// Waits until a signal arrives or `timeout` passes, copying the command's output as it comes
/// meanwhile; returns the signals that arrived, possibly none.
fn wait(
    signals: &Signals,
    pumps: Option<&mut PolledPumps>,
    timeout: Option<Duration>,
) -> nix::Result<Vec<Signal>> {
    let Some(pumps) = pumps else {
        return signals.wait(timeout);
    };
    let mut fds = vec![signals.fd()];
    fds.extend(pumps.fds());
    let ready = poll_ready(&fds, timeout)?;
    drop(fds);
    pumps.copy_ready(&ready[1..]);
    signals.take()
}

/// Kills what is left of the pod once its leader has exited, as a container runtime does when
/// a container's main process ends: the leader's process group, everything else in the shim's
/// session, and any orphan handed to us as subreaper (which catches processes that moved to a
/// session of their own).
pub(super) fn kill_leftovers(pgid: u32, own_session: bool) {
    // Every process the command started descends from the shim, and one whose parent ends
    // is handed to the shim (subreaper): with no child left, nothing is left at all, and the
    // scan of every process on the host (most of a short pod's cost) is not needed.
    reap(None);
    if super::is_subreaper()
        && matches!(
            waitpid(None, Some(WaitPidFlag::WNOHANG)),
            Err(Errno::ECHILD)
        )
    {
        return;
    }
    let me = std::process::id();
    let belongs = |pid: u32, s: &process::ProcStat| {
        pid != me && (s.pgrp == pgid || s.ppid == me || (own_session && s.session == me))
    };
    match process::kill_all(belongs, Duration::from_secs(2), || {
        reap(None);
    }) {
        Ok(0) => {}
        Ok(n) => diag(format_args!(
            "killed {n} process(es) left behind by the command"
        )),
        Err(e) => diag(format_args!(
            "failed to look for processes left behind: {e}"
        )),
    }
    reap(None);
}

/// Reaps every child that has exited (the leader, and orphans we adopted as subreaper);
/// returns the leader's status if it was among them.
pub(super) fn reap(leader: Option<Pid>) -> Option<WaitStatus> {
    let mut leader_status = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return leader_status,
            Err(Errno::EINTR) => {}
            Err(e) => {
                diag(format_args!("failed to reap children: {e}"));
                return leader_status;
            }
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..)))
                if status.pid() == leader =>
            {
                leader_status = Some(status);
            }
            Ok(_) => {}
        }
    }
}

fn signal_group(pgid: Pid, signal: Signal) {
    match killpg(pgid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => diag(format_args!(
            "failed to send {signal} to process group {pgid}: {e}"
        )),
    }
}

fn ending(status: WaitStatus, reason: Option<String>) -> Ending {
    let (code, signal) = match status {
        WaitStatus::Exited(_, code) => (Some(code), None),
        WaitStatus::Signaled(_, signal, _) => (None, Some(signal as i32)),
        _ => (None, None),
    };
    Ending {
        code,
        signal,
        reason,
    }
}

fn human(d: Duration) -> String {
    match d.as_millis() {
        ms if ms % 1000 == 0 => format!("{} s", ms / 1000),
        ms => format!("{ms} ms"),
    }
}
