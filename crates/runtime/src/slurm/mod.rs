//! The Slurm runtime: a job's pods run as one Slurm job (a gang, one allocation), each pod as
//! the same `opendlc shim --dir DIR` as on the local runtime, started by `srun` on its node.
//!
//! - [`script`]: the batch script of a gang (pure): one heterogeneous component per distinct
//!   pod shape, one `srun` per component whose task `i` runs the shim of the component's pod `i`.
//! - [`cli`]: `sbatch`, `squeue`, `scancel` and the parsing of their output.
//! - addresses are filled in by each pod's shim once Slurm has placed the gang
//!   (`crate::pod::peers`): every task records its node before it runs the shim.
//! - `monitor` (private): one task that watches every gang: the pod files (started.json, exit.json,
//!   written by the shims on the shared directory) and the Slurm job's state and reason.
//!
//! Pod directories must be on a directory every node sees at the same path (the server's data
//! directory, or `--shared-dir`). What the server needs after a restart is on disk: each pod
//! directory holds `slurm.json` (the Slurm job id), so nothing is lost when the server dies.

pub mod cli;
mod monitor;
pub mod script;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use opendlc_core::env_value::EnvValue;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::contract::{
    Facts, Gang, PodEvent, PodRecipe, PodRef, Recovery, Report, Runtime, Started, Steps,
};
use crate::error::RuntimeError;
use crate::pod::chain;
use crate::pod_dir::{read_json, write_json_atomic, Durability, PodDir};
use crate::pod_files::PodSpec;

/// The file in a pod directory that names its Slurm job.
pub const SLURM_FILE: &str = "slurm.json";

/// How the server reaches the cluster and maps jobs onto it.
#[derive(Debug, Clone)]
pub struct SlurmConfig {
    /// The opendlc binary, at a path every node can run.
    pub shim_program: PathBuf,
    /// Default partition (`--partition`), unless a ResourceId maps to another.
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// ResourceId → where its jobs go.
    pub resources: HashMap<String, SlurmTarget>,
    /// How often the pod files are looked at (started.json, exit.json).
    pub file_poll: Duration,
    /// How often Slurm is asked for the gangs' states (`squeue`).
    pub state_poll: Duration,
    /// How often each pod's shim samples its metrics into `metrics.jsonl` (the server cannot
    /// see processes on Slurm's nodes); the server sets it to its own sampling interval.
    pub sample_every: Option<Duration>,
}

/// Partition, account and QOS for the jobs of one ResourceId (`--slurm-resource`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlurmTarget {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
}

impl SlurmTarget {
    /// `PARTITION[:ACCOUNT[:QOS]]`, empty parts left to the defaults.
    pub fn parse(text: &str) -> Self {
        let mut parts = text.splitn(3, ':').map(|p| {
            let p = p.trim();
            (!p.is_empty()).then(|| p.to_string())
        });
        SlurmTarget {
            partition: parts.next().flatten(),
            account: parts.next().flatten(),
            qos: parts.next().flatten(),
        }
    }
}

/// What one pod of a gang needs from Slurm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodShape {
    pub cpus: u32,
    pub memory_mib: u64,
    pub gpus: u32,
}

impl PodShape {
    /// What a pod of these resources asks Slurm for: whole CPUs, at least one.
    pub fn of(resources: &opendlc_core::Resources) -> Self {
        PodShape {
            cpus: u32::try_from(resources.cpu_milli.div_ceil(1000).max(1)).unwrap_or(u32::MAX),
            memory_mib: resources.memory_mib.max(1),
            gpus: resources.gpu,
        }
    }
}

/// What happens to a gang before its pods run: shown to users as the job's reason and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GangNote {
    Submitted {
        slurm_job_id: String,
    },
    /// The pods' Slurm job was submitted by an earlier server (it restarted while the job
    /// waited) and is followed again instead of submitting another.
    Adopted {
        slurm_job_id: String,
    },
    /// The Slurm job waits; `reason` is Slurm's (Resources, Priority, QOSMaxCpuPerUserLimit …).
    Pending {
        slurm_job_id: String,
        reason: String,
    },
    Running {
        slurm_job_id: String,
        nodes: String,
    },
}

