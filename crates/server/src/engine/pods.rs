//! The engine's pod half: launching pods, recording their start and end, and applying the
//! lifecycle decision to their job.

use std::collections::{BTreeMap, HashMap};

use opendlc_core::containers::{PodMetadata, RESERVED_PREFIX};
use opendlc_core::env_contract::host_names as host_names_of;
use opendlc_core::ids::{self, JobId, PodUid};
use opendlc_core::lifecycle::{decide, Decision, Fault};
use opendlc_core::placement::NodeRule;
use opendlc_core::sanity::PEERS_ENV;
use opendlc_core::scheduler;
use opendlc_core::service::{role_host_names, ServiceMode};
use opendlc_core::shell::quote;
use opendlc_core::startup::PodPhase;
use opendlc_core::{Job, JobStatus, Pod, PodStatus, RoleSpec};
use opendlc_runtime::contract::{ContainersStep, Gang, PodRecipe, RegistryAuth, Report, Steps};
use opendlc_runtime::pod_files::Limits;
use opendlc_runtime::PodEvent;
use opendlc_store::{PodEnd, Restart, RestartLevel, Transition};

use super::active::{Launch, Phase};
use super::apply::{grace_period, new_pods, plan, Engine};
use super::disk::EVICTED;
use super::isolation::pod_sandbox;

/// After how many restarts caused by a job's pods on one node that node is kept out of the
/// job's placements (PAI's AIMaster blacklists a node the same way).
const FAILURES_TO_EXCLUDE_A_NODE: u32 = 2;

