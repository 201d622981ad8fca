//! The contract between the engine and a runtime.
//!
//! The engine decides *what* runs: for each pod a [`PodRecipe`] — its identity, resources,
//! image, environment (with symbolic peer addresses, [`EnvValue`]) and the [`Steps`] it runs in
//! order (prepare the environment, mount the data, check the node, run the command). A runtime
//! decides *how*: it renders the recipe into what its engine runs — the local runtime into a
//! shim-supervised process chain on this host (`crate::local`), the Slurm runtime into a batch
//! script that starts the same shim on the nodes (`crate::slurm`), a fake one into a record
//! for tests (`crate::fake`). What runs inside a pod on every runtime is `crate::pod`.
//!
//! Pods are launched as a [`Gang`]: the pods that start together (all of a job's pods, or those
//! whose startup dependencies became met together). Each launch is answered by one
//! [`Report::Launched`]; after a successful one exactly one [`PodEvent`] follows, on the channel
//! the runtime was built with. Runtimes keep what they need after a server restart in the pod
//! directories: [`Runtime::recover`] picks a pod up again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opendlc_core::env_value::EnvValue;
use opendlc_core::{Reason, Resources};
use tokio::sync::mpsc;

use crate::error::RuntimeError;
use crate::pod::mounts::Mount;
pub use crate::pod::sandbox::{Grant, Identity, Sandbox};
use crate::pod_files::{Limits, PodExit};

/// One incarnation of one pod, as the engine wants it run.
#[derive(Debug, Clone, PartialEq)]
pub struct PodRecipe {
    pub job_id: String,
    pub pod_id: String,
    pub pod_uid: String,
    /// Its place in the job's rank order; 0 is the master.
    pub rank: u32,
    /// The incarnation's own directory (`<data>/jobs/<job_id>/pods/<pod_uid>/`): spec, log,
    /// exit status. Created if missing.
    pub dir: PathBuf,
    /// The job's directory, which every pod of the job shares (working directory, prepared
    /// environment, MPI files): a container of the pod sees it at the same path.
    pub job_dir: PathBuf,
    pub workdir: PathBuf,
    /// The JobSpec's image; a runtime without containers runs the pod on the host and says so.
    pub image: Option<String>,
    /// The login to the image's registry (`ImageConfig`), for the runtime's pull.
    pub registry_auth: Option<RegistryAuth>,
    /// What the pod asked for (its role's ResourceConfig or EcsSpec).
    pub resources: Resources,
    /// Limits to hold the pod to, where the runtime enforces them itself; `None`: none.
    pub limits: Option<Limits>,
    /// The host's GPU indices assigned to the pod (a runtime with a scheduler of its own, like
    /// Slurm, assigns its own).
    pub gpus: Vec<u32>,
    /// The cores the pod is pinned to (`Settings.EnableCPUAffinity`), disjoint from other
    /// pinned pods' while the host has cores enough; empty: any core.
    pub cpus: Vec<u32>,
    /// Set on top of the runtime's base environment.
    pub env: BTreeMap<String, EnvValue>,
    pub steps: Steps,
    /// The directory of each pod of the job by PodId (current incarnations): where a runtime
    /// that learns addresses late finds them (see `crate::pod::peers`).
    pub peers: BTreeMap<String, PathBuf>,
    /// The names the job's pods answer to in this pod, each with the PodId whose address it
    /// resolves to (the loopback on one host, where all of them listen; the pod's node on
    /// Slurm); empty: none.
    pub host_names: BTreeMap<String, String>,
    /// Directories its programs make outside the job's directory, removed once its processes
    /// are gone (`opendlc_core::frameworks::Launch::scratch`).
    pub scratch: Vec<PathBuf>,
    /// Between SIGTERM and SIGKILL when the pod is stopped.
    pub grace_period: Duration,
    /// Its role's `PodLabels` and `PodAnnotations` with opendlc's own labels
    /// (`opendlc.io/job-id`, `opendlc.io/pod-id`, `opendlc.io/role`): on its containers where
    /// the runtime has a container engine.
    pub metadata: opendlc_core::containers::PodMetadata,
}

