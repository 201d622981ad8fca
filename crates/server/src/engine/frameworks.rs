//! What a job type needs on the local runtime beyond its environment variables: files written
//! before its pods start and commands of its own for some roles. MPIJob: the hostfile, the
//! remote shell and the Worker pods' `opendlc mpi-worker` (`opendlc_core::frameworks::mpi`). RayJob: the
//! ports of the Ray processes, the head's and the workers' `ray start` (`opendlc_core::frameworks::ray`).
//! DataJuicerJob: `dj-process` on its config, on a Ray cluster of its pods when distributed
//! (`opendlc_core::frameworks::data_juicer`). A framework that is not installed fails the pods at once,
//! saying what is missing.

use std::collections::{BTreeMap, HashMap};

use opendlc_core::env_contract::PodPlan;
use opendlc_core::env_value::EnvValue;
use opendlc_core::frameworks::data_juicer::{self, Mode};
use opendlc_core::frameworks::mpi;
use opendlc_core::frameworks::ray::{self, HeadPorts, NodePorts, NodeShape};
use opendlc_core::{Job, JobType, Pod, Role};

use super::apply::{free_ports, Engine};

/// How long a RayJob's Head waits for its Workers to join before it runs the command anyway.
const RAY_WAIT_SECS: u32 = 120;

/// What the pods of one job get from its framework, once its files are in place.
#[derive(Debug, Default)]
pub(super) struct FrameworkLaunch {
    /// Every pod's.
    env: Vec<(String, EnvValue)>,
    /// Each pod's own (by PodId): its own address, say.
    pod_env: HashMap<String, Vec<(String, EnvValue)>>,
    /// The command of each pod that runs one of the framework's (by PodId).
    commands: HashMap<String, String>,
}

impl FrameworkLaunch {
    /// The pod's environment and command, with the framework's part added.
    pub fn apply(
        &self,
        pod: &Pod,
        env: &mut BTreeMap<String, EnvValue>,
        command: String,
    ) -> String {
        env.extend(self.env.iter().cloned());
        env.extend(self.pod_env.get(&pod.pod_id).into_iter().flatten().cloned());
        self.commands.get(&pod.pod_id).cloned().unwrap_or(command)
    }
}

impl Engine {
    /// Writes the files the job's framework needs; `plans` are all of the job's pods.
    pub(super) fn prepare_framework(
        &self,
        job: &Job,
        plans: &[PodPlan],
    ) -> Result<FrameworkLaunch, String> {
        match job.job_type {
            JobType::MPIJob => {
                require(job, "mpirun", "Open MPI (Debian: apt install openmpi-bin)")?;
                self.prepare_mpi(job, plans)
            }
            JobType::RayJob => {
                let command = role_command(job, Role::Head);
                self.prepare_ray(job, plans, Role::Head, command)
            }
            JobType::DataJuicerJob => self.prepare_data_juicer(job, plans),
            _ => Ok(FrameworkLaunch::default()),
        }
    }

    fn prepare_data_juicer(&self, job: &Job, plans: &[PodPlan]) -> Result<FrameworkLaunch, String> {
        let plan = data_juicer::Plan::of(&job.request);
        let config_file = self.jobs_dir.job(&job.job_id).join("data-juicer.yaml");
        if let data_juicer::Command::ConfigText(text) = &plan.command {
            std::fs::write(&config_file, text).map_err(|e| {
                format!(
                    "failed to write the Data-Juicer config to {}: {e}",
                    config_file.display()
                )
            })?;
        }
        if plan.command != data_juicer::Command::Shell {
            require(
                job,
                data_juicer::PROGRAM,
                "Data-Juicer (pip install py-data-juicer)",
            )?;
        }
        let main_role = match plan.mode {
            Mode::Distributed => Role::Master,
            Mode::Standalone => plans.first().map_or(Role::Master, |p| p.role),
        };
        let command = plan.pod_command(
            &role_command(job, main_role),
            &config_file.display().to_string(),
        );
        if plan.mode == Mode::Distributed {
            return self.prepare_ray(job, plans, Role::Master, command);
        }
        let commands = plans
            .iter()
            .map(|p| (p.pod_id.clone(), command.clone()))
            .collect();
        Ok(FrameworkLaunch {
            commands,
            ..FrameworkLaunch::default()
        })
    }

