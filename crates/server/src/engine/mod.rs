//! The engine: one task that owns every job status change after creation.
//!
//! Handlers record new jobs in the store and hand them over; from then on the engine queues
//! them, admits them (the scheduler's pure decision in `opendlc_core::scheduler`), launches
//! their pods on the runtime, follows the pods' exits (`opendlc_core::lifecycle::decide`) and
//! finishes the job. Serialising all transitions through one task means no two actors ever race
//! on a job's status; the store's transition check is the second line of defence.
//!
//! # Design
//!
//! **Inputs**, each handled to the end before the next (`apply::Engine::run`):
//! commands from handlers (`Created`, `Stop`, `Update`), the runtime's reports
//! (`Report::Launched`, `Report::Note`), pod ends (`PodEvent`), and a one-second tick
//! (deadlines, reservations, hang detection, the files sanity checks and preparations leave).
//! After each input the engine schedules once if anything changed what may run (`settle`).
//!
//! **State** (`apply::Engine`): the queue (waiting jobs), `active` (admitted jobs,
//! `active::ActiveJob`), the pool's GPUs (`pool::Pool`) and an index of current pod
//! incarnations to their jobs. An active job has one `active::Phase`, its `Allocation`
//! (resources, GPUs per pod, ports) and its pods' current incarnations, each with where its
//! launch stands (`active::Launch`):
//!
//! ```text
//! job:  Live{sanity round?, fault?} ──► Preempting ──(pods ended)──► queued again
//!        │  └──────────────┬───────────────┘
//!        │          StopJob, deadline ──► Stopping ──(pods ended)──► Stopped
//!        └──(pods ended)──► finished, or Reserving ──(time up, StopJob)──► finished
//!
//! pod:  NotRequested ──(dependencies met)──► Requested ──(Report::Launched)──► Launched
//!       (an end the runtime reports while Requested waits in it until Launched)
//!       ended = its Pod::status is terminal, at any point (its job may end it first)
//! ```
//!
//! What the pods' states and the phase mean for the job (finish, restart, requeue, stop the
//! rest) is decided by `opendlc_core::lifecycle::decide`; the engine applies it (`evaluate`).
//! Time comes from an injected `Clock`, so tests move it by hand.
//!
//! **Invariants**: a pod incarnation is launched at most once (also across server restarts:
//! the runtime's `recover` says whether it began); a job holds its allocation from admission
//! until its last pod has ended (or its reservation ends); a job's status moves only through
//! `JobStatus::can_become`, written to the store before anyone is told; a preemption requeues
//! the job without spending its restart budget, and a stop wins over it.
//!
//! The engine stays a module of the server rather than a crate of its own: handlers already
//! reach it only through `EngineHandle`, `start` and `EngineConfig`, and it shares the
//! server's data layout (`layout::JobsDir`). Lifting it out is one move once a second user
//! needs it.
//!
//! The engine's tests (`tests/`) drive it on the fake runtime against a real store.

mod accounts;
mod active;
mod apply;
mod credentials;
mod disk;
mod elastic;
mod frameworks;
mod intake;
mod isolation;
mod objects;
mod pods;
mod pool;
mod ports;
mod prepare;
mod recover;
mod reserve;
mod sanity;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::layout::JobsDir;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::RwLock;

use opendlc_core::scheduler::{Capacity, Wait};
use opendlc_core::time::Clock;
use opendlc_core::{Job, JobStatus};
use opendlc_runtime::contract::Report;
use opendlc_runtime::slurm::{SlurmConfig, SlurmRuntime};
use opendlc_runtime::{LocalRuntime, PodEvent, Runtime};
use opendlc_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

pub use disk::EVICTED;
pub use isolation::{Confinement, Isolation, DEFAULT_UID_BASE};

/// How long a pod gets between SIGTERM and SIGKILL when it is stopped, unless the job's
/// `Settings.TerminationGracePeriodSeconds` says otherwise (Kubernetes' default).
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("job {job_id} can't be {action}, because it is {status}")]
    IncorrectStatus {
        job_id: String,
        action: &'static str,
        status: JobStatus,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Invalid(#[from] opendlc_core::error::Invalid),
    #[error("the engine has shut down")]
    ShutDown,
    #[error("failed to start the engine's thread: {0}")]
    Thread(std::io::Error),
}

enum Command {
    Created(Job),
    Stop {
        job_id: String,
        reply: oneshot::Sender<Result<Job, EngineError>>,
    },
    Update {
        job: Job,
        specs_changed: bool,
        reply: oneshot::Sender<Result<Job, EngineError>>,
    },
    /// The engine's own: how many bytes a job's working directory holds (`disk.rs`).
    DiskUsage {
        job_id: String,
        bytes: u64,
    },
    /// The engine's own: a job's read-write object sources were written back (`objects.rs`).
    WrittenBack {
        job_id: String,
        outcome: opendlc_core::lifecycle::Outcome,
        notes: Vec<String>,
    },
}

/// Why each queued job waits, as of one scheduling decision. Under load the engine decides
/// many times a second over the whole queue, so it publishes the list as it is; the index by
/// job id is built by the first reader that asks (GetJob), not at every decision.
#[derive(Default)]
pub(crate) struct Waits {
    list: Vec<Wait>,
    index: std::sync::OnceLock<HashMap<String, usize>>,
}

impl Waits {
    fn new(list: Vec<Wait>) -> Self {
        Self {
            list,
            index: std::sync::OnceLock::new(),
        }
    }

    pub fn get(&self, job_id: &str) -> Option<&Wait> {
        let index = self.index.get_or_init(|| {
            let ids = self.list.iter().map(|w| w.job_id.clone());
            ids.zip(0..).collect()
        });
        index.get(job_id).map(|&i| &self.list[i])
    }
}

/// The last decision's waits, swapped whole by the engine.
pub(crate) type SharedWaits = Arc<RwLock<Arc<Waits>>>;

/// The handlers' way to the engine.
#[derive(Clone)]
pub struct EngineHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// Where new jobs are stored, then queued (`intake.rs`).
    intake: mpsc::UnboundedSender<intake::Submission>,
    /// Why each queued job waits, as of the last scheduling decision.
    waits: SharedWaits,
}

