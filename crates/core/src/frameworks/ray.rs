//! RayJob: the Head pod starts a Ray head, the Worker pods join it, and once they have, the
//! Head runs the UserCommand as the Ray driver with `RAY_ADDRESS` pointing at the head. The
//! Head's exit (the UserCommand's) decides the job; Workers serve until it ends.
//!
//! Every Ray process listens on ports chosen for the job when its pods start (many clusters
//! share this host), given on the `ray start` command lines below. `ray` must be on the pods'
//! PATH (`pip install "ray[default]"`).
//!
//! Roles: one Head (required, rank 0), Workers. A distributed DataJuicerJob runs on the same
//! kind of cluster ([`cluster`]), its Master the head.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{has_own_command, Setup, SetupContext};
use super::{Contents, Framework, JobFiles, Launch, Program, RoleRule};
use crate::env_contract::PodPlan;
use crate::env_value::EnvValue;
use crate::job::Job;
use crate::job_type::Role;
use crate::shell::quote as shell_quote;

pub struct Ray;

const ROLES: &[RoleRule] = &[
    RoleRule::new(Role::Head).single().required(),
    RoleRule::new(Role::Worker).serves(),
];

/// What `ray` is, and what provides it.
pub const PROGRAM: Program = Program {
    name: "ray",
    provided_by: "Ray (pip install \"ray[default]\")",
};

/// The job's Ray directory, in the job's: [`HEAD_FILE`].
pub const DIR: &str = "ray";

/// How long the head waits for its Workers to join before it runs the command anyway.
const WAIT_SECS: u32 = 120;

impl Framework for Ray {
    fn description(&self) -> &'static str {
        "Ray: the Head starts a cluster the Workers join, then runs the command as the driver"
    }

    fn roles(&self) -> &'static [RoleRule] {
        ROLES
    }

    fn runs_ray(&self, _job: &Job) -> bool {
        true
    }

    fn programs(&self, _job: &Job) -> Vec<Program> {
        vec![PROGRAM]
    }

    fn setup(&self, ctx: &mut SetupContext<'_>) -> Result<Setup, String> {
        let command = ctx.job.command_of(Role::Head);
        Ok(cluster(ctx, Role::Head, command))
    }
}

/// A Ray cluster of the job's pods: the `head` role's pod starts the head and then runs
/// `command` as the driver, the Workers (unless they have a command of their own) join it.
/// The head's GCS listens on the rank-0 port of the contract (MASTER_PORT is the cluster's
/// address), every other Ray port is picked free; the head's are recorded in [`HEAD_FILE`].
pub fn cluster(ctx: &mut SetupContext<'_>, head: Role, command: String) -> Setup {
    let (job, plans) = (ctx.job, ctx.plans);
    let workers = plans.iter().filter(|p| p.role == Role::Worker).count();
    let mut ports = (ctx.free_ports)(2 + NodePorts::COUNT * (1 + workers));
    let mut take = |n: usize| ports.drain(..n).collect::<Vec<u16>>();
    let head_ports = {
        let own = take(2);
        HeadPorts {
            gcs: job.ports.first().copied().unwrap_or_default(),
            dashboard: own[0],
            client_server: own[1],
            node: NodePorts::from_slice(&take(NodePorts::COUNT)),
        }
    };
    let dir = ctx.job_dir.join(DIR);
    let json = serde_json::to_string_pretty(&head_ports).expect("ports serialize");
    let files = JobFiles {
        private: false,
        files: vec![(HEAD_FILE, Contents::Text(json))],
        failure: format!("failed to record the Ray head's ports in {}", dir.display()),
        dir,
    };
    let workers_join = !has_own_command(job, Role::Worker);
    let shape = |plan: &PodPlan| NodeShape {
        cpus: (plan.resources.cpu_milli / 1000).max(1) as u32,
        gpus: plan.resources.gpu,
    };
    // A pod's own address, expanded by its shell (see POD_IP_ENV).
    let pod_ip = format!("\"${POD_IP_ENV}\"");
    let mut commands = HashMap::new();
    let mut scratch = HashMap::new();
    for plan in plans {
        let command = match plan.role {
            role if role == head => {
                let temp_dir = ctx.temp_dir.join(format!("opendlc-ray-{}", job.job_id));
                // Removed by the Head's command as it ends, and by its shim if it is killed.
                scratch.insert(plan.pod_id.clone(), vec![temp_dir.clone()]);
                head_command(
                    &pod_ip,
                    &head_ports,
                    shape(plan),
                    &temp_dir.display().to_string(),
                    plans.len() as u32,
                    WAIT_SECS,
                    &command,
                )
            }
            Role::Worker if workers_join => {
                let node = NodePorts::from_slice(&take(NodePorts::COUNT));
                worker_command("\"$RAY_ADDRESS\"", &pod_ip, &node, shape(plan))
            }
            _ => continue,
        };
        commands.insert(plan.pod_id.clone(), command);
    }
    let head_pod = plans
        .iter()
        .find(|p| p.role == head)
        .map_or_else(String::new, |p| p.pod_id.clone());
    let launch = Launch {
        env: vec![(
            "RAY_ADDRESS".into(),
            EnvValue::endpoint_of(head_pod, head_ports.gcs),
        )],
        pod_env: plans
            .iter()
            .map(|p| {
                let own = EnvValue::address_of(&p.pod_id);
                (p.pod_id.clone(), vec![(POD_IP_ENV.to_string(), own)])
            })
            .collect(),
        commands,
        scratch,
    };
    Setup {
        files: vec![files],
        launch,
    }
}