/// `slurm.json`: which Slurm job runs the pod.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PodSlurm {
    pub slurm_job_id: String,
    pub gang_dir: PathBuf,
    /// The pod runs in the batch step (a gang of one) rather than in an srun step.
    #[serde(default)]
    pub batch_step: bool,
}

/// The start of one pod of a gang, resolved when its shim has started the command.
pub type PendingStart = (String, oneshot::Receiver<Result<Started, RuntimeError>>);

#[derive(Clone)]
pub struct SlurmRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    config: SlurmConfig,
    events: mpsc::UnboundedSender<PodEvent>,
    gangs: Mutex<HashMap<String, monitor::Watched>>,
    /// Slurm jobs already cancelled (stop is asked once per pod; scancel once per job).
    cancelled: Mutex<std::collections::HashSet<String>>,
}

impl SlurmRuntime {
    /// Must be called within a tokio runtime: starts the monitor task (it ends when the last
    /// handle is dropped).
    pub fn new(config: SlurmConfig, events: mpsc::UnboundedSender<PodEvent>) -> Self {
        let runtime = SlurmRuntime {
            inner: Arc::new(Inner {
                config,
                events,
                gangs: Mutex::new(HashMap::new()),
                cancelled: Mutex::new(Default::default()),
            }),
        };
        monitor::spawn(Arc::downgrade(&runtime.inner));
        runtime
    }

