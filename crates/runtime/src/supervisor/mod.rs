//! The server side of the local runtime: starts one shim per pod, tells the server when a pod
//! ends, stops pods, and after a server restart picks up the shims an earlier server started.
//!
//! The supervisor keeps no state that matters: everything it knows is in the pod directories,
//! so dropping it (or killing the server) loses nothing. Dropping the last [`LocalRuntime`]
//! handle ends its watcher tasks (no more events); the shims and pods keep running and a new
//! `LocalRuntime` takes them over with [`LocalRuntime::reattach`].

mod launch;
mod reattach;
mod stop;
mod watch;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch as signal};

use crate::container::ContainerImage;
use crate::pod_files::{Limits, PodExit};

/// What the server asks to run: one incarnation of one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLaunch {
    pub pod_id: String,
    pub pod_uid: String,
    /// The incarnation's own directory (`<data>/jobs/<job_id>/pods/<pod_uid>/`); created if
    /// missing.
    pub dir: PathBuf,
    /// Run as `/bin/sh -c COMMAND`.
    pub command: String,
    pub workdir: PathBuf,
    /// Set on top of the server's environment, minus its `OPENDLC_*` variables.
    pub env: BTreeMap<String, String>,
    /// Between SIGTERM and SIGKILL when the pod is stopped.
    pub grace_period: Duration,
    /// CPU and memory limits (the local runtime enforces them through cgroups where it can).
    pub limits: Option<Limits>,
    /// The image to make sure of before the pod starts, when it runs in a container (its
    /// command is then the engine's `run`: [`crate::container`]).
    pub image: Option<ContainerImage>,
}

/// The command is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The command's pid (`sh`), also its process group id.
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    /// Where the pod runs, when not on this host (the Slurm runtime: the node's name and
    /// address); `None` on the local runtime.
    pub placement: Option<Placement>,
    /// How the pod's limits are enforced, or why they are not (see `ShimStarted::limits`).
    pub limits: Option<String>,
}

/// The node a pod runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub node: String,
    pub ip: String,
}

/// How a pod ended; exactly one per successful launch or reattach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodEvent {
    /// The shim recorded the exit (exit.json); every log line is on disk.
    Exited { pod_uid: String, exit: PodExit },
    /// The shim is gone without recording an exit (it was killed, or the server stopped while
    /// starting the pod). Whatever was left of the pod has been killed.
    Lost { pod_uid: String, reason: String },
}

impl PodEvent {
    pub fn pod_uid(&self) -> &str {
        match self {
            PodEvent::Exited { pod_uid, .. } | PodEvent::Lost { pod_uid, .. } => pod_uid,
        }
    }
}

/// The local runtime's supervisor. Cheap to clone (handles share one state); must be used from
/// within a tokio runtime with I/O and time enabled.
#[derive(Clone)]
pub struct LocalRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    shim_program: PathBuf,
    events: mpsc::UnboundedSender<PodEvent>,
    /// Never sent on: watcher tasks end when it is dropped with the last handle.
    shutdown: signal::Sender<()>,
    /// Shims started by `launch` that have not reported yet, by pod directory: `stop` finds
    /// them here before started.json exists.
    launching: Mutex<HashMap<PathBuf, u32>>,
}

impl LocalRuntime {
    /// `shim_program` is the opendlc binary (run as `<it> shim --dir DIR`); pod ends are sent
    /// on `events`.
    pub fn new(shim_program: PathBuf, events: mpsc::UnboundedSender<PodEvent>) -> Self {
        Self {
            inner: Arc::new(Inner {
                shim_program,
                events,
                shutdown: signal::channel(()).0,
                launching: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn launching(&self) -> MutexGuard<'_, HashMap<PathBuf, u32>> {
        self.inner
            .launching
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn watcher(&self, pod_uid: &str, dir: PathBuf) -> watch::Watcher {
        watch::Watcher {
            pod_uid: pod_uid.to_string(),
            dir: crate::pod_dir::PodDir::new(dir),
            events: self.inner.events.clone(),
            shutdown: self.inner.shutdown.subscribe(),
        }
    }
}