/// The file, in the job's Ray directory, that holds its [`HeadPorts`].
pub const HEAD_FILE: &str = "head.json";
/// Every pod of a Ray cluster has its own address in this variable (KubeRay's name), which its
/// `ray start` gives as `--node-ip-address`: `127.0.0.1` on the local runtime, the pod's node
/// on Slurm.
pub const POD_IP_ENV: &str = "MY_POD_IP";

/// Where a job's Ray head listens; written to the job's `ray/head.json` when its pods start,
/// read by GetRayDashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadPorts {
    /// The GCS (`ray start --port`): the cluster's address, `RAY_ADDRESS` for drivers.
    pub gcs: u16,
    pub dashboard: u16,
    pub client_server: u16,
    #[serde(flatten)]
    pub node: NodePorts,
}

/// The ports of one Ray node (head or worker) besides the head's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePorts {
    pub node_manager: u16,
    pub object_manager: u16,
    pub metrics_export: u16,
    pub agent_listen: u16,
    pub agent_grpc: u16,
    pub runtime_env_agent: u16,
}

impl NodePorts {
    /// How many ports a node takes, for [`NodePorts::from_slice`].
    pub const COUNT: usize = 6;

    pub fn from_slice(p: &[u16]) -> NodePorts {
        NodePorts {
            node_manager: p[0],
            object_manager: p[1],
            metrics_export: p[2],
            agent_listen: p[3],
            agent_grpc: p[4],
            runtime_env_agent: p[5],
        }
    }

    fn flags(&self) -> String {
        format!(
            "--node-manager-port={} --object-manager-port={} --metrics-export-port={} \
             --dashboard-agent-listen-port={} --dashboard-agent-grpc-port={} \
             --runtime-env-agent-port={}",
            self.node_manager,
            self.object_manager,
            self.metrics_export,
            self.agent_listen,
            self.agent_grpc,
            self.runtime_env_agent
        )
    }
}

/// What a node offers the cluster: the pod's CPUs (rounded down, at least 1) and GPUs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NodeShape {
    pub cpus: u32,
    pub gpus: u32,
}

impl NodeShape {
    fn flags(&self) -> String {
        format!("--num-cpus={} --num-gpus={}", self.cpus, self.gpus)
    }
}

/// `RAY_ADDRESS` for every pod of the job: the head's GCS.
pub fn address(addr: &str, head: &HeadPorts) -> String {
    format!("{addr}:{}", head.gcs)
}

