//! Stopping a pod: ask its shim, which owns the grace period.

use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::LocalRuntime;
use crate::error::RuntimeError;
use crate::pod_dir::{read_json, PodDir};
use crate::pod_files::{PodSpec, ShimStarted};
use crate::process;

impl LocalRuntime {
    /// Asks the pod to stop: SIGTERM to its shim, which forwards it to the command's process
    /// group and SIGKILLs the group after the grace period. Returns at once; the pod's end
    /// arrives as the usual [`super::PodEvent`]. If the shim is gone but processes of the pod
    /// are left, they are SIGKILLed. Idempotent: stopping an ended pod does nothing.
    pub fn stop(&self, dir: &Path) -> Result<(), RuntimeError> {
        let pod = PodDir::new(dir);
        let stop_error = |error| RuntimeError::Stop {
            dir: dir.to_path_buf(),
            error,
        };
        if pod.exit().exists() {
            return Ok(());
        }
        let started = read_json::<ShimStarted>(&pod.started()).map_err(|error| {
            RuntimeError::ReadPodFile {
                path: pod.started(),
                error,
            }
        })?;
        let Some(started) = started else {
            // Still starting: the shim forwards the SIGTERM once the command runs.
            if let Some(shim) = self.launching().get(dir) {
                shim.signal(Signal::SIGTERM);
            }
            return Ok(());
        };
        match process::open_verified(started.shim_pid, started.shim_start_ticks) {
            Ok(Some(shim)) if !process::has_exited(&shim) => {
                process::pidfd_send_signal(&shim, Signal::SIGTERM).map_err(stop_error)
            }
            // Gone, or a zombie not reaped yet (its new parent may take its time): nobody
            // forwards the signal.
            Ok(_) => {
                // One quick pass: whoever watches this pod reports it lost and kills the rest.
                process::kill_orphaned_pod(
                    started.shim_pid,
                    started.shim_start_ticks,
                    std::time::Duration::ZERO,
                )
                .map(drop)
                .map_err(stop_error)
            }
            // No pidfds (Linux < 5.3): check, then signal by pid.
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                if process::is_alive(started.shim_pid, started.shim_start_ticks)
                    .map_err(stop_error)?
                {
                    let _ = kill(Pid::from_raw(started.shim_pid as i32), Signal::SIGTERM);
                }
                Ok(())
            }
            Err(error) => Err(stop_error(error)),
        }
    }
}

/// Ends a pod at once, its grace period skipped: SIGKILL to its shim and to every process of
/// the shim's session (the pod's), if that shim is still the one that started the pod, and its
/// cgroup, containers and scratch removed; it returns once the shim has ended. For a caller
/// that must leave nothing running behind it, such as a test harness tearing down its server;
/// the pod's end is not recorded.
pub fn kill_now(dir: &Path) -> Result<(), RuntimeError> {
    let pod = PodDir::new(dir);
    // A shim still starting (it holds the pod's lock, no started.json yet) runs its pod on
    // whoever is gone: it is waited for, briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !pod.started().exists()
        && matches!(crate::pod_dir::lock_spec(&pod), Ok(None))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let Ok(Some(started)) = read_json::<ShimStarted>(&pod.started()) else {
        return Ok(());
    };
    let stop_error = |error| RuntimeError::Stop {
        dir: dir.to_path_buf(),
        error,
    };
    process::kill_orphaned_pod(
        started.shim_pid,
        started.shim_start_ticks,
        std::time::Duration::from_secs(1),
    )
    .map_err(stop_error)?;
    if process::is_alive(started.shim_pid, started.shim_start_ticks).map_err(stop_error)? {
        let _ = kill(Pid::from_raw(started.shim_pid as i32), Signal::SIGKILL);
    }
    // Gone (or a zombie) before this returns: the shim writes nothing in the pod's directory
    // once its caller goes on to remove it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while process::is_running(started.shim_pid, started.shim_start_ticks).map_err(stop_error)?
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // A killed shim leaves its pod's cgroup; the pod's directory is named after its PodUid.
    if let Some(pod_uid) = dir.file_name().and_then(|n| n.to_str()) {
        crate::pod::cgroup::remove_left_by(pod_uid, std::time::Duration::from_secs(2))
            .map_err(|e| stop_error(std::io::Error::other(e)))?;
    }
    // What is left of its containers (a `podman run` killed on its way may leave one made,
    // never started), and what it would have removed as the pod ended (`PodSpec::scratch`).
    let Ok(Some(spec)) = read_json::<PodSpec>(&pod.spec()) else {
        return Ok(());
    };
    if let Some(containers) = &spec.containers {
        super::container::remove_now(containers, &spec.pod_uid);
    }
    match crate::pod_files::remove_scratch(&spec).into_iter().next() {
        Some(failure) => Err(stop_error(std::io::Error::other(failure))),
        None => Ok(()),
    }
}
