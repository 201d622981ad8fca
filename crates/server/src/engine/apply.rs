//! The engine's state and loop: applies the scheduler's and the lifecycle's decisions.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use opendlc_core::env_contract::PodPlan;
use opendlc_core::ids::{JobId, PodUid};
use opendlc_core::lifecycle::Outcome;
use opendlc_core::queue::Queue;
use opendlc_core::scheduler::{self, Capacity, Running, Wait, Waiting};
use opendlc_core::time::{Clock, Millis};
use opendlc_core::{Job, JobStatus, Pod, Reason};
use opendlc_runtime::contract::{PodRef, Report};
use opendlc_runtime::{PodEvent, Runtime};
use opendlc_store::{Admission, Store, Transition};
use tokio::sync::mpsc;

use crate::layout::JobsDir;

use super::active::{ActiveJob, Fault, Phase};
use super::pool::Pool;
use super::ports::free_ports;
use super::{Command, EngineConfig, EngineError, Reports, DEFAULT_GRACE_PERIOD};

/// How many waiting inputs the engine takes after one before it schedules: enough to batch a
/// burst, few enough that a flood still gets a decision now and then.
const DRAIN_AT_MOST: usize = 1000;

/// A scheduling decision is a pass over the queue: with thousands of jobs waiting for a full
/// pool it takes milliseconds, and one per turn would take most of the engine's time from the
/// pods' events (and the jobs that free the pool). After a decision that cost `d` of the
/// engine's CPU time, the next waits until `d * DECISION_SPACING` has passed since it began
/// (at most [`DECISION_WAIT_AT_MOST`]): decisions take at most an eighth of the engine's CPU.
/// With a short queue (microseconds a decision) this is no wait. CPU time, not wall time: on a
/// busy host the engine's thread waits for a core, which is no cost of the decision's.
const DECISION_SPACING: u32 = 8;
const DECISION_WAIT_AT_MOST: Duration = Duration::from_millis(100);

pub(super) struct Engine {
    pub store: Arc<Store>,
    pub runtime: Arc<dyn Runtime>,
    /// The opendlc binary: pods run its `sanity-check` before their command in a check round.
    pub checker_program: PathBuf,
    pub jobs_dir: JobsDir,
    pub data_dir: PathBuf,
    /// How long a minute of JobReservedMinutes lasts.
    pub minute: Duration,
    /// Whether pods are held to their ResourceConfig.
    pub pod_limits: bool,
    pub capacity: Capacity,
    pub default_preemptible: bool,
    /// What admitted jobs hold of the pool's GPUs.
    pub pool: Pool,
    /// Where every decision by the time reads it.
    pub clock: Arc<dyn Clock>,
    /// Who pods run as and what they see; `None`: the server's user and view.
    pub isolation: Option<super::Isolation>,
    /// Where pods reach the API (their own credentials' endpoint).
    pub api_url: String,
    /// The nodes pods may run on.
    pub nodes: Arc<[String]>,
    /// Why each queued job waits, shared with the handlers (GetJob).
    waits: super::SharedWaits,
    /// The last reason recorded (store and events) for the queue's first jobs.
    recorded_waits: HashMap<JobId, String>,
    /// Preempted jobs waiting to run again.
    preempted_waiting: HashSet<JobId>,
    pub queue: Queue,
    pub active: HashMap<JobId, ActiveJob>,
    /// Which active job each current pod incarnation belongs to.
    pub pod_jobs: HashMap<PodUid, JobId>,
    /// Where the runtime reports launches and notes.
    pub reports_tx: mpsc::UnboundedSender<Report>,
    /// The engine's own commands, for work it runs beside itself (`objects.rs`); `None` in
    /// tests that drive it by hand.
    pub commands_tx: Option<mpsc::UnboundedSender<Command>>,
    pub dirty: bool,
}

impl Engine {
    pub fn new(
        config: EngineConfig,
        runtime: Arc<dyn Runtime>,
        reports_tx: mpsc::UnboundedSender<Report>,
        waits: super::SharedWaits,
    ) -> Self {
        Engine {
            store: config.store,
            runtime,
            checker_program: config.shim_program,
            jobs_dir: config.jobs_dir,
            data_dir: config.data_dir,
            minute: config.minute,
            pod_limits: config.pod_limits,
            pool: Pool::new(config.capacity.pool.gpu, host_cores()),
            clock: config.clock,
            isolation: config.isolation,
            api_url: config.api_url,
            nodes: config.nodes,
            capacity: config.capacity,
            default_preemptible: config.default_preemptible,
            waits,
            recorded_waits: HashMap::new(),
            preempted_waiting: HashSet::new(),
            queue: Queue::default(),
            active: HashMap::new(),
            pod_jobs: HashMap::new(),
            reports_tx,
            commands_tx: None,
            dirty: true,
        }
    }

