//! Pods in their JobSpec's image (`opendlc serve --container-engine podman`,
//! `opendlc_runtime::container`). The engine decides per pod: an image and an engine make a
//! container pod; otherwise the pod runs on the host. Either way an event says which, with the
//! limits the pod runs under.

use std::collections::BTreeMap;
use std::path::Path;

use opendlc_runtime::cgroup::Limits;
use opendlc_runtime::container::{self, ContainerImage, ContainerRun};
use opendlc_runtime::mounts::Mount;

use super::apply::Engine;

/// A pod that runs in a container.
#[derive(Debug, Clone)]
pub(super) struct ContainerPod {
    pub image: String,
    pub gpus: Vec<u32>,
    pub limits: Option<Limits>,
}

impl Engine {
    /// The container a pod runs in, if it has an image and the server a container engine.
    pub(super) fn container_for(
        &self,
        image: &str,
        gpus: &[u32],
        limits: Option<Limits>,
    ) -> Option<ContainerPod> {
        self.container_engine.as_ref()?;
        let image = image.trim();
        (!image.is_empty()).then(|| ContainerPod {
            image: image.to_string(),
            gpus: gpus.to_vec(),
            limits,
        })
    }

    /// `command` run in the pod's container, with the job's directory, this binary and `mounts`.
    pub(super) fn in_container(
        &self,
        pod: &ContainerPod,
        job_id: &str,
        pod_uid: &str,
        mounts: &[Mount],
        env: &BTreeMap<String, String>,
        command: &str,
    ) -> String {
        let engine = self
            .container_engine
            .as_deref()
            .unwrap_or(Path::new("podman"));
        let run = ContainerRun {
            engine,
            image: &pod.image,
            pod_uid,
            workdir: &self.jobs_dir.work(job_id),
            host_paths: vec![
                (self.jobs_dir.job(job_id), false),
                (self.checker_program.clone(), true),
            ],
            mounts,
            env_names: env.keys().cloned().collect(),
            gpus: &pod.gpus,
            limits: pod.limits,
        };
        run.command(command)
    }

    /// What the runtime checks before the pod starts: its image, pulled if missing.
    pub(super) fn image_to_ensure(&self, pod: Option<&ContainerPod>) -> Option<ContainerImage> {
        Some(ContainerImage {
            engine: self.container_engine.clone()?,
            image: pod?.image.clone(),
        })
    }

    /// Removes what is left of a container pod once it has ended (its engine client may have
    /// been killed before the container was).
    pub(super) fn remove_container(&self, pod_uid: &str) {
        if let Some(engine) = self.container_engine.clone() {
            let pod_uid = pod_uid.to_string();
            tokio::spawn(async move { container::remove(&engine, &pod_uid).await });
        }
    }
}

/// Where a pod runs, for its start event.
pub(super) fn placement_note(
    image: &str,
    container: Option<&ContainerPod>,
    engine: Option<&Path>,
) -> String {
    let image = image.trim();
    match (container, engine) {
        (Some(c), Some(engine)) => format!(
            "in image {} ({})",
            c.image,
            engine
                .file_name()
                .unwrap_or(engine.as_os_str())
                .to_string_lossy()
        ),
        _ if image.is_empty() => "on the host".to_string(),
        _ => format!(
            "on the host: its image {image} is recorded, not used (no container engine: \
             opendlc serve --container-engine podman)"
        ),
    }
}

/// How a container pod's limits hold, for its start event.
pub(super) fn container_limits_note(limits: Option<Limits>) -> Option<String> {
    let limits = limits?;
    let mut parts = Vec::new();
    if let Some(milli) = limits.cpu_milli {
        parts.push(format!("CPU {}", milli as f64 / 1000.0));
    }
    if let Some(mib) = limits.memory_mib {
        parts.push(format!("memory {mib} MiB"));
    }
    Some(format!("{} (the container's)", parts.join(", ")))
}
