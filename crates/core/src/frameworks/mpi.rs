//! MPIJob: how `mpirun` in the Launcher pod reaches the Worker pods (Open MPI).
//!
//! As the MPI operators do on Kubernetes (KubeDL: a hostfile and a remote-shell agent in
//! `/etc/mpi`), every pod gets `OMPI_MCA_*` variables naming a hostfile that lists the Worker
//! pods with their slots and a remote shell (`opendlc mpi-rsh`) that runs Open MPI's daemon
//! inside the named Worker pod, where `opendlc mpi-worker` serves it. A plain `mpirun python
//! train.py` in the Launcher therefore starts one rank per slot in the Workers. The Launcher's
//! exit decides the job; Workers serve until it ends (they do not count for its success).
//!
//! Roles: one Launcher (required, rank 0, runs the UserCommand), Workers. Before the pods
//! start, the job's MPI directory (`mpi/`, private to the server's user) holds the hostfile and
//! the secret a remote shell presents to a Worker listening on TCP.

use std::path::{Path, PathBuf};

use super::{has_own_command, Contents, Framework, JobFiles, Launch, Program, RoleRule};
use super::{Setup, SetupContext};
use crate::env_contract::PodPlan;
use crate::env_value::EnvValue;
use crate::job::Job;
use crate::job_type::Role;
use crate::shell::quote as shell_quote;

pub struct Mpi;

const ROLES: &[RoleRule] = &[
    RoleRule::new(Role::Launcher).single().required(),
    RoleRule::new(Role::Worker).serves(),
];

/// What `mpirun` is, and what provides it.
pub const PROGRAM: Program = Program {
    name: "mpirun",
    provided_by: "Open MPI (Debian: apt install openmpi-bin)",
};

/// The job's MPI directory, in the job's: the hostfile, the secret, the Worker pods' sockets.
pub const DIR: &str = "mpi";

/// The job's secret in its MPI directory (written by the server): what a remote shell must
/// present to a worker that listens on TCP.
pub const SECRET_FILE: &str = "secret";

impl Framework for Mpi {
    /// Open MPI takes hostfile names that resolve to a loopback address for this host itself,
    /// and refuses two of them: its Workers keep names that do not resolve (its launcher's
    /// remote shell finds their pods).
    fn names_on_one_host(&self) -> bool {
        false
    }

    fn description(&self) -> &'static str {
        "MPI: the Launcher's mpirun starts the ranks inside the Worker pods"
    }

    fn roles(&self) -> &'static [RoleRule] {
        ROLES
    }

    fn programs(&self, _job: &Job) -> Vec<Program> {
        vec![PROGRAM]
    }

    fn setup(&self, ctx: &mut SetupContext<'_>) -> Result<Setup, String> {
        let dir = ctx.job_dir.join(DIR);
        let program = ctx.program;
        for path in [&dir, program] {
            if !usable_in_agent(path) {
                return Err(format!(
                    "Open MPI cannot use {} in its remote shell command: the path has a space",
                    path.display()
                ));
            }
        }
        let files = JobFiles {
            // The sockets there run commands in the pods: only their user may reach them.
            private: true,
            files: vec![
                (HOSTFILE, Contents::Text(hostfile(ctx.plans))),
                (SECRET_FILE, Contents::Secret),
            ],
            failure: format!("failed to write the MPI hostfile in {}", dir.display()),
            dir: dir.clone(),
        };
        // Workers without a command of their own serve the Launcher's mpirun.
        let serve = !has_own_command(ctx.job, Role::Worker);
        let commands = ctx
            .plans
            .iter()
            .filter(|p| p.role == Role::Worker && serve)
            .map(|p| (p.pod_id.clone(), worker_command(&dir, program, &p.pod_id)))
            .collect();
        let launch = Launch {
            env: env(&dir, program, ctx.one_host)
                .into_iter()
                .map(|(k, v)| (k, EnvValue::from(v)))
                .collect(),
            pod_env: ctx
                .plans
                .iter()
                .map(|p| (p.pod_id.clone(), pod_env(&p.pod_id, ctx.one_host)))
                .collect(),
            commands,
            scratch: ctx
                .plans
                .iter()
                .map(|p| (p.pod_id.clone(), vec![session_base(&p.pod_id)]))
                .collect(),
        };
        Ok(Setup {
            files: vec![files],
            launch,
        })
    }
}

/// Where a Worker's remote shell listens on TCP (`host:port` is chosen by the worker), when its
/// pods are on several hosts; on one host it listens on a Unix socket in the MPI directory.
pub const LISTEN_ENV: &str = "OPENDLC_MPI_LISTEN";

/// The hostfile's name in the job's MPI directory.
pub const HOSTFILE: &str = "hostfile";

/// `<pod> slots=<n>` for every Worker pod, n = its `NPROC_PER_NODE` (its GPUs, at least 1), as
/// KubeDL writes it.
pub fn hostfile(pods: &[PodPlan]) -> String {
    pods.iter()
        .filter(|p| p.role == Role::Worker)
        .map(|p| {
            let slots = p.text("NPROC_PER_NODE").unwrap_or("1");
            format!("{} slots={slots}\n", p.pod_id)
        })
        .collect()
}

