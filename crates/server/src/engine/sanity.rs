//! Sanity checks in the engine: a round runs when a job with `EnableSanityCheck` starts
//! (`BeforeJob`) and, with `AfterJobFaultTolerant`, before each restart's pods run.
//!
//! During a round every pod first runs the checker (`opendlc sanity-check`, see
//! `opendlc_runtime::sanity`) and then, if it passed (or the args say to continue), its own
//! command, in the same process group: `checker && exec sh -c COMMAND`. The job is
//! SanityChecking from the moment all pods started until every pod's results are in; the
//! engine reads them from the pod directories (on its tick, and before acting on a pod's exit),
//! stores them per phase under the round's CheckNumber, and then lets the job run, or fails it
//! with the phases' messages.

use std::path::Path;

use opendlc_core::env_contract::PodPlan;
use opendlc_core::env_value::EnvValue;
use opendlc_core::sanity::{combine, CheckPlan, OnFailure, Phase as CheckPhase, PhaseResult};
use opendlc_core::{Job, JobStatus, Pod, Reason};
use opendlc_store::{SanityRecord, Transition};

use super::active::{ActiveJob, Fault, Phase, SanityRound};
use opendlc_runtime::contract::SanityStep;

use super::apply::Engine;

/// The checker's plan and results, in each pod incarnation's directory.
pub const PLAN_FILE: &str = "sanity-plan.json";
pub const RESULTS_FILE: &str = "sanity.json";
/// How long past its own timeout the engine waits for a checker before failing the round.
const GRACE_MS: i64 = 30_000;

impl Engine {
    /// Called when a job's pods are about to start (`restart`: a new incarnation after a
    /// fault). Decides whether a check round runs, and records its phases as Running.
    pub(super) fn begin_sanity_round(&mut self, job_id: &str, restart: bool) {
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        let Phase::Live { sanity, .. } = &mut active.phase else {
            return;
        };
        *sanity = None;
        let Some(settings) = active.job.sanity_settings() else {
            return;
        };
        let runs = if restart {
            settings.timing.after_fault
        } else {
            settings.timing.before_job
        };
        if !runs {
            return;
        }
        let previous = self
            .store
            .sanity_results(job_id)
            .map(|r| r.iter().map(|r| r.check_number).max().unwrap_or(0))
            .unwrap_or(0);
        let round = previous + 1;
        *sanity = Some(SanityRound {
            number: round,
            checking_since: None,
        });
        let records: Vec<SanityRecord> = settings
            .phases
            .iter()
            .map(|phase| SanityRecord {
                check_number: round,
                phase: phase.as_str().to_string(),
                status: "Running".into(),
                message: String::new(),
                started: None,
                finished: None,
            })
            .collect();
        if let Err(e) = self.store.put_sanity_results(job_id, &records) {
            tracing::warn!(job.id = %job_id, "failed to record the sanity check round: {e}");
        }
    }

    /// After a server restart: a round that was under way (its phases still Running) goes on.
    pub(super) fn resume_sanity_round(&self, active: &mut ActiveJob) {
        let starting = matches!(
            active.status,
            JobStatus::EnvPreparing | JobStatus::Restarting | JobStatus::SanityChecking
        );
        if !starting || active.job.sanity_settings().is_none() {
            return;
        }
        let Ok(records) = self.store.sanity_results(&active.job.job_id) else {
            return;
        };
        let Some(last) = records.iter().map(|r| r.check_number).max() else {
            return;
        };
        let open = records
            .iter()
            .any(|r| r.check_number == last && r.status == "Running");
        if let (true, Phase::Live { sanity, .. }) = (open, &mut active.phase) {
            *sanity = Some(SanityRound {
                number: last,
                checking_since: (active.status == JobStatus::SanityChecking)
                    .then(|| self.clock.now()),
            });
        }
    }