/// The Head pod's command: start the head, wait (at most `wait_secs`) for `nodes` Ray nodes,
/// then run `user_command` as the driver and exit with its status.
pub fn head_command(
    addr: &str,
    head: &HeadPorts,
    shape: NodeShape,
    temp_dir: &str,
    nodes: u32,
    wait_secs: u32,
    user_command: &str,
) -> String {
    let start = format!(
        "ray start --head --node-ip-address={addr} --port={} --dashboard-host={addr} \
         --dashboard-port={} --ray-client-server-port={} {} {} --temp-dir={} \
         --disable-usage-stats",
        head.gcs,
        head.dashboard,
        head.client_server,
        head.node.flags(),
        shape.flags(),
        shell_quote(temp_dir),
    );
    // ray.init() reads RAY_ADDRESS; the wait is a driver too, so it uses the same python.
    let wait = format!(
        "import ray, sys, time\n\
         ray.init(logging_level='ERROR', log_to_driver=False)\n\
         deadline = time.time() + {wait_secs}\n\
         alive = lambda: sum(1 for n in ray.nodes() if n['Alive'])\n\
         while alive() < {nodes} and time.time() < deadline: time.sleep(0.5)\n\
         print(f'opendlc: {{alive()}} of {nodes} Ray nodes are up', flush=True)\n"
    );
    // Ray's files go away with the Head's command (they are the cluster's, not the job's).
    let cleanup = format!("rm -rf {}", shell_quote(temp_dir));
    // A head that does not start says why in its processes' logs, which go with the command:
    // their errors are copied into the pod's log first.
    let logs = shell_quote(&format!("{temp_dir}/session_latest/logs"));
    let failed = format!(
        "status=$?; echo \"opendlc: the Ray head did not start (ray start exited with $status); \
         the errors in its logs:\"; \
         grep -hE '^\\[[^]]* [ECF] ' {logs}/raylet.out {logs}/gcs_server.out 2>/dev/null | tail -n 20; \
         for f in {logs}/*.err; do [ -s \"$f\" ] && echo \"== ${{f##*/}}\" && tail -n 5 \"$f\"; done; \
         exit $status"
    );
    format!(
        "trap {} EXIT\n\
         {start} || {{ {failed}; }}\n\
         python=$(head -n 1 \"$(command -v ray)\" | sed -n 's/^#!//p')\n\
         \"${{python:-python3}}\" -c {} || echo 'opendlc: could not count the Ray nodes'\n\
         {user_command}",
        shell_quote(&cleanup),
        shell_quote(&wait)
    )
}

