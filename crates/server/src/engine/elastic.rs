//! Elastic jobs (`opendlc_core::elastic`): a running elastic job grows towards its target one
//! pod at a time while capacity is free and no job waits for it, and shrinks instead of failing
//! when one of its elastic pods (not the rank-0 pod, which hosts the rendezvous) fails, while
//! it stays at or above its minimum. UpdateJob sets its target: it grows towards it, or stops
//! the pods it names (`PodsToDelete`), else its highest ones, which leave once they end.

use opendlc_core::error::Invalid;
use opendlc_core::ids::{self, JobId, PodUid};
use opendlc_core::{Job, JobStatus, Pod, PodStatus, Resources};

use super::active::{ActiveJob, Phase};
use super::apply::{plan, Engine};
use super::EngineError;

impl Engine {
    /// After a scheduling decision: while no normal job waits (elastic growth comes after
    /// starting queued jobs, so it never starves them), each running elastic job below its
    /// target gets one more pod at a time, as long as one fits the pool and its quota.
    pub(super) fn grow_elastic(&mut self) {
        if self.queue.iter().any(|w| !w.spot) {
            return;
        }
        let mut growing: Vec<(i64, JobId)> = self
            .active
            .iter()
            .filter(|(_, a)| {
                a.status == JobStatus::Running
                    && matches!(a.phase, Phase::Live { fault: None, .. })
                    && !a.stopping_pods
                    && !a.job.is_spot()
                    && growing_role(&a.job).is_some()
            })
            .map(|(id, a)| (a.job.seq, id.clone()))
            .collect();
        if growing.is_empty() {
            return;
        }
        // The earliest submitted first.
        growing.sort();
        for (_, job_id) in growing {
            while self.elastic_pod_fits(job_id.as_str()) {
                if !self.add_elastic_pod(job_id.as_str()) {
                    break;
                }
            }
        }
    }

    /// Whether one more pod of the job's elastic role, below its target, fits what the pool
    /// and the job's quota have free.
    fn elastic_pod_fits(&self, job_id: &str) -> bool {
        let Some(active) = self.active.get(job_id) else {
            return false;
        };
        let Some(role) = growing_role(&active.job).map(|r| &active.job.roles[r]) else {
            return false;
        };
        let held = |quota: Option<&str>| {
            self.active
                .values()
                .filter(|a| quota.is_none_or(|q| a.job.resource_id == q))
                .fold(Resources::default(), |acc, a| acc + a.allocation.resources)
        };
        let free = self.capacity.pool.saturating_sub(&held(None));
        let quota = &active.job.resource_id;
        let quota_free = self
            .capacity
            .quotas
            .get(quota)
            .map(|limit| limit.saturating_sub(&held(Some(quota))));
        role.resources.fits_in(&free) && quota_free.is_none_or(|f| role.resources.fits_in(&f))
    }

    /// Adds one pod to the job's elastic role (the lowest free index, so the pods stay those
    /// the job's plan names) and launches it. False if it could not be recorded.
    fn add_elastic_pod(&mut self, job_id: &str) -> bool {
        let now = self.clock.now();
        let Some(active) = self.active.get_mut(job_id) else {
            return false;
        };
        let Some(r) = growing_role(&active.job) else {
            return false;
        };
        let role = active.job.roles[r].role;
        let used: std::collections::HashSet<u32> = active
            .pods()
            .filter(|p| p.role == role)
            .map(|p| p.index)
            .collect();
        let index = (0..).find(|i| !used.contains(i)).unwrap_or_default();
        let mut roles = active.job.roles.clone();
        roles[r].pod_count += 1;
        let Some(elastic) = roles[r].elastic else {
            return false;
        };
        let pod_id = ids::pod_id(job_id, role.as_str(), index);
        let pod = Pod::pending(job_id, pod_id.clone(), role, index, now);
        let text = format!(
            "Pod {pod_id} joins: the job grows to {} {role} pods ({}–{}, aiming for {}), as \
             capacity is free",
            roles[r].pod_count, elastic.min, elastic.max, elastic.target
        );
        if let Err(e) = self.store.add_pod(&pod, &roles, &text) {
            tracing::error!(job.id = %job_id, "failed to grow the elastic job: {e}");
            return false;
        }
        active.job.roles = roles;
        let plans = plan(&active.job);
        if let Some(plan) = plans.iter().find(|p| p.pod_id == pod_id) {
            let pin = active.job.cpu_affinity();
            self.pool.add_pod(&mut active.allocation, plan, pin);
        }
        self.pod_jobs
            .insert(PodUid::from(pod.pod_uid.as_str()), JobId::from(job_id));
        active.add_pod(pod);
        tracing::info!(job.id = %job_id, pod.id = %pod_id, "an elastic job grows");
        self.launch_pods(job_id);
        true
    }