impl EngineHandle {
    /// Why a queued job waits (its place, blocker and expected start), if it is queued.
    pub fn wait_of(&self, job_id: &str) -> Option<Wait> {
        let waits = self.waits.read().unwrap_or_else(|e| e.into_inner()).clone();
        waits.get(job_id).cloned()
    }

    /// CreateJob: stores the new job (Creating, then at once Queuing or Bidding) with `notes`
    /// as its first events, in a transaction shared with the jobs submitted beside it, and
    /// queues it. Answers once the job is committed; from then on it runs even if the caller
    /// has gone.
    pub async fn submit(&self, job: Job, notes: Vec<String>) -> Result<(), EngineError> {
        let (stored, answer) = oneshot::channel();
        self.intake
            .send(intake::Submission { job, notes, stored })
            .map_err(|_| EngineError::ShutDown)?;
        Ok(answer.await.map_err(|_| EngineError::ShutDown)??)
    }

    /// StopJob: the job goes to Stopping (its pods get SIGTERM), then Stopped.
    pub async fn stop(&self, job_id: &str) -> Result<Job, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Stop {
                job_id: job_id.to_string(),
                reply,
            })
            .map_err(|_| EngineError::ShutDown)?;
        answer.await.map_err(|_| EngineError::ShutDown)?
    }

    /// UpdateJob: stores the changed job; JobSpecs may change only while the job waits.
    pub async fn update(&self, job: Job, specs_changed: bool) -> Result<Job, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Update {
                job,
                specs_changed,
                reply,
            })
            .map_err(|_| EngineError::ShutDown)?;
        answer.await.map_err(|_| EngineError::ShutDown)?
    }
}

/// The runtime the server's configuration asks for: the one place runtimes are chosen.
fn runtime_for(config: &EngineConfig, events: mpsc::UnboundedSender<PodEvent>) -> Arc<dyn Runtime> {
    match &config.slurm {
        Some(slurm) => Arc::new(SlurmRuntime::new(slurm.clone(), events)),
        None => Arc::new(LocalRuntime::with_config(
            config.shim_program.clone(),
            config.node_name.clone(),
            config.container_engine.clone(),
            events,
        )),
    }
}

/// The channel a runtime reports launches and notes on.
pub(crate) type Reports = mpsc::UnboundedReceiver<Report>;

pub struct EngineConfig {
    pub store: Arc<Store>,
    pub shim_program: PathBuf,
    pub jobs_dir: JobsDir,
    /// The data directory (`sources.yaml`).
    pub data_dir: PathBuf,
    /// How long a minute of JobReservedMinutes lasts (60 s; tests shorten it).
    pub minute: Duration,
    /// The pool, its quotas and whether preemption is on.
    pub capacity: Capacity,
    /// Whether a running job may be preempted unless its `preemptible` tag says otherwise.
    pub default_preemptible: bool,
    /// Whether pods are held to their ResourceConfig (cgroups) on the local runtime.
    pub pod_limits: bool,
    /// Pods with an image run in it through this engine (`podman`); `None`: on the host.
    pub container_engine: Option<PathBuf>,
    pub node_name: String,
    /// Run pods on Slurm instead of this host.
    pub slurm: Option<SlurmConfig>,
    /// Where the engine reads the time (`SystemClock`; tests move a `ManualClock`).
    pub clock: Arc<dyn Clock>,
    /// Pods run as their owners in a view of their own (`isolation.rs`); `None`: as the
    /// server's user.
    pub isolation: Option<Isolation>,
    /// Where the pods reach the API (the endpoint of their own credentials).
    pub api_url: String,
    /// The nodes pods may run on: this host, or the Slurm cluster's (a node where a job's
    /// pods failed twice is kept out of its placements while another one remains).
    pub nodes: Arc<[String]>,
}

/// Starts the engine: recovers what an earlier server left running, then serves commands
/// until `shutdown` resolves. Pods keep running after the engine stops.
pub async fn start(
    config: EngineConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(EngineHandle, tokio::task::JoinHandle<()>), EngineError> {
    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (pod_events_tx, pod_events) = mpsc::unbounded_channel::<PodEvent>();
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let runtime = runtime_for(&config, pod_events_tx);
    let config_store = config.store.clone();
    let waits = SharedWaits::default();
    let mut engine = apply::Engine::new(config, runtime, reports_tx, waits.clone());
    engine.commands_tx = Some(commands_tx.clone());
    engine.recover()?;
    let intake = intake::start(config_store, commands_tx.clone()).map_err(EngineError::Thread)?;
    // The engine's turns are synchronous work (the store, the pods' files): on a thread of its
    // own they never hold up a runtime worker, and with it the API's requests. What it spawns
    // (launches, watchers) still runs on the runtime.
    let runtime = tokio::runtime::Handle::current();
    let (ended_tx, ended) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            runtime.block_on(engine.run(commands, pod_events, reports, shutdown));
            let _ = ended_tx.send(());
        })
        .map_err(EngineError::Thread)?;
    let task = tokio::spawn(async move {
        let _ = ended.await;
    });
    Ok((
        EngineHandle {
            commands: commands_tx,
            intake,
            waits,
        },
        task,
    ))
}
