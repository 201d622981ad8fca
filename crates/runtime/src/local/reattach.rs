//! Taking over a pod that an earlier server launched.

use std::path::Path;
use std::time::Duration;

use super::watch::Watcher;
use super::{LocalRuntime, PodEvent};
use crate::error::RuntimeError;
use crate::pod_dir::{lock_spec, read_json, PodDir};
use crate::pod_files::{PodExit, PodSpec, ShimStarted};
use crate::process;

/// How often a pod whose shim is still starting is looked at after a restart.
const START_POLL: Duration = Duration::from_millis(20);

impl LocalRuntime {
    /// After a server restart, watches a pod launched by an earlier server. Exactly one
    /// [`PodEvent`] follows: `Exited` at once if exit.json exists; otherwise `Exited` or `Lost`
    /// when its shim ends (told by a pidfd, no polling); `Lost` at once if the shim is already
    /// gone without exit.json. A pod whose shim has not started the command yet (no
    /// started.json, its spec locked: [`crate::pod_dir::lock_spec`]) is looked at until it
    /// has, then watched; `Lost` if its shim ends first. `Err` (no event) only if the pod's
    /// files cannot be read.
    pub fn reattach(&self, pod_uid: &str, dir: &Path) -> Result<(), RuntimeError> {
        self.reattach_then(pod_uid, dir, false)
    }

    /// [`Self::reattach`]; with `stop`, a pod still starting is stopped once it has started
    /// (one that runs is the caller's to stop).
    pub(super) fn reattach_then(
        &self,
        pod_uid: &str,
        dir: &Path,
        stop: bool,
    ) -> Result<(), RuntimeError> {
        let pod = PodDir::new(dir);
        let mut watcher = self.watcher(pod_uid, dir.to_path_buf());
        // Its containers, if it runs in any, as the server that launched it wrote them down:
        // what is left of them goes once it is over (a container is removed by the server
        // that sees its pod end, which was none for a pod that ended while none ran).
        if let Ok(Some(spec)) = read_json::<PodSpec>(&pod.spec()) {
            watcher.containers = spec.containers;
        }
        if let Some(exit) = read(&pod.exit(), read_json::<PodExit>)? {
            let event = PodEvent::Exited {
                pod_uid: pod_uid.to_string(),
                exit,
            };
            match watcher.containers {
                Some(_) => drop(tokio::spawn(async move {
                    watcher.remove_containers().await;
                    watcher.send(event);
                })),
                None => watcher.send(event),
            }
            return Ok(());
        }
        match read(&pod.started(), read_json::<ShimStarted>)? {
            Some(started) => watch(watcher, pod_uid, started),
            None => {
                let runtime = self.clone();
                tokio::spawn(async move { runtime.await_start(watcher, pod, stop).await });
            }
        }
        Ok(())
    }

    /// Looks at a pod whose shim is starting until it has started the command (then watches
    /// it), recorded its end, or ended without either.
    async fn await_start(self, watcher: Watcher, pod: PodDir, stop: bool) {
        let pod_uid = watcher.pod_uid.clone();
        let lost = |reason: String| PodEvent::Lost {
            pod_uid: pod_uid.clone(),
            reason,
        };
        loop {
            // The lock first: a shim that let go of it has written whatever it was to write.
            // Held is the one answer that says a shim is there; a lock that cannot be looked
            // at (spec.json gone) is not waited on.
            let shim_gone = !matches!(lock_spec(&pod), Ok(None));
            match read_json::<PodExit>(&pod.exit()) {
                Ok(Some(exit)) => {
                    return watcher.send(PodEvent::Exited {
                        pod_uid: pod_uid.clone(),
                        exit,
                    })
                }
                Ok(None) => {}
                Err(e) => return watcher.send(lost(format!("its exit.json is unreadable: {e}"))),
            }
            match read_json::<ShimStarted>(&pod.started()) {
                Ok(Some(started)) => {
                    watch(watcher, &pod_uid, started);
                    if stop {
                        if let Err(e) = self.stop(pod.path()) {
                            tracing::warn!(pod.uid = %pod_uid, "failed to stop the pod: {e}");
                        }
                    }
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    return watcher.send(lost(format!("its started.json is unreadable: {e}")))
                }
            }
            if shim_gone {
                return watcher.send(lost(format!(
                    "the server stopped while starting the pod, and its shim ended without \
                     starting the command (no started.json; see {})",
                    pod.shim_log().display()
                )));
            }
            tokio::time::sleep(START_POLL).await;
        }
    }
}

/// Watches the shim `started` names until it ends.
fn watch(watcher: Watcher, pod_uid: &str, started: ShimStarted) {
    match process::open_verified(started.shim_pid, started.shim_start_ticks) {
        Ok(Some(pidfd)) => watcher.pidfd(pidfd, started.shim_pid),
        Ok(None) => {
            let how = format!("(pid {}) is gone", started.shim_pid);
            tokio::spawn(async move { watcher.conclude(|| how).await });
        }
        Err(e) => {
            tracing::debug!(pod.uid = %pod_uid, "no pidfd for the shim, polling: {e}");
            watcher.poll(started.shim_pid, started.shim_start_ticks);
        }
    }
}

fn read<T>(
    path: &Path,
    f: impl Fn(&Path) -> std::io::Result<Option<T>>,
) -> Result<Option<T>, RuntimeError> {
    f(path).map_err(|error| RuntimeError::ReadPodFile {
        path: path.to_path_buf(),
        error,
    })
}