    pub async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut pod_events: mpsc::UnboundedReceiver<PodEvent>,
        mut reports: Reports,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tokio::pin!(shutdown);
        let mut next_decision = tokio::time::Instant::now();
        loop {
            tokio::select! {
                Some(command) = commands.recv() => self.on_command(command),
                Some(event) = pod_events.recv() => self.on_pod_event(event),
                Some(report) = reports.recv() => self.on_report(report),
                _ = tick.tick() => self.on_tick(),
                // A decision held back (DECISION_SPACING) with nothing else coming.
                _ = tokio::time::sleep_until(next_decision), if self.dirty => {}
                _ = &mut shutdown => break,
            }
            // Whatever else is waiting already, before one scheduling decision for all of it:
            // under load a decision per input would cost a pass over the queue each.
            for _ in 0..DRAIN_AT_MOST {
                if let Ok(event) = pod_events.try_recv() {
                    self.on_pod_event(event);
                } else if let Ok(report) = reports.try_recv() {
                    self.on_report(report);
                } else if let Ok(command) = commands.try_recv() {
                    self.on_command(command);
                } else {
                    break;
                }
            }
            let now = tokio::time::Instant::now();
            if self.dirty && now >= next_decision {
                let cpu = thread_cpu_time();
                self.settle();
                let cost = thread_cpu_time().saturating_sub(cpu);
                next_decision = now + (cost * DECISION_SPACING).min(DECISION_WAIT_AT_MOST);
            }
        }
        tracing::info!("engine stopped; pods keep running under their shims");
    }

    /// What the engine does every second: deadlines, reservations, hangs, and the files that
    /// sanity checks and environment preparations leave.
    pub(super) fn on_tick(&mut self) {
        self.enforce_deadlines();
        self.end_reservations();
        self.detect_hangs();
        self.poll_sanity_checks();
        self.poll_env_preparations();
        self.watch_disks();
        // An elastic job that has just come to run grows within a tick.
        self.grow_elastic();
    }

    /// After each input: schedule once if anything changed what may run.
    pub(super) fn settle(&mut self) {
        if self.dirty {
            self.dirty = false;
            self.schedule();
        }
    }

    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Created(job) => self.enqueue(&job),
            Command::Stop { job_id, reply } => {
                let reason = Reason::new("JobStoppedByUser", "Job is stopped by user.");
                let _ = reply.send(self.stop(&job_id, reason, "stopped"));
            }
            Command::Update {
                job,
                specs_changed,
                reply,
            } => {
                let _ = reply.send(self.update(job, specs_changed));
            }
            Command::WrittenBack {
                job_id,
                outcome,
                notes,
            } => self.written_back(&job_id, outcome, notes),
            Command::DiskUsage { job_id, bytes } => self.on_disk_usage(&job_id, bytes),
        }
    }

    pub fn enqueue(&mut self, job: &Job) {
        self.queue.push(
            Waiting {
                job_id: job.job_id.clone(),
                priority: job.priority,
                resources: job.total_resources(),
                quota: quota_of(job),
                max_run_ms: job.max_running_minutes.map(|m| m as i64 * 60_000),
                spot: job.is_spot(),
            },
            job.seq,
        );
        self.dirty = true;
    }

    pub(super) fn update(&mut self, job: Job, specs_changed: bool) -> Result<Job, EngineError> {
        let current = self.store.get_job(&job.job_id)?;
        let elastic = current.roles.iter().any(|r| r.elastic.is_some());
        if specs_changed && elastic && self.active.contains_key(job.job_id.as_str()) {
            return self.resize(job);
        }
        if specs_changed && !current.status.is_pending() {
            return Err(EngineError::IncorrectStatus {
                job_id: job.job_id,
                action: "given new JobSpecs",
                status: current.status,
            });
        }
        self.store.update_job(&job)?;
        let updated = self.store.get_job(&job.job_id)?;
        if self.queue.contains(&updated.job_id) {
            self.enqueue(&updated);
        }
        // A running job's new priority counts from the next scheduling decision on (who may
        // preempt it, whom it may preempt).
        if let Some(active) = self.active.get_mut(updated.job_id.as_str()) {
            active.job.priority = updated.priority;
            active.job.accessibility.clone_from(&updated.accessibility);
        }
        Ok(updated)
    }

    /// Ends a job early: a queued one at once, an active one once its pods have stopped.
    pub fn stop(
        &mut self,
        job_id: &str,
        reason: Reason,
        action: &'static str,
    ) -> Result<Job, EngineError> {
        let job = self.store.get_job(job_id)?;
        if job.status.is_terminal() {
            return Err(EngineError::IncorrectStatus {
                job_id: job_id.to_string(),
                action,
                status: job.status,
            });
        }
        if job.status == JobStatus::Stopping {
            return Ok(job);
        }
        if self
            .active
            .get(job_id)
            .is_some_and(|a| matches!(a.phase, Phase::Reserving(_)))
        {
            // A kept job has ended already: stopping it ends its reservation.
            self.end_reservation(job_id);
            return Ok(self.store.get_job(job_id)?);
        }
        let now = self.clock.now();
        let stopping = Transition {
            to: JobStatus::Stopping,
            reason: Some(reason.clone()),
            at: now,
        };
        self.store.transition(job_id, &stopping)?;
        if self.queue.remove(job_id).is_some() || !self.active.contains_key(job_id) {
            self.dirty = true;
            let stopped = Transition {
                to: JobStatus::Stopped,
                reason: Some(reason),
                at: now,
            };
            self.store.transition(job_id, &stopped)?;
            return Ok(self.store.get_job(job_id)?);
        }
        if let Some(active) = self.active.get_mut(job_id) {
            // A stop wins over anything under way: a sanity round, a fault, a preemption.
            active.phase = Phase::Stopping(reason);
            active.status = JobStatus::Stopping;
        }
        self.evaluate(job_id);
        Ok(self.store.get_job(job_id)?)
    }

    /// Why a queued job waits, as of the last scheduling decision.
    #[cfg(test)]
    pub(super) fn wait_of(&self, job_id: &str) -> Option<Wait> {
        let waits = self.waits.read().unwrap_or_else(|e| e.into_inner()).clone();
        waits.get(job_id).cloned()
    }

    /// One scheduling decision (`opendlc_core::scheduler`), applied: start what may start,
    /// preempt what must make room, and publish why every other job waits.
    fn schedule(&mut self) {
        let now = self.clock.now();
        let running: Vec<Running> = self
            .active
            .values()
            .map(|a| Running {
                job_id: a.job.job_id.clone(),
                priority: a.job.priority,
                resources: a.allocation.resources,
                quota: quota_of(&a.job),
                preemptible: a.is_live() && preemptible(&a.job, self.default_preemptible),
                started: a.job.times.running.unwrap_or(now),
                ends_by: match &a.phase {
                    Phase::Reserving(r) => Some(r.until),
                    _ => a.deadline,
                },
                spot: a.is_live() && a.job.is_spot(),
                surplus: a.surplus(),
            })
            .collect();
        let queued: Vec<&Waiting> = self.queue.iter().collect();
        let plan = scheduler::schedule(&self.capacity, &running, &queued, now);
        for job_id in &plan.start {
            self.queue.remove(job_id);
            self.preempted_waiting.remove(job_id.as_str());
        }
        self.admit(&plan.start);
        for p in &plan.preempt {
            match p.pods {
                None => self.preempt(&p.victim, &p.for_job),
                Some(n) => self.give_up_pods(&p.victim, &p.for_job, n),
            }
        }
        self.publish_waits(plan.waiting);
        self.grow_elastic();
    }

    /// Shares the waits with GetJob and records the reason of the queue's first jobs when it
    /// changes (ReasonCode/ReasonMessage, and an event), so the history says what held a job.
    fn publish_waits(&mut self, waiting: Vec<Wait>) {
        const RECORDED: usize = 20;
        let mut recorded = HashMap::new();
        let mut changed = Vec::new();
        for wait in waiting.iter().take(RECORDED) {
            if self.preempted_waiting.contains(wait.job_id.as_str()) {
                // Its reason stays "preempted by …" (GetJob adds the wait to it).
                continue;
            }
            let message = wait.message();
            if self.recorded_waits.get(wait.job_id.as_str()) != Some(&message) {
                changed.push((wait.job_id.as_str(), wait.reason(None)));
            }
            recorded.insert(JobId::from(wait.job_id.as_str()), message);
        }
        // One transaction for all of them: under load the queue's head moves at every turn.
        if let Err(e) = self.store.set_reasons(&changed) {
            tracing::warn!("failed to record why the queue's first jobs wait: {e}");
        }
        self.recorded_waits = recorded;
        let waits = Arc::new(super::Waits::new(waiting));
        let replaced = std::mem::replace(
            &mut *self.waits.write().unwrap_or_else(|e| e.into_inner()),
            waits,
        );
        // Freed here, after the lock, unless a reader still holds it.
        drop(replaced);
    }

    /// Stops a running job to make room for `for_job`; once its pods have ended it is queued
    /// again (not counted as a restart).
    fn preempt(&mut self, victim: &str, for_job: &str) {
        let Some(active) = self.active.get_mut(victim) else {
            return;
        };
        if !active.is_live() {
            return;
        }
        let reason = if active.job.is_spot() {
            let then = if spot_requeues(&active.job) {
                "it waits for spare capacity again"
            } else {
                "it fails: its RestartPolicy is Never"
            };
            Reason::new(
                scheduler::SPOT_EVICTED,
                format!(
                    "Evicted for job {for_job}: a spot job runs on spare capacity only, and job \
                     {for_job} needs it; {then}."
                ),
            )
        } else {
            Reason::new(
                scheduler::PREEMPTED,
                format!(
                    "Preempted by job {for_job}, which has a higher priority; it will be queued \
                     again."
                ),
            )
        };
        let message = reason.message.clone();
        tracing::info!(job.id = %victim, by = %for_job, "preempting the job");
        active.phase = Phase::Preempting(reason);
        if let Err(e) = self.store.add_event(victim, &message) {
            tracing::warn!(job.id = %victim, "failed to record the preemption: {e}");
        }
        self.evaluate(victim);
    }

    /// A preempted job whose pods have all ended: back to the queue (a spot job: to Bidding, or
    /// failed when its RestartPolicy restarts nothing), resources released.
    pub(super) fn requeue_preempted(&mut self, job_id: &str, reason: Reason) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        let spot = active.job.is_spot();
        if spot && !spot_requeues(&active.job) {
            let outcome = Outcome {
                status: JobStatus::Failed,
                reason,
            };
            self.finish(job_id, outcome);
            return;
        }
        let Some(active) = self.active.remove(job_id) else {
            return;
        };
        self.release(&active);
        let t = Transition {
            to: if spot {
                JobStatus::Bidding
            } else {
                JobStatus::Queuing
            },
            reason: Some(reason),
            at: self.clock.now(),
        };
        match self.store.requeue(job_id, &t) {
            Ok(job) => {
                self.preempted_waiting
                    .insert(JobId::from(job.job_id.as_str()));
                self.enqueue(&job);
            }
            Err(e) => {
                tracing::error!(job.id = %job_id, "failed to queue the preempted job again: {e}")
            }
        }
        self.dirty = true;
    }

    /// Gives back what an active job held: its allocation and its pods' index entries.
    pub(super) fn release(&mut self, active: &ActiveJob) {
        self.pool.release(&active.allocation);
        for pod in active.pods() {
            self.pod_jobs.remove(pod.pod_uid.as_str());
        }
    }

    /// Admits the jobs the scheduler starts, in one transaction: their ports, their pods
    /// (Pending) and EnvPreparing; then launches their pods.
    fn admit(&mut self, job_ids: &[String]) {
        let now = self.clock.now();
        let t = Transition::new(JobStatus::EnvPreparing, now)
            .because("JobEnvPreparing", "Starting the job's pods.");
        let mut jobs = Vec::with_capacity(job_ids.len());
        for job_id in job_ids {
            match self.store.get_job(job_id) {
                Ok(mut job) => {
                    job.ports = free_ports(job.pod_count() as usize);
                    let pods = new_pods(&job, now);
                    jobs.push((job, pods));
                }
                Err(e) => tracing::error!(job.id = %job_id, "failed to admit the job: {e}"),
            }
        }
        let admissions: Vec<Admission<'_>> = jobs
            .iter()
            .map(|(job, pods)| Admission {
                job_id: &job.job_id,
                ports: &job.ports,
                pods,
            })
            .collect();
        let admitted = match self.store.admit_all(&admissions, &t) {
            Ok(admitted) => admitted,
            // One bad apple spoils the batch: one by one.
            Err(e) if admissions.len() > 1 => {
                tracing::warn!(
                    "admitting {} jobs together failed ({e}); one by one",
                    jobs.len()
                );
                admissions
                    .iter()
                    .map(|a| self.store.admit_all(std::slice::from_ref(a), &t))
                    .map(|one| match one {
                        Ok(admitted) => admitted.first().copied().unwrap_or(false),
                        Err(e) => {
                            tracing::error!("failed to admit a job: {e}");
                            false
                        }
                    })
                    .collect()
            }
            Err(e) => {
                tracing::error!("failed to admit the job: {e}");
                vec![false]
            }
        };
        for ((mut job, pods), admitted) in jobs.into_iter().zip(admitted) {
            // Not admitted: stopped meanwhile, nothing to start.
            if admitted {
                // What the transaction changed, without reading the job back.
                t.record_in(&mut job);
                self.start_admitted(job, pods, now);
            }
        }
    }

    /// An admitted job takes its resources and its pods are launched.
    fn start_admitted(&mut self, job: Job, pods: Vec<Pod>, now: Millis) {
        let job_id = job.job_id.clone();
        let deadline = job.max_running_minutes.map(|m| now + m as i64 * 60_000);
        let mut allocation =
            self.pool
                .allocate(job.total_resources(), &plan(&job), job.ports.clone());
        if job.cpu_affinity() {
            self.pool.pin(&mut allocation, &plan(&job));
        }
        let active = ActiveJob::new(job, JobStatus::EnvPreparing, allocation, deadline, pods);
        self.activate(active);
        self.begin_sanity_round(&job_id, false);
        self.launch_pods(&job_id);
    }

    /// Tracks an admitted job and its pods (its allocation is taken already).
    pub fn activate(&mut self, active: ActiveJob) {
        let job_id = JobId::from(active.job.job_id.as_str());
        for pod in active.pods() {
            self.pod_jobs
                .insert(PodUid::from(pod.pod_uid.as_str()), job_id.clone());
        }
        self.active.insert(job_id, active);
    }

    /// Hang detection: a running job whose pods all stayed silent (no log output) for its hang
    /// interval, or whose other pods ran on for its exit hang interval after one ended, is
    /// restarted, or failed once its restart budget is spent.
    fn detect_hangs(&mut self) {
        let now = self.clock.now();
        let mut hung = Vec::new();
        for (job_id, active) in &self.active {
            let healthy = matches!(active.phase, Phase::Live { fault: None, .. });
            if active.status != JobStatus::Running || !healthy {
                continue;
            }
            if let Some(interval) = active.job.exit_hang_interval_secs() {
                let first_end = active
                    .pods()
                    .filter(|p| p.status.is_terminal())
                    .filter_map(|p| p.finished.map(|at| (at, p.pod_id.clone())))
                    .min();
                let others_run = active.pods().any(|p| !p.status.is_terminal());
                if let Some((ended, pod_id)) = first_end.filter(|_| others_run) {
                    if now - ended > interval as i64 * 1000 {
                        let message = format!(
                            "Pod {pod_id} ended {interval} s ago and the others still run \
                             (exit hang detection)."
                        );
                        hung.push((job_id.to_string(), message));
                        continue;
                    }
                }
            }
            let Some(interval) = active.job.hang_interval_secs() else {
                continue;
            };
            let last_output = active
                .pods()
                .filter_map(|p| {
                    let log = self
                        .jobs_dir
                        .pod(job_id.as_str(), &p.pod_uid)
                        .join(opendlc_runtime::LOG_FILE);
                    let written = std::fs::metadata(log).and_then(|m| m.modified()).ok();
                    let written = written
                        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis());
                    written.max(p.started)
                })
                .max()
                .unwrap_or(now);
            if now - last_output > interval as i64 * 1000 {
                let message =
                    format!("No pod wrote any log output for {interval} s (hang detection).");
                hung.push((job_id.to_string(), message));
            }
        }
        for (job_id, message) in hung {
            tracing::warn!(job.id = %job_id, "{message}");
            if let Some(Phase::Live { fault, .. }) =
                self.active.get_mut(&*job_id).map(|a| &mut a.phase)
            {
                *fault = Some(Fault::Hung(Reason::new("JobHang", message)));
            }
            self.evaluate(&job_id);
        }
    }

    /// Stops jobs that ran past their JobMaxRunningTimeMinutes.
    fn enforce_deadlines(&mut self) {
        let now = self.clock.now();
        let overdue: Vec<String> = self
            .active
            .iter()
            .filter(|(_, a)| {
                let ending = matches!(a.phase, Phase::Stopping(_) | Phase::Reserving(_));
                !ending && a.deadline.is_some_and(|d| d <= now)
            })
            .map(|(id, _)| id.to_string())
            .collect();
        for job_id in overdue {
            let reason = Reason::new(
                "JobExceededMaxRunningTime",
                "Job ran longer than its JobMaxRunningTimeMinutes and was stopped.",
            );
            if let Err(e) = self.stop(&job_id, reason, "stopped") {
                tracing::warn!(job.id = %job_id, "failed to stop an overdue job: {e}");
            }
        }
    }

    pub fn pod_dir(&self, job_id: &str, pod_uid: &str) -> PathBuf {
        self.jobs_dir.pod(job_id, pod_uid)
    }

    /// How the runtime finds a pod.
    pub fn pod_ref(&self, pod: &Pod) -> PodRef {
        PodRef {
            job_id: pod.job_id.clone(),
            pod_id: pod.pod_id.clone(),
            pod_uid: pod.pod_uid.clone(),
            dir: self.pod_dir(&pod.job_id, &pod.pod_uid),
        }
    }
}

