//! An admitted job as the engine tracks it in memory: its phase, what it holds, and its pods'
//! current incarnations with where each one's launch stands, so that a pod's start or exit
//! costs one store write and no re-read of the whole job.

use std::collections::HashMap;

use opendlc_core::ids::{PodId, PodUid};
use opendlc_core::lifecycle::{Budgets, JobSignals, Outcome, PodView};
use opendlc_core::restart::{Cause, PodEnd};
use opendlc_core::time::Millis;
use opendlc_core::{Job, JobStatus, Pod, PodStatus, Reason, Resources};
use opendlc_runtime::PodEvent;

pub(super) struct ActiveJob {
    pub job: Job,
    /// The job's status as the engine last set it (the store holds the same).
    pub status: JobStatus,
    pub phase: Phase,
    /// What it holds from admission until its last pod has ended or its reservation ends.
    pub allocation: Allocation,
    /// When JobMaxRunningTimeMinutes runs out.
    pub deadline: Option<Millis>,
    /// Whether the pods still running were told to stop (once per incarnation: the job is
    /// ending, preempted or about to restart).
    pub stopping_pods: bool,
    /// Where writing its read-write object sources back stands (`objects.rs`).
    pub write_back: WriteBack,
    /// Its working directory against its SystemDisk budget (`disk.rs`).
    pub disk: DiskWatch,
    /// Pods of an elastic role told to stop by UpdateJob: they leave the job when they end.
    pub leaving: std::collections::HashSet<PodUid>,
    /// Current incarnations, in pod order.
    pods: Vec<Incarnation>,
    by_uid: HashMap<PodUid, usize>,
}

/// Where writing an ended job's read-write object sources back stands: its final status waits
/// for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum WriteBack {
    #[default]
    NotStarted,
    InFlight,
    Done,
}

/// A running job's disk use, measured beside the engine (`disk.rs`).
#[derive(Debug, Clone, Default)]
pub(super) struct DiskWatch {
    /// A measurement is under way.
    pub measuring: bool,
    /// When the next one is due.
    pub next: Millis,
    /// Why its pods were evicted, once they were.
    pub evicted: Option<String>,
}

/// Where an admitted job stands beyond its pods; exactly one at a time (the engine's design
/// note draws how it moves).
#[derive(Debug)]
pub(super) enum Phase {
    /// Starting or running its pods.
    Live {
        /// The sanity check round under way, if any.
        sanity: Option<SanityRound>,
        /// Found wrong while it runs: it restarts or fails whatever its pods do next.
        fault: Option<Fault>,
    },
    /// Making room for a higher-priority job: queued again once its pods have ended.
    Preempting(Reason),
    /// StopJob or its deadline: Stopped once its pods have ended.
    Stopping(Reason),
    /// Ended; kept by its JobReservedMinutes.
    Reserving(Reserving),
}

impl Phase {
    pub const fn live() -> Phase {
        Phase::Live {
            sanity: None,
            fault: None,
        }
    }
}

#[derive(Debug)]
pub(super) enum Fault {
    /// No pod wrote any log output for the hang interval: restart while the budget lasts.
    Hung(Reason),
    /// It must fail for a reason of its own (a failed sanity check, a failed preparation of
    /// its environment): no restart.
    Failing(Reason),
}

/// A sanity check round of the job (`sanity.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SanityRound {
    /// Its CheckNumber.
    pub number: u32,
    /// When the job became SanityChecking in this round; `None` until every pod started.
    pub checking_since: Option<Millis>,
}

/// A finished job kept by its JobReservedMinutes.
#[derive(Debug)]
pub(super) struct Reserving {
    /// When the reservation ends.
    pub until: Millis,
    /// The status and reason the job takes then.
    pub outcome: Outcome,
}

/// What an admitted job holds: its share of the pool, the GPUs of each pod that asks for
/// them (disjoint across running pods) and a port per pod for its rendezvous.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Allocation {
    pub resources: Resources,
    pub gpus: HashMap<PodId, Vec<u32>>,
    pub ports: Vec<u16>,
    /// The cores of each pod pinned by `Settings.EnableCPUAffinity`.
    pub cpus: HashMap<PodId, Vec<u32>>,
}

/// A pod incarnation and where its launch stands.
pub(super) struct Incarnation {
    pub pod: Pod,
    pub launch: Launch,
}

/// Where a pod incarnation's launch stands. It has ended once its `Pod::status` is terminal,
/// whatever this says (a pod may end before it is launched: its job ended first).
#[derive(Debug)]
pub(super) enum Launch {
    /// Not asked of the runtime yet: it waits for its startup dependencies (or for the
    /// engine to launch what recovery found never started).
    NotRequested,
    /// Asked of the runtime, whose answer (`Report::Launched`) has not come; an end the
    /// runtime reports before it waits here.
    Requested { early_end: Option<PodEvent> },
    /// The runtime answered: it started, or could not be started.
    Launched,
}

impl ActiveJob {
    pub fn new(
        job: Job,
        status: JobStatus,
        allocation: Allocation,
        deadline: Option<Millis>,
        pods: Vec<Pod>,
    ) -> Self {
        let mut active = ActiveJob {
            job,
            status,
            phase: Phase::live(),
            allocation,
            deadline,
            stopping_pods: false,
            write_back: WriteBack::default(),
            disk: DiskWatch::default(),
            leaving: Default::default(),
            pods: Vec::new(),
            by_uid: HashMap::new(),
        };
        active.set_pods(pods);
        active
    }

