//! Starting a pod: write its spec, start its shim, wait for the shim's one-line report.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, BufReader, Interest};

use super::launcher::{ForkedShim, Launcher};
use super::{container, LauncherState, LocalRuntime, PodLaunch};
use crate::contract::{Placement, Started};
use crate::error::RuntimeError;
use crate::pod_dir::{lock_spec, open_append, read_json, write_json_atomic, Durability, PodDir};
use crate::pod_files::{ContainersOf, PodExit, PodSpec, ShimStarted};
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
            container::ensure_images(image)
                .await
                .map_err(|(image, detail)| RuntimeError::ImagePull {
                    pod_id: pod.pod_id.clone(),
                    image,
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
            hosts: pod.hosts,
            addressed_hosts: Default::default(),
            scratch: pod.scratch,
            containers: pod.image.as_ref().map(|image| ContainersOf {
                engine: image.engine.clone(),
                in_pod: image.in_pod,
            }),
        };
        let spec_containers = spec.containers.clone();
        let (mut shim, stdout) = {
            let (runtime, dir) = (self.clone(), dir.clone());
            self.off_worker(move || runtime.write_spec_and_start(&dir, &spec))
                .await
                .map_err(|error| RuntimeError::SpawnShim {
                    pod_id: pod.pod_id.clone(),
                    program: self.inner.shim_program.clone(),
                    error,
                })??
        };
        if let Some(handle) = shim.handle() {
            self.launching().insert(dir.path().to_path_buf(), handle);
        }
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
                        shim.kill_with_pod();
                        shim.forget();
                        return Err(shim_error(format!(
                            "reported a start without a readable started.json ({other:?})"
                        )));
                    }
                };
                let mut watcher = self.watcher(&pod.pod_uid, dir.path().to_path_buf());
                watcher.containers = spec_containers;
                shim.watch(watcher);
                Ok(self.started(started))
            }
            Ok(Ok(_)) if line.starts_with("failed ") => {
                shim.forget();
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
                let how = shim.ended().await;
                Err(shim_error(format!(
                    "ended before starting the command ({how}); see {}",
                    dir.shim_log().display()
                )))
            }
            Ok(Err(e)) => {
                shim.kill();
                shim.forget();
                Err(shim_error(format!("could not be read from: {e}")))
            }
            Err(_elapsed) => {
                shim.kill_with_pod();
                shim.forget();
                Err(RuntimeError::StartTimeout {
                    pod_id: pod.pod_id,
                    timeout: START_TIMEOUT,
                })
            }
        }
    }
}

impl LocalRuntime {
    /// A start as its shim recorded it (started.json), on this host.
    pub(super) fn started(&self, started: ShimStarted) -> Started {
        Started {
            pid: started.pid,
            started_at: started.started_at,
            placement: Placement {
                node: self.inner.node.clone(),
                ip: super::POD_IP.to_string(),
            },
            // How the shim holds the pod to its limits, or why it does not.
            description: started.limits,
        }
    }

    /// The blocking part of a launch: the pod's directory and spec.json, then its shim.
    fn write_spec_and_start(
        &self,
        dir: &PodDir,
        spec: &PodSpec,
    ) -> Result<(Shim, ShimStdout), RuntimeError> {
        let spec_error = |error| RuntimeError::WriteSpec {
            pod_id: spec.pod_id.clone(),
            path: dir.spec(),
            error,
        };
        std::fs::create_dir_all(dir.path()).map_err(spec_error)?;
        write_json_atomic(&dir.spec(), spec, Durability::ProcessCrash).map_err(spec_error)?;
        // Nobody else opens this new file to lock it but a recovering server, which only
        // does after we are gone.
        let lock = lock_spec(dir)
            .and_then(|lock| lock.ok_or_else(|| io::Error::other("spec.json is locked")))
            .map_err(spec_error)?;
        self.start_shim(dir, &super::launcher::pod_owner(spec), lock)
            .map_err(|error| RuntimeError::SpawnShim {
                pod_id: spec.pod_id.clone(),
                program: self.inner.shim_program.clone(),
                error,
            })
    }