/// What a pod runs, in order. Each step runs only if the one before it succeeded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Steps {
    /// Check out the CodeSource and install ThirdpartyLibs (`opendlc prepare-env`), on the host.
    pub prepare: Option<PrepareStep>,
    /// DataSources and the CodeSource at their MountPaths.
    pub mounts: Vec<Mount>,
    /// A sanity check round's checker (`opendlc sanity-check`), before the command.
    pub sanity: Option<SanityStep>,
    /// The pod's command, run by `/bin/sh -c`.
    pub command: String,
    /// Init containers, sidecars and lifecycle hooks around the command (`opendlc
    /// run-containers`); `None`: the command alone.
    pub containers: Option<ContainersStep>,
    /// Who the pod runs as and what it sees of the host; `None`: the server's own user and
    /// view (a server that is not root). A pod in a container has the container's isolation.
    pub sandbox: Option<Sandbox>,
}

/// `opendlc prepare-env --dir DIR --ready READY`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareStep {
    /// The job's environment directory (its plan, venv, failure file).
    pub dir: PathBuf,
    /// The marker the step leaves once the pod's environment is ready.
    pub ready: PathBuf,
}

/// `opendlc run-containers --spec FILE` (`crate::pod::containers`).
#[derive(Debug, Clone, PartialEq)]
pub struct ContainersStep {
    pub extras: opendlc_core::containers::PodExtras,
    /// The pod's grace period, in which PreStop runs and sidecars end.
    pub grace_period: Duration,
}

/// `opendlc sanity-check --plan PLAN --out RESULTS`.
#[derive(Debug, Clone, PartialEq)]
pub struct SanityStep {
    pub plan: PathBuf,
    pub results: PathBuf,
    /// Run the command even if the check failed (`OnFailure: ContinueJob`).
    pub continue_on_failure: bool,
}

/// Pods launched together, in rank order (the first is the gang's master).
#[derive(Debug, Clone, PartialEq)]
pub struct Gang {
    pub job_id: String,
    /// The job's quota (ResourceId), which a runtime may map onto its own (Slurm partitions).
    pub resource_id: String,
    /// The job's priority, 1 (lowest) to 9.
    pub priority: u8,
    /// The nodes its pods may run on (`AssignNodeSpec`); a one-node runtime checked it at
    /// CreateJob already.
    pub nodes: opendlc_core::placement::NodeRule,
    pub pods: Vec<PodRecipe>,
}

/// A pod the engine asks about: enough to find its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub job_id: String,
    pub pod_id: String,
    pub pod_uid: String,
    pub dir: PathBuf,
}

impl PodRecipe {
    pub fn pod_ref(&self) -> PodRef {
        PodRef {
            job_id: self.job_id.clone(),
            pod_id: self.pod_id.clone(),
            pod_uid: self.pod_uid.clone(),
            dir: self.dir.clone(),
        }
    }
}

/// The command is running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The command's pid on its node (its process group id, too).
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub placement: Placement,
    /// Where and how the pod runs, for its start event ("on the host; limits: CPU 1 …").
    pub description: Option<String>,
}

/// The node a pod runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub node: String,
    pub ip: String,
}

/// How a pod ended; exactly one per successful launch or recovery that watches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodEvent {
    /// The shim recorded the exit (exit.json); every log line is on disk.
    Exited { pod_uid: String, exit: PodExit },
    /// The pod is gone without recording an exit (its shim was killed, its Slurm job ended
    /// first, the server stopped while starting it). Whatever was left of it has been killed.
    Lost { pod_uid: String, reason: String },
}

impl PodEvent {
    pub fn pod_uid(&self) -> &str {
        match self {
            PodEvent::Exited { pod_uid, .. } | PodEvent::Lost { pod_uid, .. } => pod_uid,
        }
    }
}

/// What a runtime tells the engine about the pods it launches.
#[derive(Debug)]
pub enum Report {
    /// The outcome of one pod's launch.
    Launched {
        job_id: String,
        pod_uid: String,
        result: Result<Started, String>,
    },
    /// Something users should know while the pods wait to start: an event for the job and,
    /// when the pods wait on the runtime's own queue, why (the job's reason).
    Note {
        job_id: String,
        text: String,
        waiting: Option<Reason>,
    },
}

/// What a runtime found of a pod an earlier server launched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Its launch began: it is watched again and one [`PodEvent`] follows. `started`: how it
    /// started, where the runtime knows (the earlier server may have died before it recorded
    /// the start).
    Watching { started: Option<Started> },
    /// It never began to run and may be launched (again): a launch adopts whatever the earlier
    /// server left (a Slurm job still queued), so nothing runs twice.
    NotStarted,
}