    fn gangs(&self) -> MutexGuard<'_, HashMap<String, monitor::Watched>> {
        lock(&self.inner.gangs)
    }

    /// Submits the gang as one Slurm job. Returns one pending start per pod; each resolves when
    /// the pod's shim has started the command, or with the reason it never will (sbatch
    /// failed, the Slurm job ended first). After an `Ok` start exactly one [`PodEvent`] follows.
    /// If the pods were already submitted (a server restart while they waited), the existing
    /// Slurm job is adopted instead of submitting another.
    pub(crate) async fn launch_gang(
        &self,
        gang: Gang,
        notes: mpsc::UnboundedSender<GangNote>,
    ) -> Vec<PendingStart> {
        let mut starts = Vec::new();
        let mut senders = Vec::new();
        for pod in &gang.pods {
            let (tx, rx) = oneshot::channel();
            starts.push((pod.pod_uid.clone(), rx));
            senders.push(tx);
        }
        match self.submit(&gang).await {
            Ok((slurm_job_id, adopted)) => {
                let note = if adopted {
                    GangNote::Adopted {
                        slurm_job_id: slurm_job_id.clone(),
                    }
                } else {
                    GangNote::Submitted {
                        slurm_job_id: slurm_job_id.clone(),
                    }
                };
                let _ = notes.send(note);
                let pods = gang
                    .pods
                    .iter()
                    .zip(senders)
                    .map(|(p, tx)| monitor::WatchedPod::starting(p, tx))
                    .collect();
                self.watch(slurm_job_id, pods, Some(notes));
            }
            Err(e) => {
                let text = e.to_string();
                for tx in senders {
                    let _ = tx.send(Err(RuntimeError::Slurm(text.clone())));
                }
            }
        }
        starts
    }

    /// Submits the gang; or adopts the Slurm job an earlier server submitted for these very
    /// pods (true), when it is still alive.
    async fn submit(&self, gang: &Gang) -> Result<(String, bool), RuntimeError> {
        let Some(first) = gang.pods.first() else {
            return Err(RuntimeError::Slurm("a gang needs at least one pod".into()));
        };
        if let Ok(Some(known)) = read_json::<PodSlurm>(&first.dir.join(SLURM_FILE)) {
            // A pod that ran (even if its Slurm job is over by now) must not run twice: its
            // files tell how it went.
            let ran = PodDir::new(&first.dir).started().exists();
            if ran || cli::is_alive(&known.slurm_job_id).await {
                return Ok((known.slurm_job_id, true));
            }
        }
        let gang_dir = gang_dir(&first.dir, &first.pod_uid);
        let io = |what: &str, path: &Path, e: std::io::Error| {
            RuntimeError::Slurm(format!("failed to write {what} {}: {e}", path.display()))
        };
        std::fs::create_dir_all(&gang_dir).map_err(|e| io("the directory", &gang_dir, e))?;
        for pod in &gang.pods {
            let dir = PodDir::new(&pod.dir);
            std::fs::create_dir_all(dir.path()).map_err(|e| io("the directory", dir.path(), e))?;
            let mut spec = spec_of(pod, gang, &self.inner.config.shim_program)
                .map_err(|e| io("the pod's files", dir.path(), e))?;
            spec.sample_every_ms = self
                .inner
                .config
                .sample_every
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            write_json_atomic(&dir.spec(), &spec, Durability::ProcessCrash)
                .map_err(|e| io("the pod spec", &dir.spec(), e))?;
        }
        let target = self.target(&gang.resource_id);
        let shapes: Vec<(PathBuf, PodShape)> = gang
            .pods
            .iter()
            .map(|p| (p.dir.clone(), PodShape::of(&p.resources)))
            .collect();
        for (i, component) in script::components(&shapes).iter().enumerate() {
            let path = gang_dir.join(format!("pods-{i}"));
            std::fs::write(&path, script::pod_list(component))
                .map_err(|e| io("the pod list", &path, e))?;
        }
        // AssignNodeSpec as Slurm takes it: every node the rule does not allow is excluded
        // (`--nodelist` would ask for all the nodes it names at once).
        let exclude = if gang.nodes.is_any() {
            Vec::new()
        } else {
            let nodes = cli::nodes().await?;
            nodes
                .into_iter()
                .filter(|n| !gang.nodes.allows(n))
                .collect()
        };
        let text = script::batch_script(&script::BatchInput {
            job_id: &gang.job_id,
            gang_dir: &gang_dir,
            shim_program: &self.inner.config.shim_program,
            target: &target,
            nice: script::nice_of(gang.priority),
            exclude,
            pods: shapes,
        });
        let script_path = gang_dir.join("batch.sh");
        std::fs::write(&script_path, text).map_err(|e| io("the batch script", &script_path, e))?;
        // Slurm runs the job as its owner's account, which writes the pods' and the gang's
        // files from then on.
        let owner = first
            .steps
            .sandbox
            .as_ref()
            .map(|s| (s.identity.uid, s.identity.gid));
        if let Some((uid, gid)) = owner {
            for dir in std::iter::once(&gang_dir).chain(gang.pods.iter().map(|p| &p.dir)) {
                give_tree(dir, uid, gid).map_err(|e| io("the owner of", dir, e))?;
            }
        }
        let slurm_job_id = cli::sbatch(&script_path, owner).await?;
        let record = PodSlurm {
            slurm_job_id: slurm_job_id.clone(),
            gang_dir: gang_dir.clone(),
            batch_step: script::is_batch_step(gang.pods.len()),
        };
        for pod in &gang.pods {
            let path = pod.dir.join(SLURM_FILE);
            if let Err(e) = write_json_atomic(&path, &record, Durability::PowerLoss) {
                // Without the record a restarted server could not find the job: cancel it.
                let _ = cli::scancel(&slurm_job_id, cli::Cancel::Job).await;
                return Err(io("the Slurm record", &path, e));
            }
        }
        Ok((slurm_job_id, false))
    }

    fn target(&self, resource_id: &str) -> SlurmTarget {
        let config = &self.inner.config;
        let mapped = config
            .resources
            .get(resource_id)
            .cloned()
            .unwrap_or_default();
        SlurmTarget {
            partition: mapped.partition.or_else(|| config.partition.clone()),
            account: mapped.account.or_else(|| config.account.clone()),
            qos: mapped.qos.or_else(|| config.qos.clone()),
        }
    }

    fn watch(
        &self,
        slurm_job_id: String,
        pods: Vec<monitor::WatchedPod>,
        notes: Option<mpsc::UnboundedSender<GangNote>>,
    ) {
        let mut gangs = self.gangs();
        let watched = gangs
            .entry(slurm_job_id.clone())
            .or_insert_with(monitor::Watched::new);
        watched.pods.extend(pods);
        if notes.is_some() {
            watched.notes = notes;
        }
    }

    /// Stops the pod: its Slurm job is cancelled (a waiting job), or its steps get SIGTERM (a
    /// running one), which each shim forwards to its pod with the pod's grace period. Stopping
    /// one pod stops its whole gang. Returns at once; the ends arrive as [`PodEvent`]s.
    pub fn stop(&self, dir: &Path) -> Result<(), RuntimeError> {
        if dir.join(crate::EXIT_FILE).exists() {
            return Ok(());
        }
        let record = read_json::<PodSlurm>(&dir.join(SLURM_FILE)).map_err(|error| {
            RuntimeError::ReadPodFile {
                path: dir.join(SLURM_FILE),
                error,
            }
        })?;
        let Some(record) = record else {
            return Ok(());
        };
        if !lock(&self.inner.cancelled).insert(record.slurm_job_id.clone()) {
            return Ok(());
        }
        let id = record.slurm_job_id;
        let batch_step = record.batch_step;
        tokio::spawn(async move {
            if let Err(e) = cli::stop(&id, batch_step).await {
                tracing::warn!(slurm.job = %id, "failed to stop the Slurm job: {e}");
            }
        });
        Ok(())
    }

    /// Whether a pod an earlier server submitted is still waiting for Slurm to start it (its
    /// Slurm job is recorded, its shim has not run yet). After a restart such a pod is launched
    /// again rather than re-attached: the launch adopts its Slurm job, and its start is
    /// reported as for any launch (a re-attached pod only reports its end).
    pub fn awaits_start(dir: &Path) -> bool {
        let pod = PodDir::new(dir);
        dir.join(SLURM_FILE).exists() && !pod.started().exists() && !pod.exit().exists()
    }

    /// After a server restart, watches a pod launched by an earlier server: exactly one
    /// [`PodEvent`] follows (its exit.json, or `Lost` when its Slurm job is over without one).
    pub fn reattach(&self, pod_uid: &str, dir: &Path) -> Result<(), RuntimeError> {
        let path = dir.join(SLURM_FILE);
        let record = read_json::<PodSlurm>(&path)
            .map_err(|error| RuntimeError::ReadPodFile { path, error })?;
        let Some(record) = record else {
            // Its spec was written but sbatch never answered: nothing runs it.
            let _ = self.inner.events.send(PodEvent::Lost {
                pod_uid: pod_uid.to_string(),
                reason: "the server stopped while submitting the pod to Slurm".into(),
            });
            return Ok(());
        };
        let pod = monitor::WatchedPod::running(pod_uid, dir);
        self.watch(record.slurm_job_id, vec![pod], None);
        Ok(())
    }
}