/// The job's pods with their environment, on the ports chosen at admission.
pub(super) fn plan(job: &Job) -> Vec<PodPlan> {
    opendlc_core::env_contract::plan_job(job)
}

/// A fresh incarnation (Pending, new PodUid) of every pod of the job.
pub(super) fn new_pods(job: &Job, now: Millis) -> Vec<Pod> {
    plan(job)
        .into_iter()
        .map(|plan| Pod::pending(&job.job_id, plan.pod_id, plan.role, plan.index, now))
        .collect()
}

/// The status a new job waits in from `at`: Queuing, or Bidding for a spot job.
pub(super) fn first_wait(job: &Job, at: Millis) -> Transition {
    if job.is_spot() {
        Transition::new(JobStatus::Bidding, at).because(
            "JobBidding",
            "Job is waiting for spare capacity (a spot job).",
        )
    } else {
        Transition::new(JobStatus::Queuing, at)
            .because("JobQueuing", "Job is waiting for resources.")
    }
}

/// The job's `Settings.TerminationGracePeriodSeconds`, or the default.
pub fn grace_period(job: &Job) -> Duration {
    job.request
        .settings
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .filter(|s| *s >= 0)
        .map_or(DEFAULT_GRACE_PERIOD, |s| Duration::from_secs(s as u64))
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// The job's quota (its ResourceId), if it names one.
fn quota_of(job: &Job) -> Option<String> {
    (!job.resource_id.is_empty()).then(|| job.resource_id.clone())
}

/// Whether an evicted spot job waits for spare capacity again: when a role's RestartPolicy
/// restarts a pod that was lost (every policy but Never).
fn spot_requeues(job: &Job) -> bool {
    job.roles
        .iter()
        .any(|r| r.restart_policy != opendlc_core::restart::RestartPolicy::Never)
}

/// The tag that opts a job in or out of preemption (`Settings.Tags`).
pub const PREEMPTIBLE_TAG: &str = "preemptible";

/// Whether a running job may be preempted: its `preemptible` tag, else the server's default.
fn preemptible(job: &Job, default: bool) -> bool {
    match job
        .tags
        .get(PREEMPTIBLE_TAG)
        .map(|v| v.to_ascii_lowercase())
    {
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        _ => default,
    }
}

/// The cores this server may run on (its affinity), which pinned pods are given.
fn host_cores() -> Vec<u32> {
    use nix::sched::{sched_getaffinity, CpuSet};
    let Ok(set) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .filter_map(|c| u32::try_from(c).ok())
        .collect()
}