    /// The checker step of a pod while a round is under way (the checker's plan is written
    /// into the pod's directory); `command` is the pod's own, which the checker names.
    pub(super) fn sanity_step(
        &self,
        job: &Job,
        pod: &Pod,
        rank: u32,
        command: &str,
        workdir: &Path,
        gpus: &[u32],
    ) -> Option<SanityStep> {
        let active = self.active.get(job.job_id.as_str());
        active.and_then(|a| a.sanity_round())?;
        let settings = job.sanity_settings()?;
        let dir = self.pod_dir(&job.job_id, &pod.pod_uid);
        // CheckInit finds the job's MountPaths (the check runs inside the pod's mounts);
        // DeviceCheck checks the pod's GPUs.
        let r = &job.request;
        let mounts = r
            .data_sources
            .iter()
            .flatten()
            .filter_map(|d| d.mount_path.clone())
            .chain(
                r.code_source
                    .is_some()
                    .then(|| opendlc_core::sources::code_mount_path(r))
                    .map(|m| {
                        m.unwrap_or(opendlc_core::sources::DEFAULT_CODE_MOUNT_PATH)
                            .to_string()
                    }),
            )
            .collect();
        let gpus = gpus.iter().map(u32::to_string).collect();
        let plan = CheckPlan {
            rank: rank as usize,
            // Known once the pods are placed: the checker takes them from `PEERS_ENV`.
            peers: Vec::new(),
            phases: settings.phases.clone(),
            timeout_secs: settings.timeout_secs,
            command: command.to_string(),
            workdir: workdir.display().to_string(),
            mounts,
            gpus,
        };
        let written = std::fs::create_dir_all(&dir).and_then(|_| {
            let bytes = serde_json::to_vec_pretty(&plan).map_err(std::io::Error::other)?;
            std::fs::write(dir.join(PLAN_FILE), bytes)
        });
        if let Err(e) = written {
            tracing::error!(pod.id = %pod.pod_id, "failed to write the sanity check plan: {e}");
            return None;
        }
        Some(SanityStep {
            plan: dir.join(PLAN_FILE),
            results: dir.join(RESULTS_FILE),
            continue_on_failure: settings.on_failure == OnFailure::ContinueJob,
        })
    }

    /// Every pod started: SanityChecking while a round is under way.
    pub(super) fn enter_sanity_check(&mut self, job_id: &str) -> bool {
        let now = self.clock.now();
        let Some(active) = self.active.get_mut(job_id) else {
            return false;
        };
        let Phase::Live {
            sanity: Some(round),
            ..
        } = &mut active.phase
        else {
            return false;
        };
        let t = Transition::new(JobStatus::SanityChecking, now).because(
            "JobSanityChecking",
            "Checking every pod's environment, devices and links before the job runs.",
        );
        match self.store.transition(job_id, &t) {
            Ok(_) => {
                active.status = JobStatus::SanityChecking;
                round.checking_since = Some(now);
            }
            Err(e) => tracing::warn!(job.id = %job_id, "failed to mark the sanity check: {e}"),
        }
        true
    }

    /// On the engine's tick: every job in a round.
    pub(super) fn poll_sanity_checks(&mut self) {
        let checking: Vec<String> = self
            .active
            .iter()
            .filter(|(_, a)| a.status == JobStatus::SanityChecking && a.sanity_round().is_some())
            .map(|(id, _)| id.to_string())
            .collect();
        for job_id in checking {
            self.poll_sanity_check(&job_id);
        }
    }