/// The pod's spec.json on Slurm: its command line is the shared chain of its steps (Slurm
/// places the pod in its allocation; containers are not used), and the variables that name
/// addresses stay symbolic for its shim to fill in once Slurm has placed the gang.
fn spec_of(recipe: &PodRecipe, gang: &Gang, program: &Path) -> std::io::Result<PodSpec> {
    // Slurm itself runs the pod as its owner (`sbatch --uid`); there is no view to enter.
    let steps = Steps {
        sandbox: None,
        ..recipe.steps.clone()
    };
    let command = chain::render_pod(&steps, program, &recipe.dir, None)?;
    let (plain, addressed): (Vec<_>, Vec<_>) = recipe
        .env
        .iter()
        .partition(|(_, value)| value.as_text().is_some());
    let mut env: BTreeMap<String, String> = plain
        .into_iter()
        .map(|(name, value)| (name.clone(), value.to_string()))
        .collect();
    let owner = recipe.steps.sandbox.as_ref().map(|s| &s.identity);
    if let Some(home) = owner.and_then(|o| o.home.as_ref()) {
        env.entry("HOME".into())
            .or_insert_with(|| home.display().to_string());
    }
    let addressed_env: BTreeMap<String, EnvValue> = addressed
        .into_iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    // Slurm assigns the GPUs (`--gpus-per-task`): its CUDA_VISIBLE_DEVICES, in the task's
    // environment, stands; the recipe's host indices mean nothing on the node.
    //
    // The shim waits for the pods of this gang to record their nodes, and reads those of pods
    // placed earlier (a startup dependency); a pod not launched yet has no address to wait for.
    // The job's pod names resolve to their nodes' addresses too, in the pod's own /etc/hosts.
    let named: std::collections::BTreeSet<&str> = addressed_env
        .values()
        .flat_map(EnvValue::addresses)
        .chain(recipe.host_names.values().map(String::as_str))
        .collect();
    let peers: BTreeMap<String, PathBuf> = recipe
        .peers
        .iter()
        .filter(|(pod_id, _)| named.contains(pod_id.as_str()))
        .filter(|(pod_id, dir)| {
            gang.pods.iter().any(|p| &p.pod_id == *pod_id)
                || crate::pod::peers::read_placement(dir).is_some()
        })
        .map(|(id, dir)| (id.clone(), dir.clone()))
        .collect();
    Ok(PodSpec {
        pod_id: recipe.pod_id.clone(),
        pod_uid: recipe.pod_uid.clone(),
        command: command.shell,
        view: command.view,
        workdir: recipe.workdir.clone(),
        env,
        addressed_env,
        grace_period_ms: u64::try_from(recipe.grace_period.as_millis()).unwrap_or(u64::MAX),
        // Slurm confines the step to what it allocated (its own cgroups, if configured so).
        limits: None,
        // Slurm binds tasks to cores itself (its TaskPlugin), where it is configured to.
        cpus: Vec::new(),
        sample_every_ms: None,
        hosts: BTreeMap::new(),
        // In the node's /tmp, which its shim removes them from.
        scratch: recipe.scratch.clone(),
        // Slurm's runtime runs no container engine of its own.
        containers: None,
        addressed_hosts: recipe
            .host_names
            .iter()
            .filter(|(_, pod_id)| peers.contains_key(*pod_id))
            .map(|(name, pod_id)| (name.clone(), pod_id.clone()))
            .collect(),
        peers,
    })
}