    /// A Ray cluster of the job's pods: the `head` role's pod starts the head and then runs
    /// `command` as the driver, the Workers join it.
    fn prepare_ray(
        &self,
        job: &Job,
        plans: &[PodPlan],
        head: Role,
        command: String,
    ) -> Result<FrameworkLaunch, String> {
        require(job, "ray", "Ray (pip install \"ray[default]\")")?;
        let workers: Vec<&PodPlan> = plans.iter().filter(|p| p.role == Role::Worker).collect();
        let mut ports = free_ports(2 + NodePorts::COUNT * (1 + workers.len()));
        let mut take = |n: usize| ports.drain(..n).collect::<Vec<u16>>();
        let head_ports = {
            let own = take(2);
            HeadPorts {
                // The rank-0 port of the contract: MASTER_PORT is the cluster's address.
                gcs: job.ports.first().copied().unwrap_or_default(),
                dashboard: own[0],
                client_server: own[1],
                node: NodePorts::from_slice(&take(NodePorts::COUNT)),
            }
        };
        let dir = self.jobs_dir.ray(&job.job_id);
        let written = std::fs::create_dir_all(&dir).and_then(|_| {
            let json = serde_json::to_vec_pretty(&head_ports).map_err(std::io::Error::other)?;
            std::fs::write(dir.join(ray::HEAD_FILE), json)
        });
        written.map_err(|e| {
            format!(
                "failed to record the Ray head's ports in {}: {e}",
                dir.display()
            )
        })?;
        let own_command = |role: Role| {
            job.roles
                .iter()
                .any(|r| r.role == role && r.command.is_some())
        };
        let shape = |plan: &PodPlan| NodeShape {
            cpus: (plan.resources.cpu_milli / 1000).max(1) as u32,
            gpus: plan.resources.gpu,
        };
        // A pod's own address, expanded by its shell (see ray::POD_IP_ENV).
        let pod_ip = format!("\"${}\"", ray::POD_IP_ENV);
        let mut commands = HashMap::new();
        for plan in plans {
            let command = match plan.role {
                role if role == head => {
                    let temp_dir = std::env::temp_dir().join(format!("opendlc-ray-{}", job.job_id));
                    ray::head_command(
                        &pod_ip,
                        &head_ports,
                        shape(plan),
                        &temp_dir.display().to_string(),
                        plans.len() as u32,
                        RAY_WAIT_SECS,
                        &command,
                    )
                }
                Role::Worker if !own_command(Role::Worker) => {
                    let node = NodePorts::from_slice(&take(NodePorts::COUNT));
                    ray::worker_command("\"$RAY_ADDRESS\"", &pod_ip, &node, shape(plan))
                }
                _ => continue,
            };
            commands.insert(plan.pod_id.clone(), command);
        }
        let head_pod = plans
            .iter()
            .find(|p| p.role == head)
            .map_or_else(String::new, |p| p.pod_id.clone());
        Ok(FrameworkLaunch {
            env: vec![(
                "RAY_ADDRESS".into(),
                EnvValue::endpoint_of(head_pod, head_ports.gcs),
            )],
            pod_env: plans
                .iter()
                .map(|p| {
                    let own = EnvValue::address_of(&p.pod_id);
                    (p.pod_id.clone(), vec![(ray::POD_IP_ENV.to_string(), own)])
                })
                .collect(),
            commands,
        })
    }

    fn prepare_mpi(&self, job: &Job, plans: &[PodPlan]) -> Result<FrameworkLaunch, String> {
        let dir = self.jobs_dir.mpi(&job.job_id);
        let program = &self.checker_program;
        for path in [&dir, program] {
            if !mpi::usable_in_agent(path) {
                return Err(format!(
                    "Open MPI cannot use {} in its remote shell command: the path has a space",
                    path.display()
                ));
            }
        }
        let written = std::fs::create_dir_all(&dir).and_then(|_| {
            use std::os::unix::fs::PermissionsExt;
            // The sockets there run commands in the pods: only their user may reach them.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            std::fs::write(dir.join(mpi::HOSTFILE), mpi::hostfile(plans))?;
            write_mpi_secret(&dir)
        });
        written
            .map_err(|e| format!("failed to write the MPI hostfile in {}: {e}", dir.display()))?;
        // Workers without a command of their own serve the Launcher's mpirun.
        let commands = plans
            .iter()
            .filter(|p| p.role == Role::Worker)
            .filter(|_| {
                !job.roles
                    .iter()
                    .any(|r| r.role == Role::Worker && r.command.is_some())
            })
            .map(|p| {
                (
                    p.pod_id.clone(),
                    mpi::worker_command(&dir, program, &p.pod_id),
                )
            })
            .collect();
        let one_host = self.runtime.facts().one_host;
        Ok(FrameworkLaunch {
            env: mpi::env(&dir, program, one_host)
                .into_iter()
                .map(|(k, v)| (k, EnvValue::from(v)))
                .collect(),
            pod_env: plans
                .iter()
                .map(|p| (p.pod_id.clone(), mpi::pod_env(&p.pod_id, one_host)))
                .collect(),
            commands,
        })
    }
}

/// The command of `role`'s pods: the role's own, else the job's.
fn role_command(job: &Job, role: Role) -> String {
    job.roles
        .iter()
        .find(|r| r.role == role)
        .and_then(|r| r.command.clone())
        .unwrap_or_else(|| job.user_command.clone())
}

/// Fails unless `program` is on the pods' PATH (the job's `PATH` env, else the server's):
/// without it the job's framework cannot start, and the pods would fail with less to say.
fn require(job: &Job, program: &str, what: &str) -> Result<(), String> {
    let path = job
        .envs
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(dir.join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    if found {
        Ok(())
    } else {
        Err(format!(
            "a {} needs {what}: `{program}` is not on the pods' PATH ({path})",
            job.job_type
        ))
    }
}

/// The secret a remote shell presents to a Worker that listens on TCP (pods on several nodes:
/// the Slurm runtime). Written once per job (then kept, so that pods of every incarnation share
/// it), readable by the server's user only, and in place whole or not at all.
fn write_mpi_secret(dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(opendlc_runtime::pod::mpi::SECRET_FILE);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    let partial = dir.join(format!(
        "{}.partial",
        opendlc_runtime::pod::mpi::SECRET_FILE
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, &path)
}
