//! The engine's tests on the fake runtime: no process is spawned, every pod start, exit and
//! loss is staged by the test, in any order, against a real store in a temporary directory.
//!
//! [`Harness`] feeds the engine what its loop would (runtime reports, pod events, commands,
//! ticks) until nothing is left to do, so a test reads as a story: submit, start the pods,
//! end one, look at the job.

mod credentials;
mod elastic;
mod hangs;
mod launch;
mod preemption;
mod recovery;
mod reservations;
mod restarts;
mod sanity;
mod spot;
mod stop;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use opendlc_core::scheduler::Capacity;
use opendlc_core::submission::{validate_create, SubmitContext};
use opendlc_core::time::{Clock, ManualClock};
use opendlc_core::{Job, JobStatus, Pod, Resources};
use opendlc_runtime::contract::Report;
use opendlc_runtime::fake::FakeRuntime;
use opendlc_runtime::PodEvent;
use opendlc_store::Store;
use tokio::sync::mpsc;

use super::apply::Engine;
use super::{Command, EngineConfig};
use crate::layout::JobsDir;

pub(super) struct Harness {
    pub engine: Engine,
    pub fake: FakeRuntime,
    pub store: Arc<Store>,
    pod_events: mpsc::UnboundedReceiver<PodEvent>,
    reports: mpsc::UnboundedReceiver<Report>,
    capacity: Capacity,
    /// The engine's time: moves only when a test says so.
    pub clock: ManualClock,
    /// The nodes the runtime may place pods on.
    nodes: Vec<String>,
    /// The data directory (jobs' directories under `jobs/`).
    pub dir: tempfile::TempDir,
}

/// A pool of `cpus` whole CPUs and 64 GiB, no GPUs, preemption on.
pub(super) fn pool(cpus: u64) -> Capacity {
    Capacity {
        pool: Resources::new(cpus * 1000, 64 * 1024, 0),
        preemption: true,
        ..Capacity::default()
    }
}

impl Harness {
    pub fn new(capacity: Capacity) -> Self {
        Self::with_nodes(capacity, &["fake-node"])
    }