/// Where and how a pod runs, for its start event.
fn description(recipe_image: Option<&str>, node: &str) -> String {
    match recipe_image.map(str::trim).filter(|i| !i.is_empty()) {
        None => format!("on Slurm node {node}"),
        Some(image) => {
            format!("on Slurm node {node}, on the host: its image {image} is recorded, not used")
        }
    }
}

impl Runtime for SlurmRuntime {
    fn facts(&self) -> Facts {
        Facts {
            one_host: false,
            local_processes: false,
            containers: false,
        }
    }

    /// One Slurm job per gang; Slurm's notes about it (submitted, pending and why, running)
    /// become the job's events and reason.
    fn launch(&self, gang: Gang, reports: mpsc::UnboundedSender<Report>) {
        let runtime = self.clone();
        let job_id = gang.job_id.clone();
        let images: HashMap<String, Option<String>> = gang
            .pods
            .iter()
            .map(|p| (p.pod_uid.clone(), p.image.clone()))
            .collect();
        let (notes_tx, notes) = mpsc::unbounded_channel();
        tokio::spawn(forward_notes(job_id.clone(), notes, reports.clone()));
        tokio::spawn(async move {
            for (pod_uid, start) in runtime.launch_gang(gang, notes_tx).await {
                let reports = reports.clone();
                let job_id = job_id.clone();
                let image = images.get(&pod_uid).cloned().flatten();
                tokio::spawn(async move {
                    let result = match start.await {
                        Ok(Ok(mut started)) => {
                            started.description =
                                Some(description(image.as_deref(), &started.placement.node));
                            Ok(started)
                        }
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("the Slurm runtime stopped watching the pod".into()),
                    };
                    let _ = reports.send(Report::Launched {
                        job_id,
                        pod_uid,
                        result,
                    });
                });
            }
        });
    }