    /// Starts the shim of the pod at `dir`, through the launcher where it runs (started with
    /// the first pod, again after it died), else as a program of its own. Returns the shim
    /// and its stdout, where it announces the start. `lock` ([`lock_spec`]) becomes the
    /// shim's stdin; `owner`: see [`super::launcher::pod_owner`].
    fn start_shim(&self, dir: &PodDir, owner: &str, lock: File) -> io::Result<(Shim, ShimStdout)> {
        let mut launcher = self.launcher();
        if let LauncherState::NotStarted = *launcher {
            *launcher = match Launcher::start(&self.inner.shim_program) {
                Ok(started) => LauncherState::Running(Arc::new(started)),
                Err(e) => {
                    tracing::warn!(
                        "failed to start the shim launcher, starting shims directly: {e}"
                    );
                    LauncherState::Unavailable
                }
            };
        }
        if let LauncherState::Running(running) = &*launcher {
            let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            let lock = lock.try_clone()?;
            match running.fork_shim(dir.path(), owner, write, lock) {
                Ok(forked) => {
                    let stdout = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
                    return Ok((Shim::Forked(forked), Box::pin(stdout)));
                }
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    tracing::warn!(
                        "the shim launcher cannot work here, starting shims directly: {e}"
                    );
                    *launcher = LauncherState::Unavailable;
                }
                Err(e) => {
                    // Started again for the next pod; this one starts directly.
                    tracing::warn!("the shim launcher failed, starting this shim directly: {e}");
                    *launcher = LauncherState::NotStarted;
                }
            }
        }
        drop(launcher);
        let mut command = std::process::Command::new(&self.inner.shim_program);
        command
            .arg("shim")
            .arg("--dir")
            .arg(dir.path())
            // Not the server's directory: a long-lived process should not pin it.
            .current_dir("/")
            .stdin(lock)
            .stdout(Stdio::piped())
            .stderr(open_append(&dir.shim_log())?);
        // The shim makes itself a session leader as its first act. Doing it here (pre_exec)
        // would force std to fork the whole server instead of using posix_spawn.
        without_server_secrets(&mut command);
        let mut child = tokio::process::Command::from(command).spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        Ok((Shim::Child(child), Box::pin(stdout)))
    }
}

/// Where a starting shim announces itself.
type ShimStdout = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// A shim being started: the server's own child, or forked by the launcher.
enum Shim {
    Child(tokio::process::Child),
    Forked(ForkedShim),
}

/// How `stop` reaches a shim that has not reported yet (see [`LocalRuntime::stop`]).
pub(super) enum StartingShim {
    /// Our unreaped child: its pid cannot name another process meanwhile.
    Child(u32),
    /// The launcher's.
    Forked(OwnedFd),
}

impl StartingShim {
    pub fn signal(&self, signal: Signal) {
        let _ = match self {
            Self::Child(pid) => kill(Pid::from_raw(*pid as i32), signal).map_err(io::Error::from),
            Self::Forked(pidfd) => process::pidfd_send_signal(pidfd, signal),
        };
    }
}

impl Shim {
    fn pid(&self) -> u32 {
        match self {
            Self::Child(child) => child.id().unwrap_or_default(),
            Self::Forked(forked) => forked.pid,
        }
    }

    /// For `stop`, while the shim starts; `None` if it cannot be reached safely.
    fn handle(&self) -> Option<StartingShim> {
        match self {
            Self::Child(child) => child.id().map(StartingShim::Child),
            Self::Forked(forked) => forked.pidfd.try_clone().ok().map(StartingShim::Forked),
        }
    }

    fn kill(&mut self) {
        match self {
            Self::Child(child) => {
                let _ = child.start_kill();
            }
            Self::Forked(forked) => {
                let _ = process::pidfd_send_signal(&forked.pidfd, Signal::SIGKILL);
            }
        }
    }

    /// Kills a shim that misbehaved while starting, and anything it started (in its session).
    fn kill_with_pod(&mut self) {
        let pid = self.pid();
        // Its start time names its session's processes; read while the pid is surely the
        // shim's: ours is unreaped, the launcher's has not exited (its pidfd says) after the read.
        let ticks = process::stat(pid).ok().flatten().map(|s| s.start_ticks);
        let ticks = match self {
            Self::Forked(forked) if process::has_exited(&forked.pidfd) => None,
            _ => ticks,
        };
        self.kill();
        if let Some(ticks) = ticks {
            let _ = process::kill_orphaned_pod(pid, ticks, Duration::ZERO);
        }
    }

    /// Watches the started shim until it ends.
    fn watch(self, watcher: super::watch::Watcher) {
        match self {
            Self::Child(child) => watcher.child(child),
            Self::Forked(forked) => watcher.forked(forked),
        }
    }

    /// Waits for a shim that ended early, and says how it ended.
    async fn ended(self) -> String {
        match self {
            Self::Child(mut child) => match child.wait().await {
                Ok(status) => status.to_string(),
                Err(e) => e.to_string(),
            },
            Self::Forked(forked) => {
                // SAFETY: the AsyncFd owns the pidfd, which stays open as long as it does.
                let pidfd =
                    unsafe { AsyncFd::register_with_interest(forked.pidfd, Interest::READABLE) };
                if let Ok(pidfd) = pidfd {
                    let _ = pidfd.readable().await;
                }
                format!("pid {} exited", forked.pid)
            }
        }
    }

    /// Lets go of a shim that has nothing more to tell us (the launcher reaps its own; ours is
    /// reaped in the background).
    fn forget(self) {
        if let Self::Child(mut child) = self {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

/// The environment of everything the server starts to outlive it (the launcher, the shims):
/// the server's own, without its `OPENDLC_*` variables — server secrets have no business in a
/// long-lived process's environment.
pub(super) fn without_server_secrets(command: &mut std::process::Command) {
    for (name, _) in std::env::vars_os() {
        if name.as_encoded_bytes().starts_with(b"OPENDLC_") {
            command.env_remove(name);
        }
    }
}