    /// An engine whose runtime places pods on `nodes` (the test says where each starts).
    pub fn with_nodes(capacity: Capacity, nodes: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("opendlc.db")).unwrap());
        let clock = ManualClock::starting_at(opendlc_core::time::now_millis());
        let nodes = nodes.iter().map(|n| n.to_string()).collect();
        Self::on(store, dir, capacity, clock, nodes, Vec::new(), Vec::new())
    }

    /// An engine on `store` (a fresh server, or one restarted on the same data): pods in
    /// `survivors` are the ones an earlier server left running.
    fn on(
        store: Arc<Store>,
        dir: tempfile::TempDir,
        capacity: Capacity,
        clock: ManualClock,
        nodes: Vec<String>,
        survivors: Vec<String>,
        unheard: Vec<String>,
    ) -> Self {
        let (events_tx, pod_events) = mpsc::unbounded_channel();
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let fake = FakeRuntime::new(events_tx);
        for uid in &survivors {
            fake.survive(uid);
        }
        for uid in &unheard {
            fake.survive_unheard(uid);
        }
        let config = EngineConfig {
            store: store.clone(),
            shim_program: "/nonexistent/opendlc".into(),
            jobs_dir: JobsDir::new(dir.path()),
            data_dir: dir.path().to_path_buf(),
            minute: Duration::from_secs(60),
            capacity: capacity.clone(),
            default_preemptible: true,
            pod_limits: false,
            container_engine: None,
            node_name: "fake-node".into(),
            slurm: None,
            clock: Arc::new(clock.clone()),
            isolation: None,
            api_url: "http://127.0.0.1:1".into(),
            nodes: nodes.clone().into(),
        };
        let waits = Arc::new(RwLock::new(Default::default()));
        let mut engine = Engine::new(config, Arc::new(fake.clone()), reports_tx, waits);
        engine.recover().unwrap();
        let mut harness = Harness {
            engine,
            fake,
            store,
            pod_events,
            reports,
            capacity,
            clock,
            nodes,
            dir,
        };
        harness.settle();
        harness
    }

    /// The server restarts on the same data: a new engine and runtime; the pods that had
    /// started keep running (the fake finds them on recovery).
    pub fn restart_server(self) -> Self {
        self.restart_server_after_unheard_starts(Vec::new())
    }

    /// [`Harness::restart_server`], where the pods `unheard` (launches not answered yet)
    /// started just before the earlier server died: the runtime finds them running.
    pub fn restart_server_after_unheard_starts(self, unheard: Vec<String>) -> Self {
        let survivors = self
            .fake
            .launched()
            .into_iter()
            .map(|r| r.pod_uid)
            .filter(|uid| !self.fake.pending().contains(uid))
            .collect();
        let Harness {
            engine,
            store,
            dir,
            capacity,
            clock,
            nodes,
            ..
        } = self;
        drop(engine);
        Self::on(store, dir, capacity, clock, nodes, survivors, unheard)
    }

    /// Stores a job as CreateJob would and hands it to the engine; returns its id.
    pub fn submit(&mut self, body: serde_json::Value) -> String {
        let mut job = self.validated(body);
        let waits = super::apply::first_wait(&job, job.times.created);
        job.seq = self.store.insert_job_noting(&job, &[], &waits).unwrap();
        waits.record_in(&mut job);
        let id = job.job_id.clone();
        self.engine.on_command(Command::Created(job));
        self.settle();
        id
    }

    /// Stores a job as a server older than CreateJob's queuing did (Creating) and dies before
    /// its engine queued it; returns its id.
    pub fn store_creating(&mut self, body: serde_json::Value) -> String {
        let job = self.validated(body);
        self.store.insert_job(&job).unwrap();
        job.job_id
    }

    fn validated(&self, body: serde_json::Value) -> Job {
        let request = serde_json::from_value(body).unwrap();
        let quotas = self.capacity.quotas.clone();
        let ctx = SubmitContext {
            job_id: opendlc_core::ids::new_job_id(),
            user_id: "1",
            now: self.clock.now(),
            pool: self.capacity.pool,
            quotas: &quotas,
            gpu_types: &[],
            on_slurm: false,
            prices: None,
        };
        validate_create(&request, &ctx).unwrap()
    }

    /// Feeds the engine every report and pod event waiting, scheduling after each, until none
    /// is left.
    pub fn settle(&mut self) {
        loop {
            self.engine.settle();
            if let Ok(report) = self.reports.try_recv() {
                self.engine.on_report(report);
            } else if let Ok(event) = self.pod_events.try_recv() {
                self.engine.on_pod_event(event);
            } else {
                return;
            }
        }
    }

    pub fn tick(&mut self) {
        self.engine.on_tick();
        self.settle();
    }

    pub fn job(&self, job_id: &str) -> Job {
        self.store.get_job(job_id).unwrap()
    }

    pub fn status(&self, job_id: &str) -> JobStatus {
        self.job(job_id).status
    }

    /// The job's current pod incarnations, in rank order.
    pub fn pods(&self, job_id: &str) -> Vec<Pod> {
        self.store
            .pods(job_id)
            .unwrap()
            .into_iter()
            .filter(|p| p.current)
            .collect()
    }

    /// The PodUids of the job's current pods whose launch waits for an answer.
    pub fn pending(&self, job_id: &str) -> Vec<String> {
        let pending = self.fake.pending();
        self.pods(job_id)
            .into_iter()
            .map(|p| p.pod_uid)
            .filter(|uid| pending.contains(uid))
            .collect()
    }

    /// Starts every pending pod of the job.
    pub fn start_all(&mut self, job_id: &str) {
        for uid in self.pending(job_id) {
            assert!(self.fake.start(&uid));
        }
        self.settle();
    }

    /// Every current pod of the job exits with `code`.
    pub fn exit_all(&mut self, job_id: &str, code: i32) {
        for pod in self.pods(job_id) {
            if !pod.status.is_terminal() {
                self.fake.exit(&pod.pod_uid, code);
            }
        }
        self.settle();
    }

    pub fn exit(&mut self, pod_uid: &str, code: i32) {
        self.fake.exit(pod_uid, code);
        self.settle();
    }

    /// Stops the job as StopJob does.
    pub fn stop(&mut self, job_id: &str) -> Result<Job, super::EngineError> {
        let reason = opendlc_core::Reason::new("JobStoppedByUser", "Job is stopped by user.");
        let stopped = self.engine.stop(job_id, reason, "stopped");
        self.settle();
        stopped
    }

    /// The job's events, oldest first.
    pub fn events(&self, job_id: &str) -> Vec<String> {
        self.store
            .events(job_id, None, 0, i64::MAX, 10_000)
            .unwrap()
            .into_iter()
            .map(|e| e.text)
            .collect()
    }
}

/// A PyTorchJob of `workers` one-CPU workers running `true`, with `extra` fields merged in.
pub(super) fn pytorch(workers: u32, extra: serde_json::Value) -> serde_json::Value {
    let mut body = serde_json::json!({
        "DisplayName": "t",
        "JobType": "PyTorchJob",
        "UserCommand": "true",
        "JobSpecs": [{
            "Type": "Worker",
            "PodCount": workers,
            "Image": "img",
            "ResourceConfig": {"CPU": "1", "Memory": "1Gi"},
        }],
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

impl Harness {
    /// Why a queued job waits, as GetJob shows it.
    pub fn engine_wait(&self, job_id: &str) -> Option<opendlc_core::scheduler::Wait> {
        self.engine.wait_of(job_id)
    }
}
