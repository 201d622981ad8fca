//! Preparing a job's environment before its command runs (PAI-DLC: "before the job nodes
//! start"): the `CodeSource` is checked out and `ThirdpartyLibs`/`ThirdpartyLibDir` are
//! pip-installed into a venv of the job's by `opendlc prepare-env`, the pods' first step
//! (`opendlc_runtime::pod::prepare`), while the job stays EnvPreparing; a failure fails the job
//! with its reason (the output is in the pod log). Then the DataSources and the code are put
//! at their MountPaths (`opendlc_runtime::pod::mounts`, or the pod's container) and the
//! command runs: both are steps of the pod's recipe, which its runtime renders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opendlc_core::env_value::EnvValue;
use opendlc_core::{Job, JobStatus, Pod, Reason};
use opendlc_runtime::contract::PrepareStep;
use opendlc_runtime::pod::mounts::Mount;
use opendlc_runtime::pod::prepare::{EnvPlan, FAILED_FILE, PLAN_FILE, VENV_DIR};

use super::active::{Fault, Phase};
use super::apply::Engine;
use crate::sources;

/// The marker a pod's `prepare-env` leaves in its directory once its environment is ready.
const READY_MARKER: &str = "env-ready";

/// Whether the job's pods prepare something before their command.
fn prepares(job: &Job) -> bool {
    let r = &job.request;
    r.code_source.is_some()
        || r.thirdparty_libs.as_ref().is_some_and(|l| !l.is_empty())
        || r.thirdparty_lib_dir.as_ref().is_some_and(|d| !d.is_empty())
}

/// Whether the job's pods use its environment directory (`env_dir`): to prepare something,
/// or to stage a data source or local mount there. Other jobs' is never made.
pub(super) fn uses_env_dir(job: &Job) -> bool {
    let r = &job.request;
    let local_mounts = r
        .job_specs
        .iter()
        .flatten()
        .any(|s| s.local_mount_specs.as_ref().is_some_and(|m| !m.is_empty()));
    prepares(job) || r.data_sources.is_some() || local_mounts
}

impl Engine {
    pub(super) fn env_dir(&self, job_id: &str) -> PathBuf {
        self.jobs_dir.job(job_id).join("env")
    }