/// A Worker pod's command: join the head at `head_address` (`HOST:PORT`) from `addr` (this
/// pod's address) and serve until the pod is stopped (then end as succeeded: the Worker did
/// its part). Both may be shell expansions (`"$RAY_ADDRESS"`).
///
/// Stopped, `ray start --block` drains its node through the head, which is usually gone by
/// then (the job ends with the Head's command): it would wait out the whole grace period for
/// an answer. Its node's processes have had SIGTERM with the pod's, so it gets 3 s to leave.
pub fn worker_command(
    head_address: &str,
    addr: &str,
    node: &NodePorts,
    shape: NodeShape,
) -> String {
    format!(
        "ray start --address={head_address} --node-ip-address={addr} {} {} --disable-usage-stats --block &\n\
         ray=$!\n\
         trap 'kill -TERM $ray 2>/dev/null; (sleep 3; kill -KILL $ray 2>/dev/null) & wait $ray; exit 0' TERM INT\n\
         wait $ray",
        node.flags(),
        shape.flags(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use crate::JobType;

    fn head() -> HeadPorts {
        HeadPorts {
            gcs: 6379,
            dashboard: 8265,
            client_server: 10001,
            node: NodePorts::from_slice(&[1, 2, 3, 4, 5, 6]),
        }
    }

    #[test]
    fn the_head_starts_ray_then_runs_the_command_as_the_driver() {
        let shape = NodeShape { cpus: 2, gpus: 0 };
        let command = head_command("127.0.0.1", &head(), shape, "/tmp/r", 3, 120, "python x.py");
        assert!(
            command.starts_with("trap 'rm -rf '\\''/tmp/r'\\''' EXIT\n"),
            "{command}"
        );
        assert!(
            command.contains(
                "ray start --head --node-ip-address=127.0.0.1 --port=6379 \
             --dashboard-host=127.0.0.1 --dashboard-port=8265 --ray-client-server-port=10001 \
             --node-manager-port=1 --object-manager-port=2"
            ),
            "{command}"
        );
        assert!(command.contains("--num-cpus=2 --num-gpus=0 --temp-dir='/tmp/r'"));
        assert!(command.contains("alive() < 3"));
        assert!(command.ends_with("\npython x.py"), "{command}");
        let json = serde_json::to_value(head()).unwrap();
        assert_eq!(json["dashboard"], 8265);
        assert_eq!(json["node_manager"], 1);
    }

    #[test]
    fn workers_join_the_head_on_their_own_ports() {
        let node = NodePorts::from_slice(&[7, 8, 9, 10, 11, 12]);
        let head_address = address("127.0.0.1", &head());
        let command = worker_command(
            &head_address,
            "127.0.0.1",
            &node,
            NodeShape { cpus: 1, gpus: 1 },
        );
        assert!(
            command.starts_with(
                "ray start --address=127.0.0.1:6379 --node-ip-address=127.0.0.1 \
             --node-manager-port=7 --object-manager-port=8"
            ),
            "{command}"
        );
        assert!(command.contains("--num-cpus=1 --num-gpus=1 --disable-usage-stats --block &"));
    }

    #[test]
    fn the_head_is_required_and_alone_decides_success() {
        let job = testing::job(
            JobType::RayJob,
            &[(Role::Worker, 2, None), (Role::Head, 1, None)],
            "python driver.py",
        );
        let deciding: Vec<Role> = job
            .roles
            .iter()
            .filter(|r| r.considered_in_success)
            .map(|r| r.role)
            .collect();
        assert_eq!(deciding, [Role::Head]);
        assert!(Ray.runs_ray(&job));
        let req = testing::request(JobType::RayJob, &[(Role::Worker, 1, None)], "x");
        let err = testing::submit(&req, false).unwrap_err();
        assert!(err.to_string().contains("needs one Head"), "{err}");
    }

    #[test]
    fn setup_records_the_head_and_starts_the_cluster() {
        let job = testing::job(
            JobType::RayJob,
            &[(Role::Head, 1, None), (Role::Worker, 2, None)],
            "python driver.py",
        );
        assert_eq!(Ray.programs(&job), [PROGRAM]);
        let setup = testing::setup(&job).unwrap();
        let [files] = &setup.files[..] else {
            panic!("{:?}", setup.files)
        };
        assert_eq!(files.dir, std::path::Path::new("/d/jobs/dlcx/ray"));
        let Contents::Text(json) = &files.files[0].1 else {
            panic!("{files:?}")
        };
        let recorded: HeadPorts = serde_json::from_str(json).unwrap();
        // The GCS on the rank-0 port, the rest from the free ones.
        assert_eq!((recorded.gcs, recorded.dashboard), (2000, 3000));
        assert_eq!(recorded.node.node_manager, 3002);
        let launch = &setup.launch;
        assert_eq!(launch.env[0].1.to_string(), "<address of dlcx-head-0>:2000");
        // The cluster's files go with the Head, the Workers make none of their own.
        assert_eq!(
            launch.scratch_of("dlcx-head-0"),
            [std::path::PathBuf::from("/tmp/opendlc-ray-dlcx")]
        );
        assert!(launch.scratch_of("dlcx-worker-1").is_empty());
        assert_eq!(
            launch.pod_env["dlcx-worker-1"],
            [(
                POD_IP_ENV.to_string(),
                EnvValue::address_of("dlcx-worker-1")
            )]
        );
        let head = &launch.commands["dlcx-head-0"];
        assert!(
            head.contains("--temp-dir='/tmp/opendlc-ray-dlcx'"),
            "{head}"
        );
        assert!(head.contains("--num-cpus=2 --num-gpus=1"), "{head}");
        assert!(head.contains("alive() < 3"), "{head}");
        assert!(head.ends_with("\npython driver.py"), "{head}");
        let worker = &launch.commands["dlcx-worker-1"];
        assert!(
            worker.starts_with("ray start --address=\"$RAY_ADDRESS\" --node-ip-address=\"$MY_POD_IP\" --node-manager-port=3014"),
            "{worker}"
        );
    }
}