    /// UpdateJob of a running elastic job (`job`: as the request left it): its elastic role's
    /// new `PodCount` is its target; nothing else of its JobSpecs may change.
    pub(super) fn resize(&mut self, job: Job) -> Result<Job, EngineError> {
        let job_id = job.job_id.clone();
        let Some(active) = self.active.get_mut(job_id.as_str()) else {
            return Err(EngineError::IncorrectStatus {
                job_id,
                action: "given new JobSpecs",
                status: job.status,
            });
        };
        let found = active
            .job
            .roles
            .iter()
            .enumerate()
            .find_map(|(i, role)| role.elastic.map(|e| (i, e)));
        let Some((r, elastic)) = found else {
            return Err(EngineError::IncorrectStatus {
                job_id,
                action: "given new JobSpecs",
                status: active.status,
            });
        };
        // Everything but the elastic role's size must be what runs.
        let same_size = |roles: &[opendlc_core::RoleSpec]| {
            let mut roles = roles.to_vec();
            roles[r].pod_count = 0;
            if let Some(e) = roles[r].elastic.as_mut() {
                e.target = 0;
            }
            roles
        };
        if job.roles.len() != active.job.roles.len()
            || same_size(&job.roles) != same_size(&active.job.roles)
        {
            return Err(Invalid::value(
                "JobSpecs",
                "a running elastic job changes only its elastic role's PodCount (and \
                 AutoScalingSpec.PodsToDelete); its other settings are fixed once it runs",
            )
            .into());
        }
        let specs = job.request.job_specs.as_deref().unwrap_or_default();
        let spec = specs.get(r);
        let target = spec
            .and_then(|s| s.pod_count)
            .unwrap_or(i64::from(elastic.target));
        if !(i64::from(elastic.min)..=i64::from(elastic.max)).contains(&target) {
            return Err(Invalid::value(
                format!("JobSpecs[{r}].PodCount"),
                format!(
                    "must be from {} to {} (the elastic range), got {target}",
                    elastic.min, elastic.max
                ),
            )
            .into());
        }
        let target = target as u32;
        let role = active.job.roles[r].role;
        let master = plan(&active.job).first().map(|p| p.pod_id.clone());
        let named: Vec<String> = spec
            .and_then(|s| s.auto_scaling_spec.as_ref())
            .and_then(|a| a.pods_to_delete.clone())
            .unwrap_or_default();
        for pod_id in &named {
            let ours = active
                .pods()
                .any(|p| &p.pod_id == pod_id && p.role == role && !p.status.is_terminal());
            if !ours || Some(pod_id) == master.as_ref() {
                return Err(Invalid::value(
                    format!("JobSpecs[{r}].AutoScalingSpec.PodsToDelete"),
                    format!(
                        "{pod_id} is not a running {role} pod of the job that may leave (the \
                         rank-0 pod hosts the rendezvous)"
                    ),
                )
                .into());
            }
        }
        let staying = active
            .pods()
            .filter(|p| p.role == role && !active.leaving.contains(p.pod_uid.as_str()))
            .count() as u32;
        let leave = leaving_pods(active, &named, staying.saturating_sub(target) as usize);
        let mut roles = active.job.roles.clone();
        if let Some(e) = roles[r].elastic.as_mut() {
            e.target = target;
        }
        let mut updated = job.clone();
        updated.roles = roles.clone();
        self.store.update_job(&updated)?;
        active.job.roles = roles;
        active.job.request = job.request.clone();
        active.job.priority = job.priority;
        active.job.accessibility.clone_from(&job.accessibility);
        let text = if leave.is_empty() {
            format!(
                "UpdateJob: the job aims for {target} {role} pods ({}–{}); it grows as capacity \
                 is free",
                elastic.min, elastic.max
            )
        } else {
            let ids: Vec<&str> = leave.iter().map(|p| p.pod_id.as_str()).collect();
            format!(
                "UpdateJob: the job shrinks to {target} {role} pods ({}–{}): stopping {}",
                elastic.min,
                elastic.max,
                ids.join(", ")
            )
        };
        self.stop_leaving(&job_id, &leave, &text);
        self.dirty = true;
        Ok(self.store.get_job(&job_id)?)
    }

    /// A waiting job takes back `n` of an elastic job's pods above its minimum (the scheduler's
    /// choice, before preempting anyone): its highest pods stop, and leave once they ended.
    /// Its target stays: it grows back once capacity is spare again.
    pub(super) fn give_up_pods(&mut self, job_id: &str, for_job: &str, n: u32) {
        let Some(active) = self.active.get(job_id) else {
            return;
        };
        let leave = leaving_pods(active, &[], n as usize);
        if leave.is_empty() {
            return;
        }
        let ids: Vec<&str> = leave.iter().map(|p| p.pod_id.as_str()).collect();
        let text = format!(
            "Job {for_job} needs the room of {} pod(s) this elastic job runs beyond its minimum: \
             stopping {}",
            leave.len(),
            ids.join(", ")
        );
        tracing::info!(job.id = %job_id, by = %for_job, pods = leave.len(), "an elastic job gives up pods");
        self.stop_leaving(job_id, &leave, &text);
        self.dirty = true;
    }

