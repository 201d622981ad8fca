//! The local runtime: every pod is a process group on this host, supervised by a shim that
//! outlives the server. This side starts one shim per pod, tells the server when a pod ends,
//! stops pods, and after a server restart picks up the shims an earlier server started;
//! `render` turns the engine's recipes into what the shims run.
//!
//! The supervisor keeps no state that matters: everything it knows is in the pod directories,
//! so dropping it (or killing the server) loses nothing. Dropping the last [`LocalRuntime`]
//! handle ends its watcher tasks (no more events); the shims and pods keep running and a new
//! `LocalRuntime` takes them over with [`LocalRuntime::reattach`].

mod lane;
mod launch;
mod launcher;
mod reattach;
mod stop;
mod watch;

mod container;
mod render;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch as signal};

pub use crate::contract::{PodEvent, Started};
use crate::pod_files::Limits;
pub use container::ContainerImage;
pub use stop::kill_now;

/// Where every pod of the local runtime is reached: they all run on this host.
pub const POD_IP: &str = "127.0.0.1";

/// What the supervisor runs: one incarnation of one pod, its recipe rendered into one command
/// line for the shim (`render`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLaunch {
    pub pod_id: String,
    pub pod_uid: String,
    /// The incarnation's own directory (`<data>/jobs/<job_id>/pods/<pod_uid>/`); created if
    /// missing.
    pub dir: PathBuf,
    /// Run as `/bin/sh -c COMMAND`.
    pub command: String,
    /// The view the shim makes for the command (`PodSpec::view`).
    pub view: Option<crate::pod::mounts::MountSpec>,
    pub workdir: PathBuf,
    /// Set on top of the server's environment, minus its `OPENDLC_*` variables.
    pub env: BTreeMap<String, String>,
    /// Between SIGTERM and SIGKILL when the pod is stopped.
    pub grace_period: Duration,
    /// CPU and memory limits (the local runtime enforces them through cgroups where it can).
    pub limits: Option<Limits>,
    /// The cores its processes are pinned to; empty: any.
    pub cpus: Vec<u32>,
    /// The image to make sure of before the pod starts, when it runs in a container (its
    /// command is then the engine's `run`: `container`).
    pub image: Option<ContainerImage>,
    /// The job's pods' names and addresses, for an `/etc/hosts` of the pod's own
    /// (`PodSpec::hosts`); empty where its view or container has them already.
    pub hosts: BTreeMap<String, String>,
    /// Removed by the shim at the pod's end (`PodSpec::scratch`).
    pub scratch: Vec<PathBuf>,
}

/// The local runtime's supervisor. Cheap to clone (handles share one state); must be used from
/// within a tokio runtime with I/O and time enabled.
#[derive(Clone)]
pub struct LocalRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    shim_program: PathBuf,
    /// This host's name, where every pod runs.
    node: String,
    /// Pods with an image run in it through this engine (`podman`); `None`: on the host.
    container_engine: Option<PathBuf>,
    events: mpsc::UnboundedSender<PodEvent>,
    /// Never sent on: watcher tasks end when it is dropped with the last handle.
    shutdown: signal::Sender<()>,
    /// Shims started by `launch` that have not reported yet, by pod directory: `stop` finds
    /// them here before started.json exists.
    launching: Mutex<HashMap<PathBuf, launch::StartingShim>>,
    /// The process that forks the shims.
    launcher: Mutex<LauncherState>,
    /// Where the blocking steps of pod starts run (`None`: its thread could not be started,
    /// they run where they are asked for).
    starter: OnceLock<Option<lane::Lane>>,
    /// Where pods' cgroups left behind are looked for and removed (`None`: as `starter`).
    sweeper: OnceLock<Option<lane::Lane>>,
    /// Whether a pod without a sandbox may have a view of its own (its `/etc/hosts` with the
    /// job's names), found out with the first pod that would.
    own_views: OnceLock<bool>,
}

/// Whether shims are forked by a launcher (`launcher`) or started as programs of their own.
enum LauncherState {
    /// Started with the next pod.
    NotStarted,
    Running(Arc<launcher::Launcher>),
    /// It could not be started, or cannot fork shims here: every shim starts directly.
    Unavailable,
}

impl LocalRuntime {
    /// `shim_program` is the opendlc binary (run as `<it> shim --dir DIR`); pod ends are sent
    /// on `events`.
    pub fn new(shim_program: PathBuf, events: mpsc::UnboundedSender<PodEvent>) -> Self {
        Self::with_config(shim_program, "localhost".into(), None, events)
    }

    /// A runtime on the host named `node`, running pods that have an image in it through
    /// `container_engine` when there is one.
    pub fn with_config(
        shim_program: PathBuf,
        node: String,
        container_engine: Option<PathBuf>,
        events: mpsc::UnboundedSender<PodEvent>,
    ) -> Self {
        // Where pods' cgroups are, worked out once for the sweeps after pods end.
        crate::pod::cgroup::learn_parents();
        Self {
            inner: Arc::new(Inner {
                shim_program,
                node,
                container_engine,
                events,
                shutdown: signal::channel(()).0,
                launching: Mutex::new(HashMap::new()),
                launcher: Mutex::new(LauncherState::NotStarted),
                starter: OnceLock::new(),
                sweeper: OnceLock::new(),
                own_views: OnceLock::new(),
            }),
        }
    }

    fn launching(&self) -> MutexGuard<'_, HashMap<PathBuf, launch::StartingShim>> {
        self.inner
            .launching
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn launcher(&self) -> MutexGuard<'_, LauncherState> {
        self.inner
            .launcher
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a blocking step of a pod's start off the runtime's workers (`lane.rs`).
    async fn off_worker<T: Send + 'static>(
        &self,
        step: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<T> {
        match started(&self.inner.starter, "pod-starter") {
            Some(starter) => starter.run(step).await,
            None => Ok(step()),
        }
    }

    /// Whether pods without a sandbox can have a view of their own here (said once if not).
    fn own_views(&self) -> bool {
        *self
            .inner
            .own_views
            .get_or_init(|| match crate::pod::mounts::can_have_own_view() {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(
                        "the job's pod names do not resolve in pods without a sandbox here: \
                         a pod may make no mount namespace (the server is not root, and the \
                         kernel refuses an unprivileged user namespace: {e})"
                    );
                    false
                }
            })
    }

    fn watcher(&self, pod_uid: &str, dir: PathBuf) -> watch::Watcher {
        watch::Watcher {
            pod_uid: pod_uid.to_string(),
            dir: crate::pod_dir::PodDir::new(dir),
            events: self.inner.events.clone(),
            shutdown: self.inner.shutdown.subscribe(),
            containers: None,
            sweeper: started(&self.inner.sweeper, "cgroup-sweeper").cloned(),
        }
    }
}

/// The lane `name`, started the first time it is asked for.
fn started<'a>(lane: &'a OnceLock<Option<lane::Lane>>, name: &str) -> Option<&'a lane::Lane> {
    lane.get_or_init(|| {
        lane::Lane::start(name)
            .inspect_err(|e| tracing::warn!("failed to start the {name} thread: {e}"))
            .ok()
    })
    .as_ref()
}
