//! Starting a pod: write its spec, start its shim, wait for the shim's one-line report.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::{container, LocalRuntime, PodLaunch};
use crate::contract::{Placement, Started};
use crate::error::RuntimeError;
use crate::pod_dir::{open_append, read_json, write_json_atomic, Durability, PodDir};
use crate::pod_files::{PodExit, PodSpec, ShimStarted};
use crate::process;

/// How long a shim may take to start the command and say so. It takes milliseconds; this only
/// bounds a shim that hangs (a stuck file system, say).
const START_TIMEOUT: Duration = Duration::from_secs(10);

impl LocalRuntime {
    /// Writes spec.json, starts the shim and waits for its `started`/`failed` line (no polling:
    /// a read on the shim's stdout). After `Ok`, exactly one [`super::PodEvent`] follows for
    /// this pod_uid (unless the runtime is dropped first). After `Err`, none does; for
    /// [`RuntimeError::CommandNotStarted`] the pod directory holds exit.json as well.
    pub async fn launch(&self, pod: PodLaunch) -> Result<Started, RuntimeError> {
        if let Some(image) = &pod.image {
            container::ensure_image(image)
                .await
                .map_err(|detail| RuntimeError::ImagePull {
                    pod_id: pod.pod_id.clone(),
                    image: image.image.clone(),
                    detail,
                })?;
        }
        let dir = PodDir::new(&pod.dir);
        let spec = PodSpec {
            pod_id: pod.pod_id.clone(),
            pod_uid: pod.pod_uid.clone(),
            command: pod.command,
            view: pod.view,
            workdir: pod.workdir,
            env: pod.env,
            // Every address is this host's: rendered already.
            addressed_env: Default::default(),
            grace_period_ms: u64::try_from(pod.grace_period.as_millis()).unwrap_or(u64::MAX),
            limits: pod.limits,
            cpus: pod.cpus,
            // The server samples local pods itself, through /proc.
            sample_every_ms: None,
            peers: Default::default(),
        };
        let spec_error = |error| RuntimeError::WriteSpec {
            pod_id: pod.pod_id.clone(),
            path: dir.spec(),
            error,
        };
        std::fs::create_dir_all(dir.path()).map_err(spec_error)?;
        write_json_atomic(&dir.spec(), &spec, Durability::ProcessCrash).map_err(spec_error)?;
        let shim_log = open_append(&dir.shim_log()).map_err(spec_error)?;

        let mut command = Command::new(&self.inner.shim_program);
        command
            .arg("shim")
            .arg("--dir")
            .arg(dir.path())
            // Not the server's directory: a long-lived process should not pin it.
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(shim_log);
        // The shim makes itself a session leader as its first act. Doing it here (pre_exec)
        // would force std to fork the whole server instead of using posix_spawn.
        for (name, _) in std::env::vars_os() {
            if name.as_encoded_bytes().starts_with(b"OPENDLC_") {
                // Server secrets have no business in a long-lived process's environment.
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().map_err(|error| RuntimeError::SpawnShim {
            pod_id: pod.pod_id.clone(),
            program: self.inner.shim_program.clone(),
            error,
        })?;
        let shim_pid = child.id().unwrap_or_default();
        self.launching().insert(dir.path().to_path_buf(), shim_pid);
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        let read =
            tokio::time::timeout(START_TIMEOUT, BufReader::new(stdout).read_line(&mut line)).await;
        self.launching().remove(dir.path());

        let shim_error = |detail: String| RuntimeError::Shim {
            pod_id: pod.pod_id.clone(),
            detail,
        };
        match read {
            Ok(Ok(_)) if line.starts_with("started ") => {
                let started: ShimStarted = match read_json(&dir.started()) {
                    Ok(Some(started)) => started,
                    // Cannot happen with a working shim (it writes the file first); if it does,
                    // the pod could not be re-attached later, so it must not run.
                    other => {
                        kill_shim_and_pod(&mut child, shim_pid);
                        reap_later(child);
                        return Err(shim_error(format!(
                            "reported a start without a readable started.json ({other:?})"
                        )));
                    }
                };
                let mut watcher = self.watcher(&pod.pod_uid, dir.path().to_path_buf());
                watcher.container_engine = pod.image.as_ref().map(|i| i.engine.clone());
                watcher.child(child);
                Ok(Started {
                    pid: started.pid,
                    started_at: started.started_at,
                    placement: Placement {
                        node: self.inner.node.clone(),
                        ip: super::POD_IP.to_string(),
                    },
                    // How the shim holds the pod to its limits, or why it does not.
                    description: started.limits,
                })
            }
            Ok(Ok(_)) if line.starts_with("failed ") => {
                reap_later(child);
                let reason = line["failed ".len()..].trim_end().to_string();
                let exit = match read_json::<PodExit>(&dir.exit()) {
                    Ok(Some(exit)) => exit,
                    _ => PodExit {
                        code: Some(127),
                        signal: None,
                        finished_at: chrono::Utc::now(),
                        reason: Some(reason),
                    },
                };
                Err(RuntimeError::CommandNotStarted {
                    pod_id: pod.pod_id,
                    exit,
                })
            }
            Ok(Ok(_)) => {
                let status = child.wait().await;
                Err(shim_error(format!(
                    "ended before starting the command ({}); see {}",
                    match status {
                        Ok(status) => status.to_string(),
                        Err(e) => e.to_string(),
                    },
                    dir.shim_log().display()
                )))
            }
            Ok(Err(e)) => {
                let _ = child.start_kill();
                reap_later(child);
                Err(shim_error(format!("could not be read from: {e}")))
            }
            Err(_elapsed) => {
                kill_shim_and_pod(&mut child, shim_pid);
                reap_later(child);
                Err(RuntimeError::StartTimeout {
                    pod_id: pod.pod_id,
                    timeout: START_TIMEOUT,
                })
            }
        }
    }
}

/// Kills a shim that misbehaved while starting, and anything it started (in its session).
fn kill_shim_and_pod(child: &mut tokio::process::Child, shim_pid: u32) {
    // The shim is our unreaped child, so its pid cannot name another process meanwhile.
    let ticks = process::stat(shim_pid)
        .ok()
        .flatten()
        .map(|s| s.start_ticks);
    let _ = child.start_kill();
    if let Some(ticks) = ticks {
        let _ = process::kill_orphaned_pod(shim_pid, ticks, Duration::ZERO);
    }
}

/// Reaps a shim that has nothing more to tell us.
fn reap_later(mut child: tokio::process::Child) {
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
}