    fn stop(&self, pod: &PodRef) -> Result<(), RuntimeError> {
        SlurmRuntime::stop(self, &pod.dir)
    }

    fn recover(&self, pod: &PodRef, stopping: bool) -> Result<Recovery, RuntimeError> {
        if !stopping && Self::awaits_start(&pod.dir) {
            // Still waiting in Slurm's queue: launched again, which adopts its Slurm job.
            return Ok(Recovery::NotStarted);
        }
        if !crate::was_started(&pod.dir) {
            return Ok(Recovery::NotStarted);
        }
        self.reattach(&pod.pod_uid, &pod.dir)?;
        // The monitor reports the start from the pod's files once it looks at them.
        Ok(Recovery::Watching { started: None })
    }
}

/// What Slurm says about a gang before it runs: events, and the job's reason while it waits.
async fn forward_notes(
    job_id: String,
    mut notes: mpsc::UnboundedReceiver<GangNote>,
    reports: mpsc::UnboundedSender<Report>,
) {
    while let Some(note) = notes.recv().await {
        let (text, waiting) = match &note {
            GangNote::Submitted { slurm_job_id } => {
                (format!("Submitted to Slurm as job {slurm_job_id}"), None)
            }
            GangNote::Adopted { slurm_job_id } => (
                format!("Following Slurm job {slurm_job_id} again, submitted before the server restarted"),
                None,
            ),
            GangNote::Pending {
                slurm_job_id,
                reason,
            } => {
                let message = format!("Slurm job {slurm_job_id} is pending: {reason}");
                let reason = opendlc_core::Reason::new("SlurmJobPending", message.clone());
                (message, Some(reason))
            }
            GangNote::Running {
                slurm_job_id,
                nodes,
            } => (
                format!("Slurm job {slurm_job_id} is running on {nodes}"),
                None,
            ),
        };
        let report = Report::Note {
            job_id: job_id.clone(),
            text,
            waiting,
        };
        if reports.send(report).is_err() {
            return;
        }
    }
}

/// Gives `dir` and everything in it to `uid`:`gid` (links themselves, not what they name).
fn give_tree(dir: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            give_tree(&entry.path(), uid, gid)?;
        } else {
            std::os::unix::fs::lchown(entry.path(), Some(uid), Some(gid))?;
        }
    }
    Ok(())
}

/// `<job dir>/slurm/<first pod uid>`: the batch script, its log and the pod list of one gang.
fn gang_dir(pod_dir: &Path, first_pod_uid: &str) -> PathBuf {
    let job_dir = pod_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(pod_dir)
        .to_path_buf();
    job_dir.join("slurm").join(first_pod_uid)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_empty_parts() {
        assert_eq!(
            SlurmTarget::parse("gpu::high"),
            SlurmTarget {
                partition: Some("gpu".into()),
                account: None,
                qos: Some("high".into())
            }
        );
        assert_eq!(SlurmTarget::parse(""), SlurmTarget::default());
    }

    #[test]
    fn gang_dir_is_under_the_job() {
        let dir = Path::new("/d/jobs/dlc1/pods/uid-1");
        assert_eq!(
            gang_dir(dir, "uid-1"),
            PathBuf::from("/d/jobs/dlc1/slurm/uid-1")
        );
    }
}