    /// Stops pods that leave their elastic job, saying why in an event: they leave once they
    /// ended ([`Engine::shrink_elastic`]).
    fn stop_leaving(&mut self, job_id: &str, leave: &[Pod], text: &str) {
        if let Some(active) = self.active.get_mut(job_id) {
            for pod in leave {
                active.leaving.insert(PodUid::from(pod.pod_uid.as_str()));
            }
        }
        if let Err(e) = self.store.add_event(job_id, text) {
            tracing::warn!(job.id = %job_id, "failed to record a resize: {e}");
        }
        for pod in leave {
            self.stop_pod(pod);
        }
    }

    /// Before the lifecycle decides: a pod UpdateJob stopped leaves the job once it ended; an
    /// elastic pod that failed leaves it too, and the job shrinks (its target too), while the
    /// job is live and stays at or above its minimum. Not the rank-0 pod: it hosts the
    /// rendezvous. True if a pod left.
    pub(super) fn shrink_elastic(&mut self, job_id: &str) -> bool {
        let now = self.clock.now();
        let Some(active) = self.active.get_mut(job_id) else {
            return false;
        };
        let elastic = active.job.roles.iter().any(|r| r.elastic.is_some());
        if !elastic
            || !matches!(active.phase, Phase::Live { fault: None, .. })
            || active.stopping_pods
        {
            return false;
        }
        let master = plan(&active.job).first().map(|p| p.pod_id.clone());
        let leaving = active
            .pods()
            .find(|p| p.status.is_terminal() && active.leaving.contains(p.pod_uid.as_str()));
        let failed = active.pods().find(|p| {
            p.status == PodStatus::Failed
                && Some(&p.pod_id) != master.as_ref()
                && active
                    .job
                    .roles
                    .iter()
                    .any(|r| r.role == p.role && r.elastic.is_some_and(|e| r.pod_count > e.min))
        });
        let asked = leaving.is_some();
        let Some(pod) = leaving.or(failed).cloned() else {
            return false;
        };
        let mut roles = active.job.roles.clone();
        let Some(role) = roles.iter_mut().find(|r| r.role == pod.role) else {
            return false;
        };
        role.pod_count -= 1;
        let Some(elastic) = role.elastic.as_mut() else {
            return false;
        };
        let text = if asked {
            format!(
                "Pod {} left, as UpdateJob asked: the job runs {} {} pods ({}–{})",
                pod.pod_id, role.pod_count, role.role, elastic.min, elastic.max
            )
        } else {
            // A failing pod is not started again and again: the target drops with it.
            elastic.target = elastic.target.saturating_sub(1).max(elastic.min);
            let why = pod.reason.as_deref().unwrap_or("failed");
            format!(
                "Pod {} left ({why}): the job shrinks to {} {} pods ({}–{}) instead of failing",
                pod.pod_id, role.pod_count, role.role, elastic.min, elastic.max
            )
        };
        let resources = role.resources;
        if let Err(e) = self
            .store
            .retire_pod(job_id, &pod.pod_uid, &roles, now, &text)
        {
            tracing::error!(job.id = %job_id, "failed to shrink the elastic job: {e}");
            return false;
        }
        active.job.roles = roles;
        active.leaving.remove(pod.pod_uid.as_str());
        active.remove_pod(&pod.pod_uid);
        self.pool
            .remove_pod(&mut active.allocation, &pod.pod_id, resources);
        self.pod_jobs.remove(pod.pod_uid.as_str());
        tracing::info!(job.id = %job_id, pod.id = %pod.pod_id, "an elastic job shrinks");
        self.dirty = true;
        true
    }
}

/// Up to `n` pods of the job's elastic role to stop: those `named` first, then the highest;
/// never the rank-0 pod (it hosts the rendezvous), nor one leaving already.
fn leaving_pods(active: &ActiveJob, named: &[String], n: usize) -> Vec<Pod> {
    let Some(role) = active.job.roles.iter().find(|r| r.elastic.is_some()) else {
        return Vec::new();
    };
    let master = plan(&active.job).first().map(|p| p.pod_id.clone());
    let mut candidates: Vec<&Pod> = active
        .pods()
        .filter(|p| {
            p.role == role.role
                && !p.status.is_terminal()
                && !active.leaving.contains(p.pod_uid.as_str())
                && Some(&p.pod_id) != master.as_ref()
        })
        .collect();
    // Named first, then by index, highest first.
    candidates.sort_by_key(|p| (!named.contains(&p.pod_id), std::cmp::Reverse(p.index)));
    candidates.into_iter().take(n).cloned().collect()
}

/// The index of the job's elastic role while it has fewer pods than its target.
fn growing_role(job: &Job) -> Option<usize> {
    job.roles
        .iter()
        .position(|r| r.elastic.is_some_and(|e| r.pod_count < e.target))
}