impl Engine {
    /// Launches the pods of an active job not asked of the runtime yet whose startup
    /// dependencies are met, as one gang; each outcome comes back as a `Report::Launched`.
    pub fn launch_pods(&mut self, job_id: &str) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        let job = &active.job;
        let phases: Vec<PodPhase> = active
            .pods()
            .map(|p| PodPhase {
                role: p.role,
                started: p.started.is_some(),
                status: p.status,
            })
            .collect();
        let ready = |pod: &Pod| {
            let role = job.roles.iter().find(|r| r.role == pod.role);
            role.is_none_or(|r| r.startup_dependencies.iter().all(|d| d.is_met(&phases)))
        };
        let to_launch: Vec<&Pod> = active
            .incarnations()
            .iter()
            .filter(|i| matches!(i.launch, Launch::NotRequested))
            .map(|i| &i.pod)
            .filter(|p| p.status == PodStatus::Pending && ready(p))
            .collect();
        if to_launch.is_empty() {
            return;
        }
        let workdir = self.jobs_dir.work(job_id);
        if let Err(e) = std::fs::create_dir_all(&workdir) {
            tracing::error!(job.id = %job_id, "failed to create the job's working directory: {e}");
        }
        let plans = plan(job);
        let framework = self.prepare_framework(job, &plans);
        let peers: BTreeMap<String, std::path::PathBuf> = active
            .pods()
            .map(|p| (p.pod_id.clone(), self.pod_dir(job_id, &p.pod_uid)))
            .collect();
        let check_peers = super::sanity::peers_env(&plans, &job.ports);
        // The pods share the job's sandbox, made once per launch (a pod in a container
        // prepares in it and runs as its owner in the container).
        let image_of = |pod: &Pod| {
            let role = job.roles.iter().find(|r| r.role == pod.role);
            role.map(|r| r.image.trim().to_string())
                .filter(|i| !i.is_empty())
        };
        // The job's pods find each other by name (`<PodId>`, `<role>-<index>`), where the
        // framework allows (Open MPI refuses two names for one host); a PerRole service names
        // its role as well, resolving to the role's first pod. Each name resolves to its pod's
        // address: the loopback on one host, the pod's node on Slurm.
        let mut host_names: BTreeMap<String, String> = BTreeMap::new();
        if job.job_type.framework().names_on_one_host() {
            for plan in &plans {
                for name in host_names_of(job_id, &plan.pod_id) {
                    host_names.insert(name, plan.pod_id.clone());
                }
            }
            let per_role = job.roles.iter().filter(|r| {
                r.service
                    .as_ref()
                    .is_some_and(|s| s.mode == ServiceMode::PerRole)
            });
            for role in per_role {
                let first = ids::pod_id(job_id, role.role.as_str(), 0);
                for name in role_host_names(job_id, role.role.as_str()) {
                    host_names.insert(name, first.clone());
                }
            }
        }
        let names: Vec<String> = host_names.keys().cloned().collect();
        let job_sandbox = self.job_sandbox(job, &names);
        let credentials = self.credentials_env(job);
        let mut plans: HashMap<String, _> =
            plans.into_iter().map(|p| (p.pod_id.clone(), p)).collect();
        let mut recipes = Vec::with_capacity(to_launch.len());
        for pod in to_launch {
            let Some(plan) = plans.remove(&pod.pod_id) else {
                continue;
            };
            let role = job.roles.iter().find(|r| r.role == pod.role);
            let command = job.command_of(pod.role);
            let mut env = plan.env;
            env.extend(credentials.clone());
            let (command, scratch) = match &framework {
                Ok(framework) => (
                    framework.apply(pod, &mut env, command),
                    framework.scratch_of(pod),
                ),
                Err(_) => (command, Vec::new()),
            };
            // `Settings.Shell`: the command runs in that shell instead of /bin/sh.
            let command = match job.shell() {
                Some(shell) => format!("exec {} -c {}", quote(shell), quote(&command)),
                None => command,
            };
            let gpus = active
                .allocation
                .gpus
                .get(pod.pod_id.as_str())
                .cloned()
                .unwrap_or_default();
            let cpus = active
                .allocation
                .cpus
                .get(pod.pod_id.as_str())
                .cloned()
                .unwrap_or_default();
            let sanity = self.sanity_step(job, pod, plan.rank, &command, &workdir, &gpus);
            if sanity.is_some() {
                env.insert(PEERS_ENV.to_string(), check_peers.clone());
            }
            let dir = self.pod_dir(job_id, &pod.pod_uid);
            let shm_mib = role.and_then(|r| r.shared_memory_mib);
            let sandbox = job_sandbox
                .as_ref()
                .map(|job| pod_sandbox(job, &dir, &env, shm_mib));
            let containers = role
                .map(|r| &r.extras)
                .filter(|extras| !extras.is_empty())
                .map(|extras| ContainersStep {
                    extras: extras.clone(),
                    grace_period: grace_period(job),
                });
            let steps = match self.env_steps(job, pod, &mut env) {
                Ok((prepare, mounts)) => Steps {
                    prepare,
                    mounts,
                    sanity,
                    command,
                    containers,
                    sandbox,
                },
                Err(e) => {
                    tracing::error!(pod.id = %pod.pod_id, "{e}");
                    Steps {
                        command: format!("echo {} >&2; exit 1", quote(&e)),
                        sandbox,
                        ..Steps::default()
                    }
                }
            };
            recipes.push(PodRecipe {
                job_id: job_id.to_string(),
                pod_id: pod.pod_id.clone(),
                pod_uid: pod.pod_uid.clone(),
                rank: plan.rank,
                dir,
                job_dir: self.jobs_dir.job(job_id),
                workdir: workdir.clone(),
                image: image_of(pod),
                registry_auth: registry_auth(job, pod.role),
                resources: plan.resources,
                limits: role.filter(|_| self.pod_limits).map(|r| Limits {
                    cpu_milli: Some(r.resources.cpu_milli).filter(|c| *c > 0),
                    memory_mib: Some(r.resources.memory_mib).filter(|m| *m > 0),
                }),
                gpus,
                cpus,
                env,
                steps,
                peers: peers.clone(),
                host_names: host_names.clone(),
                scratch,
                grace_period: grace_period(job),
                metadata: pod_metadata(job_id, pod, role),
            });
        }
        // The gang's master (the lowest rank) first.
        recipes.sort_by_key(|r| r.rank);
        let gang = Gang {
            job_id: job_id.to_string(),
            resource_id: job.resource_id.clone(),
            priority: job.priority,
            nodes: self.node_rule(job),
            pods: recipes,
        };
        if let Some(active) = self.active.get_mut(job_id) {
            for recipe in &gang.pods {
                if let Some(incarnation) = active.incarnation_mut(&recipe.pod_uid) {
                    incarnation.launch = Launch::Requested { early_end: None };
                }
            }
        }
        if let Err(e) = framework {
            for recipe in gang.pods {
                let _ = self.reports_tx.send(Report::Launched {
                    job_id: job_id.to_string(),
                    pod_uid: recipe.pod_uid,
                    result: Err(e.clone()),
                });
            }
            return;
        }
        if let Some(active) = self.active.get(job_id) {
            self.launch_gang(&active.job, gang);
        }
    }

    /// After a pod starts or ends: launch the pods that were waiting for it, if any.
    fn launch_dependents(&mut self, job_id: &str) {
        let waits = self.active.get(job_id).is_some_and(|a| {
            a.job
                .roles
                .iter()
                .any(|r| !r.startup_dependencies.is_empty())
                && a.incarnations()
                    .iter()
                    .any(|i| matches!(i.launch, Launch::NotRequested))
        });
        if waits {
            self.launch_pods(job_id);
        }
    }

    /// What the runtime reports: a launch's outcome, or a note about pods waiting to start.
    pub fn on_report(&mut self, report: Report) {
        match report {
            Report::Launched {
                job_id,
                pod_uid,
                result,
            } => self.on_launched(job_id, pod_uid, result),
            Report::Note {
                job_id,
                text,
                waiting,
            } => {
                if let Err(e) = self.store.add_event(&job_id, &text) {
                    tracing::warn!(job.id = %job_id, "failed to record a runtime event: {e}");
                }
                if let Some(reason) = waiting {
                    if let Err(e) = self.store.set_reason(&job_id, &reason) {
                        tracing::warn!(job.id = %job_id, "failed to record why the job waits: {e}");
                    }
                }
            }
        }
    }

    fn on_launched(
        &mut self,
        job_id: String,
        pod_uid: String,
        result: Result<opendlc_runtime::Started, String>,
    ) {
        let now = self.clock.now();
        let store = self.store.clone();
        let Some(active) = self.active.get_mut(&*job_id) else {
            return;
        };
        let stopping = active.stopping_pods;
        let Some(incarnation) = active.incarnation_mut(&pod_uid) else {
            return;
        };
        let early_end = match std::mem::replace(&mut incarnation.launch, Launch::Launched) {
            Launch::Requested { early_end } => early_end,
            Launch::NotRequested | Launch::Launched => None,
        };
        let pod = &mut incarnation.pod;
        match result {
            Ok(started) => {
                record_start(&store, pod, started);
                let pod = pod.clone();
                if stopping {
                    self.stop_pod(&pod);
                }
                self.maybe_running(&job_id);
                self.launch_dependents(&job_id);
            }
            Err(error) => {
                let end = PodEnd {
                    status: PodStatus::Failed,
                    exit_code: None,
                    exit_signal: None,
                    reason: Some(format!("could not be started: {error}")),
                    at: now,
                };
                let text = format!("Pod {} could not be started: {error}", pod.pod_id);
                record_end(&store, pod, end, &text);
            }
        }
        if let Some(event) = early_end {
            self.on_pod_event(event);
        }
        self.evaluate(&job_id);
    }

    /// EnvPreparing (or Restarting) → Running once every pod of the job has started.
    pub(super) fn maybe_running(&mut self, job_id: &str) {
        // Pods that prepare their environment (ThirdpartyLibs) keep the job EnvPreparing.
        if !self.env_ready(job_id) {
            return;
        }
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        let starting = matches!(
            active.status,
            JobStatus::EnvPreparing | JobStatus::Restarting
        );
        if !starting || !active.all_started() {
            return;
        }
        if self.enter_sanity_check(job_id) {
            return;
        }
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        let t = Transition::new(JobStatus::Running, self.clock.now())
            .because("JobRunning", "Job is running.");
        match self.store.transition(job_id, &t) {
            Ok(_) => active.status = JobStatus::Running,
            Err(e) => tracing::warn!(job.id = %job_id, "failed to mark the job running: {e}"),
        }
    }

    pub fn on_pod_event(&mut self, event: PodEvent) {
        let pod_uid = event.pod_uid().to_string();
        // An incarnation that is no longer current (its job ended or restarted): nothing to do.
        let Some(job_id) = self.pod_jobs.get(pod_uid.as_str()).map(JobId::to_string) else {
            return;
        };
        let Some(incarnation) = self
            .active
            .get_mut(job_id.as_str())
            .and_then(|a| a.incarnation_mut(&pod_uid))
        else {
            return;
        };
        match &mut incarnation.launch {
            Launch::Launched => {}
            // Its end overtook the runtime's answer to its launch: it counts once that is in.
            Launch::Requested { early_end } => {
                *early_end = Some(event);
                return;
            }
            Launch::NotRequested => {
                tracing::warn!(pod.uid = %pod_uid, "an end reported for a pod never launched");
                return;
            }
        }
        // A pod that ends during a check round: its results decide before its exit code does.
        self.poll_sanity_check(&job_id);
        // Likewise a failed install of the job's ThirdpartyLibs.
        self.note_env_failure(&job_id);
        let store = self.store.clone();
        // Pods stopped for their disk use, or to make room for a normal job (a spot job), are
        // evicted: their reason says so (SubStatus Evicted).
        let evicted = self.active.get(job_id.as_str()).and_then(|a| {
            a.disk.evicted.clone().or_else(|| match &a.phase {
                Phase::Preempting(reason) if reason.code == scheduler::SPOT_EVICTED => {
                    Some(reason.message.clone())
                }
                _ => None,
            })
        });
        let Some(pod) = self
            .active
            .get_mut(job_id.as_str())
            .and_then(|a| a.pod_mut(&pod_uid))
        else {
            return;
        };
        let (end, text) = match event {
            PodEvent::Exited { exit, .. } => {
                let outcome = match (exit.code, exit.signal) {
                    (Some(code), _) => format!("exited with code {code}"),
                    (None, Some(signal)) => format!("was killed by signal {signal}"),
                    (None, None) => "ended".to_string(),
                };
                let text = format!("Pod {} {outcome}", pod.pod_id);
                let succeeded = exit.succeeded();
                let reason = match evicted {
                    Some(why) if !succeeded => Some(format!("{EVICTED}: {why}")),
                    _ => exit.reason.or_else(|| (!succeeded).then_some(outcome)),
                };
                let end = PodEnd {
                    status: if succeeded {
                        PodStatus::Succeeded
                    } else {
                        PodStatus::Failed
                    },
                    exit_code: exit.code,
                    exit_signal: exit.signal,
                    reason,
                    at: exit.finished_at.timestamp_millis(),
                };
                (end, text)
            }
            PodEvent::Lost { reason, .. } => {
                let text = format!("Pod {} was lost: {reason}", pod.pod_id);
                let end = PodEnd {
                    status: PodStatus::Failed,
                    exit_code: None,
                    exit_signal: None,
                    reason: Some(format!("was lost: {reason}")),
                    at: self.clock.now(),
                };
                (end, text)
            }
        };
        if record_end(&store, pod, end, &text) {
            self.evaluate(&job_id);
            self.launch_dependents(&job_id);
        }
    }

    /// Records that pods which never started have ended (their job is ending).
    fn end_unstarted(&mut self, job_id: &str, pods: &[Pod]) {
        let store = self.store.clone();
        let now = self.clock.now();
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        for pod in pods {
            let Some(pod) = active.pod_mut(&pod.pod_uid) else {
                continue;
            };
            let end = PodEnd {
                status: PodStatus::Failed,
                exit_code: None,
                exit_signal: None,
                reason: Some("was not started: the job ended first".into()),
                at: now,
            };
            let text = format!("Pod {} was not started: the job ended first", pod.pod_id);
            record_end(&store, pod, end, &text);
        }
    }

    /// Applies the lifecycle decision to an active job.
    pub fn evaluate(&mut self, job_id: &str) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        if matches!(active.phase, Phase::Reserving(_)) {
            return;
        }
        // An elastic job loses its failed pods before they could fail it.
        if self.shrink_elastic(job_id) {
            self.evaluate(job_id);
            return;
        }
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        match decide(&active.views(), active.signals()) {
            Decision::Wait => {}
            Decision::Restart { fault, now: true } => self.restart(job_id, fault),
            Decision::RestartPod(fault) => self.restart_pod(job_id, fault),
            Decision::Requeue { reason, now: true } => self.requeue_preempted(job_id, reason),
            Decision::StopRemaining(_)
            | Decision::Restart { now: false, .. }
            | Decision::Requeue { now: false, .. } => self.stop_remaining(job_id),
            Decision::Finish(outcome) => self.finish(job_id, outcome),
        }
    }

    /// Once per job ending (or preempted): stops its launched pods, and records the pods still
    /// waiting for their startup dependencies as ended, since they will never start.
    fn stop_remaining(&mut self, job_id: &str) {
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        if active.stopping_pods {
            return;
        }
        active.stopping_pods = true;
        let (launched, waiting): (Vec<_>, Vec<_>) = active
            .incarnations()
            .iter()
            .filter(|i| !i.pod.status.is_terminal())
            .partition(|i| !matches!(i.launch, Launch::NotRequested));
        let launched: Vec<Pod> = launched.into_iter().map(|i| i.pod.clone()).collect();
        let waiting: Vec<Pod> = waiting.into_iter().map(|i| i.pod.clone()).collect();
        for pod in &launched {
            self.stop_pod(pod);
        }
        if !waiting.is_empty() {
            self.end_unstarted(job_id, &waiting);
            self.evaluate(job_id);
        }
    }

    /// Starts new incarnations of every pod of the job (all old ones have ended).
    fn restart(&mut self, job_id: &str, fault: Fault) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        let now = self.clock.now();
        let pods = new_pods(&active.job, now);
        let record = self.restart_record(&active.job, &fault, RestartLevel::Job);
        let t = Transition {
            to: JobStatus::Restarting,
            reason: Some(fault.reason),
            at: now,
        };
        let job = match self.store.restart_job(job_id, &pods, &t, &record) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job.id = %job_id, "failed to restart the job's pods: {e}");
                return;
            }
        };
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        active.job.restart_count = job.restart_count;
        active.job.infra_restart_count = job.infra_restart_count;
        active.status = JobStatus::Restarting;
        for old in active.pods() {
            self.pod_jobs.remove(old.pod_uid.as_str());
        }
        for pod in &pods {
            self.pod_jobs
                .insert(PodUid::from(pod.pod_uid.as_str()), JobId::from(job_id));
        }
        active.replace_pods(pods);
        tracing::info!(job.id = %job_id, restarts = active.job.restart_count, "restarting the job's pods");
        self.begin_sanity_round(job_id, true);
        self.launch_pods(job_id);
    }

    /// Starts a new incarnation of the one pod `fault` names (it has ended), with the same
    /// name and rank; the job's other pods run on (`--job-execution-mode=Async`).
    fn restart_pod(&mut self, job_id: &str, fault: Fault) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        let Some(old) = active
            .pods()
            .find(|p| Some(p.pod_id.as_str()) == fault.pod_id.as_deref())
        else {
            return;
        };
        let now = self.clock.now();
        let pod = Pod::pending(job_id, old.pod_id.clone(), old.role, old.index, now);
        let old_uid = old.pod_uid.clone();
        let mut record = self.restart_record(&active.job, &fault, RestartLevel::Pod);
        record.time = now;
        let job = match self.store.restart_pod(&old_uid, &pod, &record) {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job.id = %job_id, "failed to restart pod {old_uid}: {e}");
                return;
            }
        };
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        active.job.restart_count = job.restart_count;
        active.job.infra_restart_count = job.infra_restart_count;
        self.pod_jobs.remove(old_uid.as_str());
        self.pod_jobs
            .insert(PodUid::from(pod.pod_uid.as_str()), JobId::from(job_id));
        tracing::info!(job.id = %job_id, pod.id = %pod.pod_id, "restarting one pod alone");
        active.replace_pod(&old_uid, pod);
        self.launch_pods(job_id);
        // Another pod may have ended meanwhile and ask for its own restart.
        self.evaluate(job_id);
    }

    /// The record of a restart for `fault`. The node of the pod that caused it is kept out
    /// of the job's next placements when the job's pods have failed there twice, unless no
    /// other node would be left for the job (an event says which).
    fn restart_record(&self, job: &Job, fault: &Fault, level: RestartLevel) -> Restart {
        let mut record = Restart {
            n: 0,
            time: self.clock.now(),
            level,
            message: fault.reason.message.clone(),
            cause: Some(fault.cause),
            pod_id: fault.pod_id.clone(),
            node: fault.node.clone(),
            excluded: false,
        };
        let Some(node) = fault.node.as_deref() else {
            return record;
        };
        let before = self.store.restarts_on(&job.job_id, node).unwrap_or(0);
        if before + 1 < FAILURES_TO_EXCLUDE_A_NODE {
            return record;
        }
        let mut rule = self.node_rule(job);
        rule.never.insert(node.to_string());
        let left = self.nodes.iter().any(|n| rule.allows(n));
        let text = if left {
            record.excluded = true;
            format!(
                "Node {node} is kept out of this job's placements: its pods failed there \
                 {FAILURES_TO_EXCLUDE_A_NODE} times"
            )
        } else {
            format!(
                "Node {node} stays in this job's placements although its pods failed there \
                 {FAILURES_TO_EXCLUDE_A_NODE} times: no other node is left where it may run"
            )
        };
        if let Err(e) = self.store.add_event(&job.job_id, &text) {
            tracing::warn!(job.id = %job.job_id, "failed to record a node's exclusion: {e}");
        }
        record
    }

    /// Where the job's pods may run: its AssignNodeSpec, without the nodes its restarts
    /// excluded.
    fn node_rule(&self, job: &Job) -> NodeRule {
        let mut rule = job.node_rule();
        if job.restart_count + job.infra_restart_count > 0 {
            match self.store.excluded_nodes(&job.job_id) {
                Ok(excluded) => rule.never.extend(excluded),
                Err(e) => {
                    tracing::warn!(job.id = %job.job_id, "failed to read excluded nodes: {e}")
                }
            }
        }
        rule
    }

    pub fn stop_pod(&self, pod: &Pod) {
        if let Err(e) = self.runtime.stop(&self.pod_ref(pod)) {
            tracing::warn!(pod.id = %pod.pod_id, "failed to stop the pod: {e}");
        }
    }
}

