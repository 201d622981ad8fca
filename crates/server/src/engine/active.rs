//! An admitted job as the engine tracks it in memory, with its pods' current incarnations, so
//! that a pod's start or exit costs one store write and no re-read of the whole job.

use std::collections::HashMap;

use opendlc_core::lifecycle::{JobSignals, Outcome, PodView};
use opendlc_core::restart::PodEnd;
use opendlc_core::time::Millis;
use opendlc_core::{Job, JobStatus, Pod, PodStatus, Reason, Resources};

pub(super) struct ActiveJob {
    pub job: Job,
    /// The job's status as the engine last set it (the store holds the same).
    pub status: JobStatus,
    pub resources: Resources,
    pub deadline: Option<Millis>,
    /// Set once the job must end whatever its pods do (user stop, deadline).
    pub stop_reason: Option<Reason>,
    /// Whether the pods still running were told to stop.
    pub stopping_pods: bool,
    /// Set when hang detection found the pods silent too long.
    pub hung: Option<Reason>,
    /// Set when the job must fail whatever its pods do (a failed sanity check).
    pub failing: Option<Reason>,
    /// The sanity check round under way (its CheckNumber), while the job is SanityChecking
    /// or about to be.
    pub sanity_round: Option<u32>,
    /// Set when the job is being preempted: once its pods have ended it goes back to the queue.
    pub preempted: Option<Reason>,
    /// GPUs assigned to each pod (by pod id): disjoint across running pods.
    pub gpus: HashMap<String, Vec<u32>>,
    /// When the job became SanityChecking in this round.
    pub sanity_started: Option<Millis>,
    /// Set while the job is kept after its end (SucceededReserving/FailedReserving).
    pub reserving: Option<Reserving>,
    /// Current incarnations, in pod order.
    pub pods: Vec<Pod>,
    by_uid: HashMap<String, usize>,
}

/// A finished job kept by its JobReservedMinutes.
pub(super) struct Reserving {
    /// When the reservation ends.
    pub until: Millis,
    /// The status and reason the job takes then.
    pub outcome: Outcome,
}

impl ActiveJob {
    pub fn new(job: Job, status: JobStatus, deadline: Option<Millis>, pods: Vec<Pod>) -> Self {
        ActiveJob {
            resources: job.total_resources(),
            job,
            status,
            deadline,
            stop_reason: None,
            stopping_pods: false,
            hung: None,
            failing: None,
            sanity_round: None,
            preempted: None,
            gpus: HashMap::new(),
            sanity_started: None,
            reserving: None,
            by_uid: index(&pods),
            pods,
        }
    }

    pub fn pod_mut(&mut self, pod_uid: &str) -> Option<&mut Pod> {
        self.by_uid.get(pod_uid).map(|&i| &mut self.pods[i])
    }

    /// New incarnations replace the current pods (a restart).
    pub fn replace_pods(&mut self, pods: Vec<Pod>) {
        self.by_uid = index(&pods);
        self.pods = pods;
        self.stopping_pods = false;
        self.hung = None;
    }

    /// What the lifecycle decision needs beyond the pods.
    pub fn signals(&self) -> JobSignals<'_> {
        JobSignals {
            stopping: self.stop_reason.as_ref(),
            hung: self.hung.as_ref(),
            failing: self.failing.as_ref(),
            restarts_left: self
                .job
                .max_restarts()
                .saturating_sub(self.job.restart_count),
        }
    }

    pub fn all_started(&self) -> bool {
        self.pods.iter().all(|p| p.started.is_some())
    }

    /// The pods as the lifecycle decision sees them.
    pub fn views(&self) -> Vec<PodView<'_>> {
        self.pods
            .iter()
            .map(|p| {
                let role = self.job.roles.iter().find(|r| r.role == p.role);
                PodView {
                    pod_id: &p.pod_id,
                    status: p.status,
                    considered: role.is_none_or(|r| r.considered_in_success),
                    exit_code: p.exit_code,
                    reason: p.reason.as_deref(),
                    finished: p.finished,
                    policy: role.map(|r| r.restart_policy).unwrap_or_default(),
                    end: pod_end(p),
                }
            })
            .collect()
    }
}

fn index(pods: &[Pod]) -> HashMap<String, usize> {
    pods.iter()
        .enumerate()
        .map(|(i, p)| (p.pod_uid.clone(), i))
        .collect()
}

/// How a pod ended, for its restart policy: a signal counts as 128 + signal, as a shell says.
fn pod_end(pod: &Pod) -> Option<PodEnd> {
    match pod.status {
        PodStatus::Succeeded => Some(PodEnd::Succeeded),
        PodStatus::Failed => Some(match (pod.exit_code, pod.exit_signal) {
            (Some(code), _) => PodEnd::Exited(code),
            (None, Some(signal)) => PodEnd::Exited(128 + signal),
            (None, None) => PodEnd::Lost,
        }),
        _ => None,
    }
}