    /// The pod's preparation step and mounts (`Steps`); the pod's PATH starts with the job's
    /// venv when it has ThirdpartyLibs.
    pub(super) fn env_steps(
        &self,
        job: &Job,
        pod: &Pod,
        env: &mut BTreeMap<String, EnvValue>,
    ) -> Result<(Option<PrepareStep>, Vec<Mount>), String> {
        let specs = job.request.job_specs.as_deref().unwrap_or_default();
        let role = specs
            .iter()
            .position(|s| s.r#type.as_deref() == Some(pod.role.as_str()));
        let local = role.filter(|&r| {
            specs[r]
                .local_mount_specs
                .as_ref()
                .is_some_and(|m| !m.is_empty())
        });
        let shared = self.shared_volumes(job, pod, role.map(|r| &specs[r]))?;
        if !prepares(job) && job.request.data_sources.is_none() && local.is_none() {
            return Ok((None, shared));
        }
        let dir = self.env_dir(&job.job_id);
        let config = sources::load(&self.data_dir)?;
        let place = sources::Place {
            workspace_id: &job.workspace_id,
            protected: &[&self.data_dir, self.jobs_dir.root()],
        };
        let mut resolved = sources::resolve(
            &config,
            &job.request,
            &self.jobs_dir.job(&job.job_id),
            place,
        )
        .map_err(|e| e.to_string())?;
        if let Some(r) = local {
            let mounts = sources::local_mounts(&config, &job.request, r, place)
                .map_err(|e| e.to_string())?;
            resolved.mounts.extend(mounts);
        }
        resolved.mounts.extend(shared);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        if !prepares(job) {
            return Ok((None, resolved.mounts));
        }
        let plan = EnvPlan {
            code: resolved.code.clone(),
            libs: job.request.thirdparty_libs.clone().unwrap_or_default(),
            requirements: requirements(job, resolved.code_paths.as_ref()),
        };
        write_json(&dir.join(PLAN_FILE), &plan)?;
        if plan.has_libs() {
            let venv = dir.join(VENV_DIR);
            let path = env
                .get("PATH")
                .and_then(EnvValue::as_text)
                .map(str::to_string)
                .or_else(|| std::env::var("PATH").ok())
                .unwrap_or_default();
            env.insert(
                "PATH".into(),
                format!("{}:{path}", venv.join("bin").display()).into(),
            );
            env.insert("VIRTUAL_ENV".into(), venv.display().to_string().into());
        }
        // The preparation runs on the host; in a container, the venv (in the job's directory,
        // which the container sees) works where the image has the host's python at its path.
        let prepare = PrepareStep {
            dir,
            ready: self.pod_dir(&job.job_id, &pod.pod_uid).join(READY_MARKER),
        };
        Ok((Some(prepare), resolved.mounts))
    }

    /// The pod's `SharedVolumeMountPaths`: an empty directory of its own at each path (as
    /// Kubernetes' emptyDir), in the pod's directory, made now and given to its owner; its init
    /// containers, sidecars and command all see it.
    fn shared_volumes(
        &self,
        job: &Job,
        pod: &Pod,
        spec: Option<&opendlc_api::JobSpec>,
    ) -> Result<Vec<Mount>, String> {
        let paths = spec
            .and_then(|s| s.extra_pod_spec.as_ref())
            .and_then(|e| e.shared_volume_mount_paths.as_deref())
            .unwrap_or_default();
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let owner = self
            .isolation
            .as_ref()
            .map(|i| i.identity_of(&self.store, &job.user_id));
        let mut mounts = Vec::with_capacity(paths.len());
        for (j, path) in paths.iter().enumerate() {
            let source = self
                .pod_dir(&job.job_id, &pod.pod_uid)
                .join("shared")
                .join(j.to_string());
            std::fs::create_dir_all(&source)
                .map_err(|e| format!("failed to create {}: {e}", source.display()))?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&source, Some(uid), Some(gid))
                    .map_err(|e| format!("failed to give {} to its pod: {e}", source.display()))?;
            }
            mounts.push(Mount {
                source,
                target: path.into(),
                read_only: false,
            });
        }
        Ok(mounts)
    }

    /// Whether every pod of the job has its environment (true for a job without one).
    pub(super) fn env_ready(&self, job_id: &str) -> bool {
        let Some(active) = self.active.get(job_id) else {
            return true;
        };
        !prepares(&active.job)
            || active.pods().all(|p| {
                p.status.is_terminal()
                    || self.pod_dir(job_id, &p.pod_uid).join(READY_MARKER).exists()
            })
    }

    /// On the engine's tick: a job whose pods all started but some still prepare moves on
    /// once they are done, or fails once a preparation failed.
    pub(super) fn poll_env_preparations(&mut self) {
        let preparing: Vec<String> = self
            .active
            .iter()
            .filter(|(_, a)| a.all_started() && prepares(&a.job))
            .filter(|(_, a)| matches!(a.status, JobStatus::EnvPreparing | JobStatus::Restarting))
            .map(|(id, _)| id.to_string())
            .collect();
        for job_id in preparing {
            if self.note_env_failure(&job_id) {
                self.evaluate(&job_id);
            } else {
                self.maybe_running(&job_id);
            }
        }
    }

    /// If the job's preparation failed: its reason becomes the job's (once); returns whether
    /// it failed.
    pub(super) fn note_env_failure(&mut self, job_id: &str) -> bool {
        if !self.active.get(job_id).is_some_and(|a| prepares(&a.job)) {
            return false;
        }
        let Ok(message) = std::fs::read_to_string(self.env_dir(job_id).join(FAILED_FILE)) else {
            return false;
        };
        if let Some(Phase::Live { fault, .. }) = self.active.get_mut(job_id).map(|a| &mut a.phase) {
            fault.get_or_insert_with(|| Fault::Failing(Reason::new("JobFailed", message)));
        }
        true
    }
}

/// ThirdpartyLibDir's requirements.txt on this host: inside the checkout when the directory
/// is under the CodeSource's MountPath (PAI-DLC's example: `/root/code/`).
fn requirements(job: &Job, code: Option<&(PathBuf, PathBuf)>) -> Option<PathBuf> {
    let dir = job
        .request
        .thirdparty_lib_dir
        .as_deref()
        .filter(|d| !d.is_empty())?;
    let dir = Path::new(dir.strip_prefix("file://").unwrap_or(dir));
    if let Some((mount, checkout)) = code {
        if let Ok(rest) = dir.strip_prefix(mount) {
            return Some(checkout.join(rest).join("requirements.txt"));
        }
    }
    Some(dir.join("requirements.txt"))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, json).map_err(|e| format!("failed to write {}: {e}", path.display()))
}