/// Records a pod's start in the store (with its start event: where it runs, under which
/// limits) and in memory.
pub(super) fn record_start(
    store: &opendlc_store::Store,
    pod: &mut Pod,
    started: opendlc_runtime::Started,
) {
    let at = started.started_at.timestamp_millis();
    let (node, ip) = (started.placement.node, started.placement.ip);
    let how = started.description;
    let recorded = store.pod_started(pod, started.pid, &ip, &node, at, how.as_deref());
    if let Err(e) = recorded {
        tracing::error!(pod.id = %pod.pod_id, "failed to record the pod's start: {e}");
    }
    pod.pid = Some(started.pid);
    pod.ip = Some(ip);
    pod.node_name = Some(node);
    pod.started = Some(at);
    if pod.status == PodStatus::Pending {
        pod.status = PodStatus::Running;
    }
}

/// Records a pod's end in the store and in memory; false if it had already ended.
pub(super) fn record_end(
    store: &opendlc_store::Store,
    pod: &mut Pod,
    end: PodEnd,
    event_text: &str,
) -> bool {
    match store.pod_ended(pod, &end, event_text) {
        Ok(true) => {
            pod.status = end.status;
            pod.exit_code = end.exit_code;
            pod.exit_signal = end.exit_signal;
            pod.reason = end.reason;
            pod.finished = Some(end.at);
            true
        }
        Ok(false) => false,
        Err(e) => {
            tracing::error!(pod.id = %pod.pod_id, "failed to record the pod's end: {e}");
            false
        }
    }
}

/// The pod's labels and annotations: its role's, and opendlc's own labels saying whose it is.
fn pod_metadata(job_id: &str, pod: &Pod, role: Option<&RoleSpec>) -> PodMetadata {
    let mut metadata = role.map(|r| r.metadata.clone()).unwrap_or_default();
    let own = [
        ("job-id", job_id),
        ("pod-id", pod.pod_id.as_str()),
        ("role", pod.role.as_str()),
    ];
    for (key, value) in own {
        metadata
            .labels
            .insert(format!("{RESERVED_PREFIX}{key}"), value.to_string());
    }
    metadata
}

/// The login to the registry of `role`'s image, from its JobSpec's `ImageConfig`.
fn registry_auth(job: &Job, role: opendlc_core::Role) -> Option<RegistryAuth> {
    let spec = job
        .request
        .job_specs
        .iter()
        .flatten()
        .find(|s| s.r#type.as_deref() == Some(role.as_str()))?;
    let config = spec.image_config.as_ref()?;
    RegistryAuth::new(
        spec.image.as_deref().unwrap_or_default(),
        config.docker_registry.as_deref(),
        config.username.as_deref(),
        config.password.as_deref(),
        config.auth.as_deref(),
    )
}
