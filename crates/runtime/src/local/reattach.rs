//! Taking over a pod that an earlier server launched.

use std::path::Path;

use super::{LocalRuntime, PodEvent};
use crate::error::RuntimeError;
use crate::pod_dir::{read_json, PodDir};
use crate::pod_files::{PodExit, ShimStarted};
use crate::process;

impl LocalRuntime {
    /// After a server restart, watches a pod launched by an earlier server. Exactly one
    /// [`PodEvent`] follows: `Exited` at once if exit.json exists; otherwise `Exited` or `Lost`
    /// when its shim ends (told by a pidfd, no polling); `Lost` at once if the shim is already
    /// gone without exit.json, or if the pod never got as far as started.json (the server died
    /// while launching it). `Err` (no event) only if the pod's files cannot be read.
    pub fn reattach(&self, pod_uid: &str, dir: &Path) -> Result<(), RuntimeError> {
        let pod = PodDir::new(dir);
        let watcher = self.watcher(pod_uid, dir.to_path_buf());
        if let Some(exit) = read(&pod.exit(), read_json::<PodExit>)? {
            watcher.send(PodEvent::Exited {
                pod_uid: pod_uid.to_string(),
                exit,
            });
            return Ok(());
        }
        let Some(started) = read(&pod.started(), read_json::<ShimStarted>)? else {
            // The pod may have a shim about to start the command: its `started` line would then
            // hit a closed pipe (our predecessor is gone), and it kills the pod itself.
            watcher.send(PodEvent::Lost {
                pod_uid: pod_uid.to_string(),
                reason: "the server stopped while starting the pod (no started.json)".into(),
            });
            return Ok(());
        };
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
        Ok(())
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