    /// Reads the pods' results; once all are in (or one failed and that fails the job, or the
    /// round ran out of time) records them and moves the job on.
    pub(super) fn poll_sanity_check(&mut self, job_id: &str) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        let (Some(round), Some(settings)) = (active.sanity_round(), active.job.sanity_settings())
        else {
            return;
        };
        if active.status != JobStatus::SanityChecking {
            return;
        }
        let mut per_pod: Vec<(String, PhaseResult)> = Vec::new();
        let mut missing = Vec::new();
        for pod in active.pods() {
            let file = self.pod_dir(job_id, &pod.pod_uid).join(RESULTS_FILE);
            match std::fs::read(&file)
                .ok()
                .and_then(|b| serde_json::from_slice::<Vec<PhaseResult>>(&b).ok())
            {
                Some(results) => {
                    per_pod.extend(results.into_iter().map(|r| (pod.pod_id.clone(), r)))
                }
                None => missing.push(pod.pod_id.clone()),
            }
        }
        let failed = per_pod.iter().any(|(_, r)| !r.passed);
        let now = self.clock.now();
        let overdue = round
            .checking_since
            .is_some_and(|at| now - at > settings.timeout_secs as i64 * 1000 + GRACE_MS);
        let fail_now = failed && settings.on_failure == OnFailure::MarkJobFail;
        if !missing.is_empty() && !fail_now && !overdue {
            return;
        }
        // Pods without results when the round is decided count as timed out only past the
        // deadline; a failure seen earlier decides alone.
        let timed_out: &[String] = if overdue { &missing } else { &[] };
        let records: Vec<SanityRecord> = settings
            .phases
            .iter()
            .map(|phase| record(round.number, *phase, &per_pod, timed_out))
            .collect();
        if let Err(e) = self.store.put_sanity_results(job_id, &records) {
            tracing::warn!(job.id = %job_id, "failed to record sanity check results: {e}");
        }
        let failures: Vec<String> = records
            .iter()
            .filter(|r| r.status == "Failed")
            .map(|r| format!("{}: {}", r.phase, r.message))
            .collect();
        let policy = if timed_out.is_empty() {
            settings.on_failure
        } else {
            settings.on_timeout
        };
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        let Phase::Live { sanity, fault } = &mut active.phase else {
            return;
        };
        *sanity = None;
        if failures.is_empty() || policy == OnFailure::ContinueJob {
            let t =
                Transition::new(JobStatus::Running, now).because("JobRunning", "Job is running.");
            match self.store.transition(job_id, &t) {
                Ok(_) => active.status = JobStatus::Running,
                Err(e) => tracing::warn!(job.id = %job_id, "failed to mark the job running: {e}"),
            }
            return;
        }
        let code = if timed_out.is_empty() {
            "SanityCheckFailed"
        } else {
            "SanityCheckTimeout"
        };
        *fault = Some(Fault::Failing(Reason::new(
            code,
            format!(
                "Sanity check {} failed. {}",
                round.number,
                failures.join(" ")
            ),
        )));
        self.evaluate(job_id);
    }
}

/// `PEERS_ENV` of a job's pods: every pod's address and port, by rank.
pub(super) fn peers_env(plans: &[PodPlan], ports: &[u16]) -> EnvValue {
    let mut by_rank: Vec<&PodPlan> = plans.iter().collect();
    by_rank.sort_by_key(|p| p.rank);
    let mut value = EnvValue::default();
    for (i, plan) in by_rank.into_iter().enumerate() {
        if i > 0 {
            value.push_text(",");
        }
        value.push_address(plan.pod_id.clone());
        let port = ports.get(plan.rank as usize).copied().unwrap_or_default();
        value.push_text(format!(":{port}"));
    }
    value
}

/// One phase of the round over all pods; pods without results count as failed (timed out).
fn record(
    round: u32,
    phase: CheckPhase,
    per_pod: &[(String, PhaseResult)],
    missing: &[String],
) -> SanityRecord {
    let combined = combine(phase, per_pod);
    let mut status = match &combined {
        Some(c) if c.passed => "Succeeded",
        _ => "Failed",
    };
    let mut message = combined
        .as_ref()
        .map(|c| c.message.clone())
        .unwrap_or_default();
    if !missing.is_empty() {
        status = "Failed";
        if !message.is_empty() {
            message.push_str("; ");
        }
        message.push_str(&format!(
            "no results from {} (timed out)",
            missing.join(", ")
        ));
    }
    SanityRecord {
        check_number: round,
        phase: phase.as_str().into(),
        status: status.into(),
        message,
        started: combined.as_ref().map(|c| c.started),
        finished: combined.as_ref().map(|c| c.finished),
    }
}