/// The variables every pod of an MPIJob gets; `dir` is the job's MPI directory (hostfile,
/// sockets), `program` the opendlc binary; `one_host`: whether every pod runs on one host (the
/// local runtime), where ranks and daemons talk over loopback only.
pub fn env(dir: &Path, program: &Path, one_host: bool) -> Vec<(String, String)> {
    let agent = format!("{} mpi-rsh --dir {}", program.display(), dir.display());
    [
        ("OMPI_MCA_plm_rsh_agent", agent),
        (
            "OMPI_MCA_orte_default_hostfile",
            dir.join(HOSTFILE).display().to_string(),
        ),
        // Daemons start through the agent even inside a Slurm allocation (the Slurm runtime),
        // where Open MPI would otherwise launch with srun over the allocation's nodes.
        ("OMPI_MCA_plm", "rsh".to_string()),
        ("OMPI_MCA_ras", "^slurm".to_string()),
        // Several daemons on one host (every pod is) each map their hardware topology into
        // shared memory at a fixed address, and Open MPI 4.1's orted crashes in
        // hwloc_shmem_topology_write when two of them race for it: each reads its own.
        ("OMPI_MCA_rtc_hwloc_vmhole", "none".to_string()),
        // Each daemon takes its parameters from its own pod's environment, not from mpirun's
        // command line: mpirun would otherwise pass the Launcher's `OMPI_MCA_*` on, its session
        // directory (`pod_env`) included, and the daemons would race it for the same directory.
        ("OMPI_MCA_plm_rsh_pass_environ_mca_params", "0".to_string()),
        // PAI-DLC's containers run as root, and so do the MPI operators' examples.
        ("OMPI_ALLOW_RUN_AS_ROOT", "1".to_string()),
        ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1".to_string()),
    ]
    .into_iter()
    // Every pod on one host: ranks and daemons talk over loopback.
    .chain(
        one_host
            .then(|| {
                [
                    ("OMPI_MCA_btl_tcp_if_include", "127.0.0.1/8".to_string()),
                    ("OMPI_MCA_oob_tcp_if_include", "127.0.0.1/8".to_string()),
                ]
            })
            .into_iter()
            .flatten(),
    )
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A pod's own variables: where Open MPI keeps its session files, and, on several hosts,
/// where its Worker's remote shell listens.
///
/// Each pod gets a session directory of its own: Open MPI's daemons of one job on one host
/// (every pod on the local runtime; several pods on a node under Slurm) otherwise create the
/// same `/tmp/ompi.<host>.<uid>/jf.<job>/` tree at once, and one of them can fail its `mkdir`
/// with "File exists" (a race in Open MPI's session_dir.c), failing the whole job.
pub fn pod_env(pod_id: &str, one_host: bool) -> Vec<(String, EnvValue)> {
    let session = (
        "OMPI_MCA_orte_tmpdir_base".to_string(),
        EnvValue::from(session_base(pod_id).display().to_string()),
    );
    if one_host {
        return vec![session];
    }
    vec![
        session,
        (LISTEN_ENV.to_string(), EnvValue::address_of(pod_id)),
    ]
}

/// Where a pod's Open MPI keeps its session directories (`OMPI_MCA_orte_tmpdir_base`): Open
/// MPI removes its sessions, not this directory, which the pod's shim removes at its end.
pub fn session_base(pod_id: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/opendlc-mpi-{pod_id}"))
}

/// Whether Open MPI can take this path inside `OMPI_MCA_plm_rsh_agent`, which it splits on
/// spaces.
pub fn usable_in_agent(path: &Path) -> bool {
    !path.display().to_string().chars().any(char::is_whitespace)
}

/// A Worker pod's command: serve the Launcher's remote shell until the pod is stopped.
pub fn worker_command(dir: &Path, program: &Path, pod_id: &str) -> String {
    format!(
        "exec {} mpi-worker --dir {} --name {}",
        shell_quote(&program.display().to_string()),
        shell_quote(&dir.display().to_string()),
        shell_quote(pod_id)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::testing;
    use super::*;
    use crate::env_contract::{plan_pods, Rendezvous, RolePlan};
    use crate::resources::Resources;
    use crate::JobType;

    #[test]
    fn the_hostfile_lists_the_workers_with_their_slots() {
        let roles = [
            RolePlan {
                role: Role::Launcher,
                pod_count: 1,
                resources: Resources::new(1000, 1024, 0),
            },
            RolePlan {
                role: Role::Worker,
                pod_count: 2,
                resources: Resources::new(1000, 1024, 4),
            },
        ];
        let rdzv = Rendezvous {
            ports: vec![1, 2, 3],
        };
        let pods = plan_pods("dlcx", JobType::MPIJob, &roles, &rdzv, &BTreeMap::new());
        assert_eq!(
            hostfile(&pods),
            "dlcx-worker-0 slots=4\ndlcx-worker-1 slots=4\n"
        );
    }

    #[test]
    fn the_agent_and_the_worker_command_name_the_job_directory() {
        let env: BTreeMap<_, _> = env(Path::new("/d/jobs/j/mpi"), Path::new("/bin/opendlc"), true)
            .into_iter()
            .collect();
        assert_eq!(env["OMPI_MCA_btl_tcp_if_include"], "127.0.0.1/8");
        assert_eq!(
            pod_env("j-worker-0", true),
            [(
                "OMPI_MCA_orte_tmpdir_base".to_string(),
                EnvValue::from("/tmp/opendlc-mpi-j-worker-0")
            )]
        );
        assert_eq!(
            env["OMPI_MCA_plm_rsh_agent"],
            "/bin/opendlc mpi-rsh --dir /d/jobs/j/mpi"
        );
        assert_eq!(
            env["OMPI_MCA_orte_default_hostfile"],
            "/d/jobs/j/mpi/hostfile"
        );
        assert_eq!(
            worker_command(
                Path::new("/d/it's"),
                Path::new("/bin/opendlc"),
                "j-worker-0"
            ),
            r"exec '/bin/opendlc' mpi-worker --dir '/d/it'\''s' --name 'j-worker-0'"
        );
        assert!(!usable_in_agent(Path::new("/my data/x")));
    }

    #[test]
    fn on_several_hosts_mpi_leaves_loopback_and_workers_listen_at_their_address() {
        let env: BTreeMap<_, _> = env(Path::new("/d/mpi"), Path::new("/bin/opendlc"), false)
            .into_iter()
            .collect();
        assert!(!env.contains_key("OMPI_MCA_btl_tcp_if_include"));
        assert!(!env.contains_key("OMPI_MCA_oob_tcp_if_include"));
        assert_eq!(
            pod_env("j-worker-1", false)[1],
            (LISTEN_ENV.to_string(), EnvValue::address_of("j-worker-1"))
        );
    }

    #[test]
    fn the_launcher_is_required_and_alone_decides_success() {
        let job = testing::job(
            JobType::MPIJob,
            &[(Role::Worker, 2, None), (Role::Launcher, 1, None)],
            "mpirun python x.py",
        );
        let deciding: Vec<Role> = job
            .roles
            .iter()
            .filter(|r| r.considered_in_success)
            .map(|r| r.role)
            .collect();
        assert_eq!(deciding, [Role::Launcher]);
        assert_eq!(testing::plans(&job)[0].pod_id, "dlcx-launcher-0");
        let req = testing::request(JobType::MPIJob, &[(Role::Worker, 2, None)], "x");
        let err = testing::submit(&req, false).unwrap_err();
        assert!(err.to_string().contains("needs one Launcher"), "{err}");
    }

    #[test]
    fn setup_writes_the_hostfile_and_workers_serve_mpirun() {
        let job = testing::job(
            JobType::MPIJob,
            &[(Role::Launcher, 1, None), (Role::Worker, 2, None)],
            "mpirun python x.py",
        );
        assert_eq!(Mpi.programs(&job), [PROGRAM]);
        let setup = testing::setup(&job).unwrap();
        assert_eq!(
            setup.files,
            [JobFiles {
                dir: "/d/jobs/dlcx/mpi".into(),
                private: true,
                files: vec![
                    (
                        HOSTFILE,
                        Contents::Text("dlcx-worker-0 slots=1\ndlcx-worker-1 slots=1\n".into())
                    ),
                    (SECRET_FILE, Contents::Secret),
                ],
                failure: "failed to write the MPI hostfile in /d/jobs/dlcx/mpi".into(),
            }]
        );
        let launch = &setup.launch;
        assert!(!launch.commands.contains_key("dlcx-launcher-0"));
        assert_eq!(
            launch.commands["dlcx-worker-1"],
            "exec '/bin/opendlc' mpi-worker --dir '/d/jobs/dlcx/mpi' --name 'dlcx-worker-1'"
        );
        assert!(launch
            .env
            .contains(&("OMPI_MCA_plm".to_string(), EnvValue::from("rsh"))));
        assert_eq!(launch.pod_env.len(), 3);
        // Each pod's session directory goes with it.
        assert_eq!(
            launch.scratch_of("dlcx-launcher-0"),
            [PathBuf::from("/tmp/opendlc-mpi-dlcx-launcher-0")]
        );
    }

    #[test]
    fn workers_with_their_own_command_run_it_and_spaces_are_refused() {
        let job = testing::job(
            JobType::MPIJob,
            &[
                (Role::Launcher, 1, None),
                (Role::Worker, 2, Some("sleep 1")),
            ],
            "mpirun python x.py",
        );
        assert!(testing::setup(&job).unwrap().launch.commands.is_empty());
        let plans = testing::plans(&job);
        let err = Mpi
            .setup(&mut SetupContext {
                job: &job,
                plans: &plans,
                job_dir: Path::new("/my data/jobs/dlcx"),
                program: Path::new("/bin/opendlc"),
                one_host: true,
                temp_dir: Path::new("/tmp"),
                free_ports: &mut |n| vec![0; n],
            })
            .unwrap_err();
        assert!(err.contains("the path has a space"), "{err}");
    }
}
