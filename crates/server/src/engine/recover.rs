//! Start-up: take over what an earlier server left. Queued jobs are queued again; active jobs
//! get their resources back and their pods re-attached (shims outlive the server), launched
//! (admitted but never started) or stopped (their job was stopping).

use opendlc_core::ids::PodId;
use opendlc_core::{Job, JobStatus, Pod, PodStatus, Reason};
use opendlc_runtime::contract::Recovery;
use opendlc_store::PodEnd;
use std::collections::HashMap;

use super::active::{ActiveJob, Allocation, Launch, Phase};
use super::apply::{first_wait, plan, Engine};
use super::pods::{record_end, record_start};
use super::EngineError;

const UNFINISHED: &[JobStatus] = &[
    JobStatus::Creating,
    JobStatus::Queuing,
    JobStatus::Bidding,
    JobStatus::EnvPreparing,
    JobStatus::SanityChecking,
    JobStatus::Running,
    JobStatus::Restarting,
    JobStatus::Stopping,
    JobStatus::SucceededReserving,
    JobStatus::FailedReserving,
];

impl Engine {
    /// The GPUs each pod of a recovered job was started with: those in the environment its
    /// shim was started with (spec.json).
    fn held_gpus(&self, active: &ActiveJob) -> HashMap<PodId, Vec<u32>> {
        let mut held = HashMap::new();
        for pod in active.pods() {
            let spec = self
                .pod_dir(&pod.job_id, &pod.pod_uid)
                .join(opendlc_runtime::SPEC_FILE);
            let gpus = std::fs::read(&spec)
                .ok()
                .and_then(|b| serde_json::from_slice::<opendlc_runtime::PodSpec>(&b).ok())
                .and_then(|s| s.env.get("CUDA_VISIBLE_DEVICES").cloned())
                .map(|list| {
                    list.split(',')
                        .filter_map(|g| g.trim().parse().ok())
                        .collect::<Vec<u32>>()
                });
            if let Some(gpus) = gpus.filter(|g| !g.is_empty()) {
                held.insert(PodId::from(pod.pod_id.as_str()), gpus);
            }
        }
        held
    }

    pub fn recover(&mut self) -> Result<(), EngineError> {
        for job in self.store.jobs_in_statuses(UNFINISHED)? {
            match job.status {
                JobStatus::Creating => self.queue_created(&job),
                JobStatus::Queuing | JobStatus::Bidding => self.enqueue(&job),
                _ => self.recover_active(job)?,
            }
        }
        if !self.active.is_empty() || !self.queue.is_empty() {
            tracing::info!(
                active = self.active.len(),
                queued = self.queue.len(),
                "recovered the jobs of an earlier server"
            );
        }
        Ok(())
    }

    /// Creating → Queuing (or Bidding) for a job an earlier server stored as Creating: CreateJob
    /// stores its jobs already waiting ([`first_wait`]).
    fn queue_created(&mut self, job: &Job) {
        match self
            .store
            .transition(&job.job_id, &first_wait(job, self.clock.now()))
        {
            Ok(()) => self.enqueue(job),
            Err(e) => tracing::error!(job.id = %job.job_id, "failed to queue the job: {e}"),
        }
    }

    fn recover_active(&mut self, job: Job) -> Result<(), EngineError> {
        let job_id = job.job_id.clone();
        let started = job
            .times
            .running
            .or(job.times.submitted)
            .unwrap_or(job.times.created);
        let deadline = job.max_running_minutes.map(|m| started + m as i64 * 60_000);
        let stopping = job.status == JobStatus::Stopping;
        let pods: Vec<Pod> = self
            .store
            .pods(&job_id)?
            .into_iter()
            .filter(|p| p.current)
            .collect();
        let mut active = ActiveJob::new(
            job.clone(),
            job.status,
            Allocation::default(),
            deadline,
            pods,
        );
        if stopping {
            active.phase = Phase::Stopping(
                job.reason
                    .clone()
                    .unwrap_or_else(|| Reason::new("JobStoppedByUser", "Job is stopped by user.")),
            );
            active.stopping_pods = true;
        }
        self.resume_sanity_round(&mut active);
        self.resume_reservation(&mut active);

        let uids: Vec<String> = active
            .pods()
            .filter(|p| !p.status.is_terminal())
            .map(|p| p.pod_uid.clone())
            .collect();
        for uid in uids {
            let Some(incarnation) = active.incarnation_mut(&uid) else {
                continue;
            };
            let pod_ref = self.pod_ref(&incarnation.pod);
            let recovery = match self.runtime.recover(&pod_ref, stopping) {
                Ok(recovery) => recovery,
                Err(e) => {
                    // Its files are unreadable: treat it as launched (never launch twice); its
                    // job's deadline or a stop ends it.
                    tracing::warn!(pod.id = %pod_ref.pod_id, "failed to re-attach the pod: {e}");
                    Recovery::Watching { started: None }
                }
            };
            match recovery {
                Recovery::Watching { started } => {
                    incarnation.launch = Launch::Launched;
                    // Its start, if the earlier server died before it recorded it.
                    if let Some(started) = started.filter(|_| incarnation.pod.started.is_none()) {
                        record_start(&self.store, &mut incarnation.pod, started);
                    }
                    if stopping {
                        if let Err(e) = self.runtime.stop(&pod_ref) {
                            tracing::warn!(pod.id = %pod_ref.pod_id, "failed to stop the pod: {e}");
                        }
                    }
                }
                // Never launched: `launch_pods` below launches it, unless its job is stopping.
                Recovery::NotStarted if stopping => {
                    let end = PodEnd {
                        status: PodStatus::Failed,
                        exit_code: None,
                        exit_signal: None,
                        reason: Some("was stopped before it started".into()),
                        at: self.clock.now(),
                    };
                    let text = format!("Pod {} was stopped before it started", pod_ref.pod_id);
                    record_end(&self.store, &mut incarnation.pod, end, &text);
                }
                Recovery::NotStarted => {}
            }
        }
        let held = self.held_gpus(&active);
        active.allocation =
            self.pool
                .reclaim(job.total_resources(), &plan(&job), job.ports.clone(), held);
        self.activate(active);
        self.maybe_running(&job_id);
        self.launch_pods(&job_id);
        self.evaluate(&job_id);
        Ok(())
    }
}
