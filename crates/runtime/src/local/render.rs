//! The local runtime's side of the contract: a [`PodRecipe`] rendered into the [`PodLaunch`]
//! its supervisor runs, and the [`Runtime`] trait on top of the supervisor.
//!
//! Every pod runs on this host, so every address in the env contract is the loopback address.
//! A pod with an image runs in it when the server has a container engine (its command becomes
//! the engine's `run`); otherwise on the host, and its start event says the image was not used.

use std::path::Path;

use tokio::sync::mpsc;

use super::container::{ContainerImage, ContainerRun};
use super::{LocalRuntime, PodLaunch, POD_IP};
use crate::contract::{Facts, Gang, PodRecipe, PodRef, Recovery, Report, Runtime};
use crate::error::RuntimeError;
use crate::pod::chain;
use crate::pod::containers::EnginePod;
use crate::pod::mounts::Mount;
use crate::pod_dir::{lock_spec, PodDir};
use crate::pod_files::Limits;
use opendlc_core::containers::PodExtras;

/// A rendered pod and the sentence its start event begins with.
pub(super) struct Rendered {
    pub launch: PodLaunch,
    pub placement: String,
    /// A container's limits (the shim reports a host pod's).
    pub container_limits: Option<String>,
}

impl LocalRuntime {
    /// The pod as the supervisor runs it.
    pub(super) fn render(&self, recipe: PodRecipe) -> Result<Rendered, RuntimeError> {
        let engine = self.inner.container_engine.as_deref();
        let image = recipe.image.as_deref().map(str::trim).unwrap_or("");
        let container = engine.filter(|_| !image.is_empty());
        let mut env: std::collections::BTreeMap<String, String> = recipe
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(|_| POD_IP.to_string())))
            .collect();
        if !recipe.gpus.is_empty() {
            let list = recipe
                .gpus
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            env.insert("CUDA_VISIBLE_DEVICES".into(), list.clone());
            env.insert("NVIDIA_VISIBLE_DEVICES".into(), list);
        }
        let program = &self.inner.shim_program;
        let extras = recipe.steps.containers.as_ref().map(|c| &c.extras);
        let run = ContainerRun {
            engine: container.unwrap_or(Path::new("podman")),
            image,
            pod_uid: &recipe.pod_uid,
            hostname: &recipe.pod_id,
            workdir: &recipe.workdir,
            host_paths: vec![(recipe.job_dir.clone(), false), (program.clone(), true)],
            mounts: &[],
            env_names: env.keys().cloned().collect(),
            gpus: &recipe.gpus,
            limits: recipe.limits,
            owner: recipe.steps.sandbox.as_ref().map(|s| &s.identity),
            host_names: recipe.host_names.keys().cloned().collect(),
            shm_mib: recipe.steps.sandbox.as_ref().and_then(|s| s.shm_mib),
            in_pod: extras.is_some(),
            metadata: &recipe.metadata,
        };
        let command = chain::render_pod(
            &recipe.steps,
            program,
            &recipe.dir,
            container.is_some().then_some(&run as chain::Contain<'_>),
        )
        .map_err(|error| RuntimeError::WriteSpec {
            pod_id: recipe.pod_id.clone(),
            path: recipe.dir.join(chain::MOUNTS_FILE),
            error,
        })?;
        let mut others: Vec<String> = extras
            .into_iter()
            .flat_map(|e| e.containers())
            .map(|c| c.image.trim().to_string())
            .filter(|i| !i.is_empty() && i != image)
            .collect();
        others.sort();
        others.dedup();
        Ok(Rendered {
            placement: placement_note(image, container),
            container_limits: container.and(recipe.limits).map(container_limits_note),
            launch: PodLaunch {
                pod_id: recipe.pod_id,
                pod_uid: recipe.pod_uid,
                dir: recipe.dir,
                command: command.shell,
                view: command.view,
                workdir: recipe.workdir,
                env,
                grace_period: recipe.grace_period,
                // A container is held to them by its engine: its processes are not the shim's.
                limits: if container.is_some() {
                    None
                } else {
                    recipe.limits
                },
                cpus: recipe.cpus,
                // A container's /tmp goes with it.
                scratch: if container.is_none() {
                    recipe.scratch
                } else {
                    Vec::new()
                },
                // A sandbox's view has the job's hosts file; a container has --add-host.
                hosts: if container.is_none()
                    && recipe.steps.sandbox.is_none()
                    && !recipe.host_names.is_empty()
                    && self.own_views()
                {
                    (recipe.host_names.keys())
                        .map(|name| (name.clone(), POD_IP.to_string()))
                        .collect()
                } else {
                    Default::default()
                },
                image: container.map(|engine| ContainerImage {
                    engine: engine.to_path_buf(),
                    image: image.to_string(),
                    others,
                    in_pod: extras.is_some(),
                    auth: recipe.registry_auth.clone(),
                }),
            },
        })
    }
}