    /// The current incarnations' pods, in pod order.
    pub fn pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods.iter().map(|i| &i.pod)
    }

    pub fn incarnations(&self) -> &[Incarnation] {
        &self.pods
    }

    pub fn incarnation_mut(&mut self, pod_uid: &str) -> Option<&mut Incarnation> {
        self.by_uid.get(pod_uid).map(|&i| &mut self.pods[i])
    }

    pub fn pod_mut(&mut self, pod_uid: &str) -> Option<&mut Pod> {
        self.incarnation_mut(pod_uid).map(|i| &mut i.pod)
    }

    /// An elastic job's new pod, not launched yet.
    pub fn add_pod(&mut self, pod: Pod) {
        self.by_uid
            .insert(PodUid::from(pod.pod_uid.as_str()), self.pods.len());
        self.pods.push(Incarnation {
            pod,
            launch: Launch::NotRequested,
        });
    }

    /// An elastic job's pod leaves it (it ended).
    pub fn remove_pod(&mut self, pod_uid: &str) -> Option<Pod> {
        let i = self.by_uid.remove(pod_uid)?;
        let removed = self.pods.remove(i).pod;
        for index in self.by_uid.values_mut() {
            if *index > i {
                *index -= 1;
            }
        }
        Some(removed)
    }

    /// A new incarnation replaces one pod (it restarts alone), not launched yet.
    pub fn replace_pod(&mut self, old_uid: &str, pod: Pod) {
        let Some(i) = self.by_uid.remove(old_uid) else {
            return;
        };
        self.by_uid.insert(PodUid::from(pod.pod_uid.as_str()), i);
        self.pods[i] = Incarnation {
            pod,
            launch: Launch::NotRequested,
        };
    }

    /// New incarnations replace the current pods (a restart): none launched, no fault.
    pub fn replace_pods(&mut self, pods: Vec<Pod>) {
        self.set_pods(pods);
        self.stopping_pods = false;
        if let Phase::Live { fault, .. } = &mut self.phase {
            *fault = None;
        }
    }

    fn set_pods(&mut self, pods: Vec<Pod>) {
        self.by_uid = pods
            .iter()
            .enumerate()
            .map(|(i, p)| (PodUid::from(p.pod_uid.as_str()), i))
            .collect();
        self.pods = pods
            .into_iter()
            .map(|pod| Incarnation {
                pod,
                launch: Launch::NotRequested,
            })
            .collect();
    }

    /// The sanity round under way, while the job is live.
    pub fn sanity_round(&self) -> Option<SanityRound> {
        match &self.phase {
            Phase::Live { sanity, .. } => *sanity,
            _ => None,
        }
    }

    /// An elastic job's pods above its minimum (not leaving already), and what each holds:
    /// what a waiting job may take back. None for a job that is not live, or a spot job (it
    /// goes whole).
    pub fn surplus(&self) -> Option<(Resources, u32)> {
        if !matches!(self.phase, Phase::Live { fault: None, .. }) || self.job.is_spot() {
            return None;
        }
        let role = self.job.roles.iter().find(|r| r.elastic.is_some())?;
        let min = role.elastic.map_or(role.pod_count, |e| e.min);
        let leaving = self
            .pods()
            .filter(|p| p.role == role.role && self.leaving.contains(p.pod_uid.as_str()))
            .count() as u32;
        let extra = role.pod_count.saturating_sub(leaving).saturating_sub(min);
        (extra > 0).then_some((role.resources, extra))
    }

    pub fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Live { .. })
    }

    /// What the lifecycle decision needs beyond the pods.
    pub fn signals(&self) -> JobSignals<'_> {
        let max = self.job.max_restarts();
        let mut signals = JobSignals {
            restarts_left: Budgets {
                user: max.saturating_sub(self.job.restart_count),
                infrastructure: max.saturating_sub(self.job.infra_restart_count),
            },
            async_pods: self.job.restarts_pods_alone(),
            ..JobSignals::default()
        };
        match &self.phase {
            Phase::Live {
                fault: Some(Fault::Hung(reason)),
                ..
            } => signals.hung = Some(reason),
            Phase::Live {
                fault: Some(Fault::Failing(reason)),
                ..
            } => signals.failing = Some(reason),
            Phase::Preempting(reason) => signals.preempted = Some(reason),
            Phase::Stopping(reason) => signals.stopping = Some(reason),
            Phase::Live { fault: None, .. } | Phase::Reserving(_) => {}
        }
        signals
    }

    pub fn all_started(&self) -> bool {
        self.pods().all(|p| p.started.is_some())
    }

    /// The pods as the lifecycle decision sees them.
    pub fn views(&self) -> Vec<PodView<'_>> {
        self.pods()
            .map(|p| {
                let role = self.job.roles.iter().find(|r| r.role == p.role);
                PodView {
                    pod_id: &p.pod_id,
                    status: p.status,
                    considered: role.is_none_or(|r| r.considered_in_success),
                    exit_code: p.exit_code,
                    reason: p.reason.as_deref(),
                    finished: p.finished,
                    policy: self.job.restart_policy_of(p.role),
                    end: pod_end(p),
                    cause: p.status.is_terminal().then(|| {
                        Cause::of_end(p.status, p.exit_code, p.exit_signal, p.reason.as_deref())
                    }),
                    node: p.node_name.as_deref(),
                }
            })
            .collect()
    }
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
