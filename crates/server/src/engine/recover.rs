//! Start-up: take over what an earlier server left. Queued jobs are queued again; active jobs
//! get their resources back and their pods re-attached (shims outlive the server), launched
//! (admitted but never started) or stopped (their job was stopping).

use opendlc_core::time::now_millis;
use opendlc_core::{Job, JobStatus, Pod, PodStatus, Reason};
use opendlc_runtime::contract::Recovery;
use opendlc_store::PodEnd;
use std::collections::HashMap;

use super::active::ActiveJob;
use super::apply::Engine;
use super::pods::record_end;
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
    /// The GPUs the pods of a recovered job hold: those in the environment their shims were
    /// started with (spec.json); pods not started yet get free ones.
    fn recover_gpus(&mut self, active: &ActiveJob) -> HashMap<String, Vec<u32>> {
        let mut held: HashMap<String, Vec<u32>> = HashMap::new();
        for pod in &active.pods {
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
                for g in &gpus {
                    self.free_gpus.remove(g);
                }
                held.insert(pod.pod_id.clone(), gpus);
            }
        }
        for (pod_id, gpus) in self.assign_gpus(&active.job) {
            match held.get(&pod_id) {
                Some(_) => self.free_gpus.extend(gpus),
                None => {
                    held.insert(pod_id, gpus);
                }
            }
        }
        held
    }

    pub fn recover(&mut self) -> Result<(), EngineError> {
        for job in self.store.jobs_in_statuses(UNFINISHED)? {
            match job.status {
                JobStatus::Creating => self.queue_created(vec![job]),
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

    fn recover_active(&mut self, job: Job) -> Result<(), EngineError> {
        let job_id = job.job_id.clone();
        let started = job
            .times
            .running
            .or(job.times.submitted)
            .unwrap_or(job.times.created);
        let deadline = job.max_running_minutes.map(|m| started + m as i64 * 60_000);
        let stop_reason = (job.status == JobStatus::Stopping).then(|| {
            job.reason
                .clone()
                .unwrap_or_else(|| Reason::new("JobStoppedByUser", "Job is stopped by user."))
        });
        let stopping = stop_reason.is_some();
        let pods: Vec<Pod> = self
            .store
            .pods(&job_id)?
            .into_iter()
            .filter(|p| p.current)
            .collect();
        let mut active = ActiveJob::new(job.clone(), job.status, deadline, pods);
        active.stop_reason = stop_reason;
        active.stopping_pods = stopping;
        self.resume_sanity_round(&mut active);
        self.resume_reservation(&mut active);

        let mut never_started = std::collections::HashSet::new();
        for pod in active.pods.iter_mut().filter(|p| !p.status.is_terminal()) {
            let pod_ref = self.pod_ref(pod);
            let recovery = match self.runtime.recover(&pod_ref, stopping) {
                Ok(recovery) => recovery,
                Err(e) => {
                    // Its files are unreadable: treat it as launched (never launch twice); its
                    // job's deadline or a stop ends it.
                    tracing::warn!(pod.id = %pod.pod_id, "failed to re-attach the pod: {e}");
                    Recovery::Watching
                }
            };
            if recovery == Recovery::Watching {
                self.launched_pods.insert(pod.pod_uid.clone());
                self.launch_requested.insert(pod.pod_uid.clone());
                if stopping {
                    if let Err(e) = self.runtime.stop(&pod_ref) {
                        tracing::warn!(pod.id = %pod.pod_id, "failed to stop the pod: {e}");
                    }
                }
            } else if stopping {
                let end = PodEnd {
                    status: PodStatus::Failed,
                    exit_code: None,
                    exit_signal: None,
                    reason: Some("was stopped before it started".into()),
                    at: now_millis(),
                };
                let text = format!("Pod {} was stopped before it started", pod.pod_id);
                record_end(&self.store, pod, end, &text);
            } else {
                never_started.insert(pod.pod_uid.clone());
            }
        }
        active.gpus = self.recover_gpus(&active);
        self.activate(active);
        self.launch_pods(&job_id, Some(&never_started));
        self.evaluate(&job_id);
        Ok(())
    }
}
