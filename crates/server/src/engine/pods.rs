//! The engine's pod half: launching pods, recording their start and end, and applying the
//! lifecycle decision to their job.

use std::collections::{HashMap, HashSet};

use opendlc_core::lifecycle::{decide, Decision};
use opendlc_core::startup::PodPhase;
use opendlc_core::time::now_millis;
use opendlc_core::{JobStatus, Pod, PodStatus, Reason};
use opendlc_runtime::cgroup::Limits;
use opendlc_runtime::{PodEvent, PodLaunch};
use opendlc_store::{PodEnd, Transition};

use super::apply::{grace_period, new_pods, plan, Engine, LaunchNote, POD_IP};
use super::containers::{container_limits_note, placement_note};
use super::Launched;

impl Engine {
    /// Launches the pods of an active job that are not launched yet and whose startup
    /// dependencies are met (all of them, or only those in `only`: the never-started ones at
    /// recovery), each in its own task; each outcome comes back as `Launched`.
    pub fn launch_pods(&mut self, job_id: &str, only: Option<&HashSet<String>>) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        let job = &active.job;
        let phases: Vec<PodPhase> = active
            .pods
            .iter()
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
            .pods
            .iter()
            .filter(|p| {
                p.status == PodStatus::Pending && !self.launch_requested.contains(&p.pod_uid)
            })
            .filter(|p| only.is_none_or(|uids| uids.contains(&p.pod_uid)))
            .filter(|p| ready(p))
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
        let mut envs: HashMap<String, _> = plans.into_iter().map(|p| (p.pod_id, p.env)).collect();
        let mut launches = Vec::with_capacity(to_launch.len());
        let mut notes = Vec::with_capacity(to_launch.len());
        for pod in to_launch {
            let Some(env) = envs.remove(&pod.pod_id) else {
                continue;
            };
            let role = job.roles.iter().find(|r| r.role == pod.role);
            let command = role
                .and_then(|r| r.command.clone())
                .unwrap_or_else(|| job.user_command.clone());
            let rank = env.get("RANK").and_then(|r| r.parse().ok());
            let mut env = env;
            if let Some(gpus) = active.gpus.get(&pod.pod_id) {
                let list = gpus
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                env.insert("CUDA_VISIBLE_DEVICES".into(), list.clone());
                env.insert("NVIDIA_VISIBLE_DEVICES".into(), list);
            }
            let command = match &framework {
                Ok(framework) => framework.apply(pod, &mut env, command),
                Err(_) => command,
            };
            let command = self.with_sanity_check(job, pod, rank, command, &workdir);
            let limits = role.filter(|_| self.pod_limits).map(|r| Limits {
                cpu_milli: Some(r.resources.cpu_milli).filter(|c| *c > 0),
                memory_mib: Some(r.resources.memory_mib).filter(|m| *m > 0),
            });
            let image = role.map_or("", |r| r.image.as_str());
            let gpus = active.gpus.get(&pod.pod_id).cloned().unwrap_or_default();
            let container = self.container_for(image, &gpus, limits);
            notes.push((
                pod.pod_uid.clone(),
                LaunchNote {
                    placement: placement_note(
                        image,
                        container.as_ref(),
                        self.container_engine.as_deref(),
                    ),
                    limits: container
                        .as_ref()
                        .and_then(|c| container_limits_note(c.limits)),
                    container: container.is_some(),
                },
            ));
            let command =
                match self.with_env_preparation(job, pod, &mut env, command, container.as_ref()) {
                    Ok(command) => command,
                    Err(e) => {
                        tracing::error!(pod.id = %pod.pod_id, "{e}");
                        format!("echo {} >&2; exit 1", opendlc_core::mpi::shell_quote(&e))
                    }
                };
            launches.push(PodLaunch {
                pod_id: pod.pod_id.clone(),
                pod_uid: pod.pod_uid.clone(),
                dir: self.jobs_dir.pod(job_id, &pod.pod_uid),
                command,
                workdir: workdir.clone(),
                env,
                grace_period: grace_period(job),
                // A container is held to them by its engine: its processes are not the shim's.
                limits: if container.is_some() { None } else { limits },
                image: self.image_to_ensure(container.as_ref()),
            });
        }
        self.launch_notes.extend(notes);
        let prepared = framework.as_ref().map(|_| ()).map_err(String::clone);
        self.spawn_launches(job_id, launches, prepared);
    }

    /// After a pod starts or ends: launch the pods that were waiting for it, if any.
    fn launch_dependents(&mut self, job_id: &str) {
        let waits = self.active.get(job_id).is_some_and(|a| {
            a.job
                .roles
                .iter()
                .any(|r| !r.startup_dependencies.is_empty())
                && a.pods
                    .iter()
                    .any(|p| !self.launch_requested.contains(&p.pod_uid))
        });
        if waits {
            self.launch_pods(job_id, None);
        }
    }

    pub fn on_launched(&mut self, launched: Launched) {
        let Launched {
            job_id,
            pod_uid,
            result,
        } = launched;
        let now = now_millis();
        let node = self.node_name.clone();
        let store = self.store.clone();
        let note = self.launch_notes.remove(&pod_uid);
        if note.as_ref().is_some_and(|n| n.container) {
            self.container_pods.insert(pod_uid.clone());
        }
        let Some(active) = self.active.get_mut(&job_id) else {
            return;
        };
        let stopping = active.stopping_pods;
        let Some(pod) = active.pod_mut(&pod_uid) else {
            return;
        };
        self.launched_pods.insert(pod_uid.clone());
        match result {
            Ok(started) => {
                let at = started.started_at.timestamp_millis();
                let (node, ip) = match started.placement {
                    Some(p) => (p.node, p.ip),
                    None => (node, POD_IP.to_string()),
                };
                // Where it runs and under which limits, in its start event (one write).
                let how = note.as_ref().map(|note| {
                    match note.limits.as_ref().or(started.limits.as_ref()) {
                        Some(limits) => format!("{}; limits: {limits}", note.placement),
                        None => note.placement.clone(),
                    }
                });
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
        if let Some(event) = self.early_exits.remove(&pod_uid) {
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
        let t = Transition::new(JobStatus::Running, now_millis())
            .because("JobRunning", "Job is running.");
        match self.store.transition(job_id, &t) {
            Ok(_) => active.status = JobStatus::Running,
            Err(e) => tracing::warn!(job.id = %job_id, "failed to mark the job running: {e}"),
        }
    }

    pub fn on_pod_event(&mut self, event: PodEvent) {
        let pod_uid = event.pod_uid().to_string();
        if self.container_pods.remove(&pod_uid) {
            self.remove_container(&pod_uid);
        }
        if !self.launched_pods.contains(&pod_uid) {
            self.early_exits.insert(pod_uid, event);
            return;
        }
        let Some(job_id) = self.pod_jobs.get(&pod_uid).cloned() else {
            return;
        };
        // A pod that ends during a check round: its results decide before its exit code does.
        self.poll_sanity_check(&job_id);
        // Likewise a failed install of the job's ThirdpartyLibs.
        self.note_env_failure(&job_id);
        let store = self.store.clone();
        let Some(pod) = self
            .active
            .get_mut(&job_id)
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
                let reason = exit.reason.or_else(|| (!succeeded).then_some(outcome));
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
                    at: now_millis(),
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
                at: now_millis(),
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
        if active.reserving.is_some() {
            return;
        }
        if active.preempted.is_some() {
            if active.pods.iter().all(|p| p.status.is_terminal()) {
                self.requeue_preempted(job_id);
            } else if !active.stopping_pods {
                let (launched, waiting): (Vec<Pod>, Vec<Pod>) = active
                    .pods
                    .iter()
                    .filter(|p| !p.status.is_terminal())
                    .cloned()
                    .partition(|p| self.launch_requested.contains(&p.pod_uid));
                for pod in &launched {
                    self.stop_pod(pod);
                }
                if let Some(active) = self.active.get_mut(job_id) {
                    active.stopping_pods = true;
                }
                if !waiting.is_empty() {
                    self.end_unstarted(job_id, &waiting);
                    self.evaluate(job_id);
                }
            }
            return;
        }
        match decide(&active.views(), active.signals()) {
            Decision::Wait => {}
            Decision::Restart { reason, now: true } => self.restart(job_id, reason),
            Decision::StopRemaining(_) | Decision::Restart { now: false, .. } => {
                if !active.stopping_pods {
                    let (launched, waiting): (Vec<Pod>, Vec<Pod>) = active
                        .pods
                        .iter()
                        .filter(|p| !p.status.is_terminal())
                        .cloned()
                        .partition(|p| self.launch_requested.contains(&p.pod_uid));
                    for pod in &launched {
                        self.stop_pod(pod);
                    }
                    if let Some(active) = self.active.get_mut(job_id) {
                        active.stopping_pods = true;
                    }
                    // Pods still waiting for their startup dependencies will never start.
                    if !waiting.is_empty() {
                        self.end_unstarted(job_id, &waiting);
                        self.evaluate(job_id);
                    }
                }
            }
            Decision::Finish(outcome) => self.finish(job_id, outcome),
        }
    }

    /// Starts new incarnations of every pod of the job (all old ones have ended).
    fn restart(&mut self, job_id: &str, reason: Reason) {
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        let pods = new_pods(&active.job, now_millis());
        let t = Transition {
            to: JobStatus::Restarting,
            reason: Some(reason),
            at: now_millis(),
        };
        match self.store.replace_pods(job_id, &pods, &t) {
            Ok(job) => {
                active.job.restart_count = job.restart_count;
                active.status = JobStatus::Restarting;
            }
            Err(e) => {
                tracing::error!(job.id = %job_id, "failed to restart the job's pods: {e}");
                return;
            }
        }
        for old in &active.pods {
            self.launched_pods.remove(&old.pod_uid);
            self.launch_requested.remove(&old.pod_uid);
            self.pod_jobs.remove(&old.pod_uid);
        }
        for pod in &pods {
            self.pod_jobs
                .insert(pod.pod_uid.clone(), job_id.to_string());
        }
        active.replace_pods(pods);
        tracing::info!(job.id = %job_id, restarts = active.job.restart_count, "restarting the job's pods");
        self.begin_sanity_round(job_id, true);
        self.launch_pods(job_id, None);
    }

    pub fn stop_pod(&self, pod: &Pod) {
        if let Err(e) = self.runtime.stop(&self.pod_dir(&pod.job_id, &pod.pod_uid)) {
            tracing::warn!(pod.id = %pod.pod_id, "failed to stop the pod: {e}");
        }
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