impl chain::Engine for ContainerRun<'_> {
    fn run(&self, inner: &str, mounts: &[Mount]) -> String {
        ContainerRun {
            mounts,
            ..self.clone()
        }
        .command(inner)
    }

    fn pod(&self, inner: &str, mounts: &[Mount], extras: &PodExtras) -> (String, EnginePod) {
        let run = ContainerRun {
            mounts,
            ..self.clone()
        };
        let pod = EnginePod {
            create: run.pod_create(),
            remove: run.pod_remove(),
            containers: extras
                .containers()
                .map(|c| (c.name.clone(), run.container_argv(c)))
                .collect(),
            exec: run.hook_exec(),
            running: run.main_running(),
        };
        (run.command(inner), pod)
    }
}

impl Runtime for LocalRuntime {
    fn facts(&self) -> Facts {
        Facts {
            one_host: true,
            local_processes: true,
            containers: self.inner.container_engine.is_some(),
        }
    }

    /// One task per pod: pods start in parallel and independently.
    fn launch(&self, gang: Gang, reports: mpsc::UnboundedSender<Report>) {
        for recipe in gang.pods {
            let runtime = self.clone();
            let reports = reports.clone();
            let job_id = gang.job_id.clone();
            tokio::spawn(async move {
                let pod_uid = recipe.pod_uid.clone();
                // Rendering writes the pod's mounts file: off the runtime's workers too.
                let rendered = {
                    let renderer = runtime.clone();
                    let pod_id = recipe.pod_id.clone();
                    let path = recipe.dir.join(chain::MOUNTS_FILE);
                    runtime
                        .off_worker(move || renderer.render(recipe))
                        .await
                        .unwrap_or_else(|error| {
                            Err(RuntimeError::WriteSpec {
                                pod_id,
                                path,
                                error,
                            })
                        })
                };
                let result = match rendered {
                    Ok(rendered) => {
                        let started = runtime.launch(rendered.launch).await;
                        started.map(|mut started| {
                            let limits = rendered.container_limits.or(started.description);
                            started.description = Some(match limits {
                                Some(limits) => format!("{}; limits: {limits}", rendered.placement),
                                None => rendered.placement,
                            });
                            started
                        })
                    }
                    Err(e) => Err(e),
                };
                let _ = reports.send(Report::Launched {
                    job_id,
                    pod_uid,
                    result: result.map_err(|e| e.to_string()),
                });
            });
        }
    }

    fn stop(&self, pod: &PodRef) -> Result<(), RuntimeError> {
        LocalRuntime::stop(self, &pod.dir)
    }

    fn recover(&self, pod: &PodRef, stopping: bool) -> Result<Recovery, RuntimeError> {
        if !crate::was_started(&pod.dir) {
            return Ok(Recovery::NotStarted);
        }
        // A launch was begun. If no shim holds the pod's lock and none recorded anything, the
        // launch got no further than spec.json (the server was killed first): nothing runs and
        // nothing will, so it is launched again. Otherwise its shim is (or was) there: never
        // launch twice.
        let dir = PodDir::new(&pod.dir);
        let recorded = |dir: &PodDir| dir.started().exists() || dir.exit().exists();
        if !recorded(&dir) && matches!(lock_spec(&dir), Ok(Some(_))) && !recorded(&dir) {
            return Ok(Recovery::NotStarted);
        }
        self.reattach_then(&pod.pod_uid, &pod.dir, stopping)?;
        let started = crate::pod_dir::read_json::<crate::ShimStarted>(&dir.started())
            .ok()
            .flatten()
            .map(|started| self.started(started));
        Ok(Recovery::Watching { started })
    }
}

/// Where a pod runs, for its start event.
fn placement_note(image: &str, engine: Option<&Path>) -> String {
    match engine {
        Some(engine) => format!(
            "in image {image} ({})",
            engine
                .file_name()
                .unwrap_or(engine.as_os_str())
                .to_string_lossy()
        ),
        None if image.is_empty() => "on the host".to_string(),
        None => format!(
            "on the host: its image {image} is recorded, not used (no container engine: \
             opendlc serve --container-engine podman)"
        ),
    }
}

/// How a container pod's limits hold, for its start event.
fn container_limits_note(limits: Limits) -> String {
    let mut parts = Vec::new();
    if let Some(milli) = limits.cpu_milli {
        parts.push(format!("CPU {}", milli as f64 / 1000.0));
    }
    if let Some(mib) = limits.memory_mib {
        parts.push(format!("memory {mib} MiB"));
    }
    format!("{} (the container's)", parts.join(", "))
}