/// What the engine may assume about where pods run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Every pod runs on this host (frameworks may talk over loopback).
    pub one_host: bool,
    /// Whether the server can see the pods' processes (`/proc`) to sample their metrics.
    pub local_processes: bool,
    /// Whether a pod with an image runs in a container (with the container's isolation).
    pub containers: bool,
}

/// A runtime: renders recipes into running pods on an existing engine.
pub trait Runtime: Send + Sync {
    fn facts(&self) -> Facts;

    /// Starts the gang's pods without waiting for them; each launch's outcome comes back on
    /// `reports` as [`Report::Launched`].
    fn launch(&self, gang: Gang, reports: mpsc::UnboundedSender<Report>);

    /// Stops the pod: SIGTERM, then SIGKILL after its grace period. Returns at once; the end
    /// arrives as a [`PodEvent`]. Harmless for a pod that has ended.
    fn stop(&self, pod: &PodRef) -> Result<(), RuntimeError>;

    /// After a server restart: picks up a pod an earlier server launched. With `stopping` the
    /// pod is about to be stopped, so it must not be launched again.
    fn recover(&self, pod: &PodRef, stopping: bool) -> Result<Recovery, RuntimeError>;
}

/// A private registry's login (`JobSpec.ImageConfig`), held in memory only. The local runtime
/// hands it to a pull in an auth file of the server's alone (0600, removed after the pull),
/// never on a command line, where other users could read it.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    /// `registry.example.com[:port]`.
    pub registry: String,
    /// base64 of `username:password`, as Docker's and podman's auth files hold it.
    auth: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("registry", &self.registry)
            .field("auth", &"******")
            .finish()
    }
}

impl RegistryAuth {
    /// From `ImageConfig`: `Auth` (base64 of `user:password`) as given, else `Username` and
    /// `Password`; the registry is `DockerRegistry`, else the image's own (its first part
    /// when that names a host). `None` when there is no login or no registry to give it to.
    pub fn new(
        image: &str,
        registry: Option<&str>,
        username: Option<&str>,
        password: Option<&str>,
        auth: Option<&str>,
    ) -> Option<Self> {
        use base64::Engine;
        fn nonempty(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let registry = nonempty(registry)
            .map(|r| {
                r.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string()
            })
            .or_else(|| image_registry(image))?;
        let auth = match (nonempty(auth), nonempty(username)) {
            (Some(auth), _) => auth.to_string(),
            (None, Some(user)) => base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{}", password.unwrap_or_default())),
            (None, None) => return None,
        };
        Some(RegistryAuth { registry, auth })
    }

    /// The login as a Docker/podman auth file (`{"auths": {REGISTRY: {"auth": …}}}`), the
    /// format a Kubernetes pull secret holds too.
    pub fn auth_file(&self) -> String {
        serde_json::json!({"auths": {&self.registry: {"auth": &self.auth}}}).to_string()
    }
}

/// The registry an image reference names (`reg.example.com:5000/team/img:1` → its host), if
/// its first part is a host (has a `.` or a `:`, or is `localhost`).
fn image_registry(image: &str) -> Option<String> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_login_goes_to_the_images_registry_and_is_never_printed() {
        let auth = RegistryAuth::new(
            "reg.example.com:5000/team/img:1",
            None,
            Some("ann"),
            Some("pw"),
            None,
        )
        .unwrap();
        assert_eq!(auth.registry, "reg.example.com:5000");
        assert_eq!(
            auth.auth_file(),
            r#"{"auths":{"reg.example.com:5000":{"auth":"YW5uOnB3"}}}"#
        );
        assert!(!format!("{auth:?}").contains("YW5uOnB3"));
        // DockerRegistry wins; Auth is taken as given.
        let given =
            RegistryAuth::new("img:1", Some("https://r.io/"), None, None, Some("eDp5")).unwrap();
        assert_eq!(
            (given.registry.as_str(), given.auth.as_str()),
            ("r.io", "eDp5")
        );
        // No login, or nowhere to send it (a Docker Hub short name without DockerRegistry).
        assert!(RegistryAuth::new("reg.io/img", None, None, Some("pw"), None).is_none());
        assert!(RegistryAuth::new("ubuntu:22.04", None, Some("ann"), Some("pw"), None).is_none());
    }
}
