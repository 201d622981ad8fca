//! The distributed-training environment every pod gets (PAI-DLC's contract, adapted to one
//! host): which pod is rank 0, where it listens, how big the world is.
//!
//! | variable         | value                                                              |
//! |------------------|--------------------------------------------------------------------|
//! | `MASTER_ADDR`    | the address of the rank-0 pod, symbolic ([`EnvValue`])           |
//! | `MASTER_PORT`    | a free port chosen for the job                                     |
//! | `WORLD_SIZE`     | the number of pods of the job                                      |
//! | `RANK`           | Master 0, Worker i → i + 1; with no Master, Worker i → i           |
//! | `NPROC_PER_NODE` | the pod's GPUs, at least 1                                          |
//! | `JOB_NAME`       | the JobId                                                          |
//!
//! The contract wins over a user `Envs` entry of the same name: a job cannot break its own
//! rendezvous by accident. Addresses are symbolic (the address of pod `<job>-master-0`): each
//! runtime resolves them (`crate::env_value`).

use std::collections::BTreeMap;

use crate::env_value::EnvValue;
use crate::job_type::{JobType, Role};
use crate::resources::Resources;

/// One role of a job, as far as planning pods is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct RolePlan {
    pub role: Role,
    pub pod_count: u32,
    pub resources: Resources,
}

/// One pod to run: its name, its rank and its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct PodPlan {
    pub pod_id: String,
    pub role: Role,
    pub index: u32,
    pub rank: u32,
    pub resources: Resources,
    pub env: BTreeMap<String, EnvValue>,
}

impl PodPlan {
    /// A contract variable that names no address (RANK, WORLD_SIZE, NPROC_PER_NODE …).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.env.get(name).and_then(EnvValue::as_text)
    }
}

/// Where the job's pods listen: the pod of rank r on `ports[r]`, at its own address.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendezvous {
    pub ports: Vec<u16>,
}

impl Rendezvous {
    pub fn port(&self, rank: u32) -> u16 {
        self.ports.get(rank as usize).copied().unwrap_or_default()
    }
}

/// Ranks follow role order: the master-like roles first (Master, Chief, Launcher, Head), then
/// the others in the order the job type lists them.
fn rank_order(role: Role) -> u8 {
    match role {
        Role::Master | Role::Chief | Role::Launcher | Role::Head => 0,
        Role::Worker => 1,
        Role::PS => 2,
        Role::Evaluator => 3,
        Role::GraphLearn => 4,
    }
}

pub fn plan_pods(
    job_id: &str,
    job_type: JobType,
    roles: &[RolePlan],
    rendezvous: &Rendezvous,
    user_envs: &BTreeMap<String, String>,
) -> Vec<PodPlan> {
    let mut ordered: Vec<&RolePlan> = roles.iter().collect();
    ordered.sort_by_key(|r| rank_order(r.role));
    let world_size: u32 = roles.iter().map(|r| r.pod_count).sum();
    let master = ordered
        .iter()
        .find(|r| r.pod_count > 0)
        .map(|r| crate::ids::pod_id(job_id, r.role.as_str(), 0))
        .unwrap_or_default();

    let mut pods = Vec::with_capacity(world_size as usize);
    let mut rank = 0;
    for role in ordered {
        for index in 0..role.pod_count {
            let mut env: BTreeMap<String, EnvValue> = user_envs
                .iter()
                .map(|(k, v)| (k.clone(), EnvValue::from(v.as_str())))
                .collect();
            env.insert("PYTHONUNBUFFERED".into(), "1".into());
            let contract = [
                ("MASTER_ADDR", EnvValue::address_of(&master)),
                ("MASTER_PORT", rendezvous.port(0).to_string().into()),
                ("WORLD_SIZE", world_size.to_string().into()),
                ("RANK", rank.to_string().into()),
                (
                    "NPROC_PER_NODE",
                    role.resources.gpu.max(1).to_string().into(),
                ),
                ("JOB_NAME", job_id.into()),
            ];
            env.extend(contract.map(|(k, v)| (k.to_string(), v)));
            pods.push(PodPlan {
                pod_id: crate::ids::pod_id(job_id, role.role.as_str(), index),
                role: role.role,
                index,
                rank,
                resources: role.resources,
                env,
            });
            rank += 1;
        }
    }
    add_framework_env(job_type, &master, rendezvous, &mut pods);
    pods
}

/// What each framework reads on top of the base contract.
fn add_framework_env(
    job_type: JobType,
    master: &str,
    rendezvous: &Rendezvous,
    pods: &mut [PodPlan],
) {
    let world_size = pods.len().to_string();
    let tf_config = (job_type == JobType::TFJob).then(|| TfCluster::of(pods, rendezvous));
    for pod in pods.iter_mut() {
        let rank = pod.rank.to_string();
        let task =
            serde_json::json!({"type": pod.role.as_str().to_ascii_lowercase(), "index": pod.index});
        let extra: Vec<(&str, EnvValue)> = match job_type {
            JobType::PyTorchJob => vec![
                // torchrun takes its flags from PET_* variables.
                ("PET_NNODES", world_size.clone().into()),
                ("PET_NODE_RANK", rank.into()),
                ("PET_MASTER_ADDR", EnvValue::address_of(master)),
                ("PET_MASTER_PORT", rendezvous.port(0).to_string().into()),
                (
                    "PET_NPROC_PER_NODE",
                    pod.text("NPROC_PER_NODE").unwrap_or("1").into(),
                ),
            ],
            JobType::TFJob => {
                let cluster = tf_config.as_ref().expect("planned for TFJob");
                vec![("TF_CONFIG", cluster.config_of(task))]
            }
            JobType::XGBoostJob => vec![
                // Rabit: the rank-0 pod runs the tracker on MASTER_PORT.
                ("DMLC_TRACKER_URI", EnvValue::address_of(master)),
                ("DMLC_TRACKER_PORT", rendezvous.port(0).to_string().into()),
                ("DMLC_TASK_ID", rank.into()),
                ("DMLC_NUM_WORKER", world_size.clone().into()),
                ("DMLC_ROLE", "worker".into()),
            ],
            JobType::ElasticBatchJob => {
                // Spelled as KubeDL spells it.
                let config = serde_json::json!({"task": task, "environment": "cloud"});
                vec![("ElASTICBATCH_CONFIG", config.to_string().into())]
            }
            JobType::OneFlowJob => vec![("LOCAL_RANK", "0".into())],
            JobType::MPIJob | JobType::RayJob | JobType::DataJuicerJob | JobType::SlurmJob => {
                Vec::new()
            }
        };
        pod.env
            .extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
    }
}

/// TF_CONFIG's cluster: every task but evaluators (which only read checkpoints), by role, each
/// as `<address of its pod>:<its port>`.
struct TfCluster {
    cluster: BTreeMap<String, Vec<String>>,
    /// The placeholder standing for each pod's address in `cluster`, and the pod.
    placeholders: Vec<(String, String)>,
}

impl TfCluster {
    fn of(pods: &[PodPlan], rendezvous: &Rendezvous) -> Self {
        let mut cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut placeholders = Vec::new();
        for pod in pods.iter().filter(|p| p.role != Role::Evaluator) {
            // TF_CONFIG holds no user text: this mark cannot occur in it otherwise.
            let marker = format!("@address-of-rank-{}@", pod.rank);
            cluster
                .entry(pod.role.as_str().to_ascii_lowercase())
                .or_default()
                .push(format!("{marker}:{}", rendezvous.port(pod.rank)));
            placeholders.push((marker, pod.pod_id.clone()));
        }
        TfCluster {
            cluster,
            placeholders,
        }
    }

    fn config_of(&self, task: serde_json::Value) -> EnvValue {
        let config =
            serde_json::json!({"cluster": self.cluster, "task": task, "environment": "cloud"});
        EnvValue::with_addresses(&config.to_string(), &self.placeholders)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(role: Role, pod_count: u32) -> RolePlan {
        RolePlan {
            role,
            pod_count,
            resources: Resources::new(1000, 1024, 0),
        }
    }

    /// A variable with each address written as `<PodId>`.
    fn text(pod: &PodPlan, name: &str) -> String {
        pod.env[name].resolve(|pod_id| format!("<{pod_id}>"))
    }

    fn rdzv() -> Rendezvous {
        Rendezvous {
            ports: vec![23456, 23457, 23458],
        }
    }

    #[test]
    fn master_is_rank_zero_and_workers_follow() {
        let envs = BTreeMap::from([
            ("RANK".to_string(), "99".to_string()),
            ("A".into(), "B".into()),
        ]);
        let pods = plan_pods(
            "dlcx",
            JobType::PyTorchJob,
            &[role(Role::Worker, 2), role(Role::Master, 1)],
            &rdzv(),
            &envs,
        );
        let got: Vec<_> = pods
            .iter()
            .map(|p| (p.pod_id.clone(), text(p, "RANK")))
            .collect::<Vec<(String, String)>>();
        assert_eq!(
            got,
            [
                ("dlcx-master-0", "0"),
                ("dlcx-worker-0", "1"),
                ("dlcx-worker-1", "2")
            ]
            .map(|(id, rank)| (id.to_string(), rank.to_string()))
        );
        for pod in &pods {
            assert_eq!(text(pod, "MASTER_ADDR"), "<dlcx-master-0>");
            assert_eq!(text(pod, "WORLD_SIZE"), "3");
            assert_eq!(text(pod, "MASTER_PORT"), "23456");
            assert_eq!(text(pod, "JOB_NAME"), "dlcx");
            assert_eq!(text(pod, "NPROC_PER_NODE"), "1");
            assert_eq!(text(pod, "A"), "B");
        }
    }

    #[test]
    fn without_a_master_the_first_worker_is_rank_zero() {
        let pods = plan_pods(
            "dlcx",
            JobType::PyTorchJob,
            &[role(Role::Worker, 2)],
            &rdzv(),
            &BTreeMap::new(),
        );
        assert_eq!(pods[0].pod_id, "dlcx-worker-0");
        assert_eq!(text(&pods[0], "RANK"), "0");
        assert_eq!(text(&pods[1], "RANK"), "1");
        assert_eq!(text(&pods[1], "WORLD_SIZE"), "2");
    }

    fn rdzv_of(n: u16) -> Rendezvous {
        Rendezvous {
            ports: (0..n).map(|i| 2000 + i).collect(),
        }
    }

    #[test]
    fn torchrun_reads_pet_variables() {
        let pods = plan_pods(
            "dlcx",
            JobType::PyTorchJob,
            &[role(Role::Worker, 2)],
            &rdzv_of(2),
            &BTreeMap::new(),
        );
        let env = &pods[1];
        assert_eq!(
            (text(env, "PET_NNODES"), text(env, "PET_NODE_RANK")),
            ("2".into(), "1".into())
        );
        assert_eq!(text(env, "PET_MASTER_ADDR"), "<dlcx-worker-0>");
        assert_eq!(text(env, "PET_MASTER_PORT"), "2000");
        assert_eq!(text(env, "PET_NPROC_PER_NODE"), "1");
    }

    #[test]
    fn tf_config_lists_the_cluster_and_the_task() {
        let roles = [
            role(Role::Worker, 2),
            role(Role::Chief, 1),
            role(Role::PS, 1),
            role(Role::Evaluator, 1),
        ];
        let pods = plan_pods(
            "dlcx",
            JobType::TFJob,
            &roles,
            &rdzv_of(5),
            &BTreeMap::new(),
        );
        let config: serde_json::Value = serde_json::from_str(&text(&pods[2], "TF_CONFIG")).unwrap();
        assert_eq!(
            config,
            serde_json::json!({
                "cluster": {
                    "chief": ["<dlcx-chief-0>:2000"],
                    "worker": ["<dlcx-worker-0>:2001", "<dlcx-worker-1>:2002"],
                    "ps": ["<dlcx-ps-0>:2003"],
                },
                "task": {"type": "worker", "index": 1},
                "environment": "cloud",
            })
        );
        let evaluator: serde_json::Value =
            serde_json::from_str(&text(&pods[4], "TF_CONFIG")).unwrap();
        assert_eq!(
            evaluator["task"],
            serde_json::json!({"type": "evaluator", "index": 0})
        );
    }

    #[test]
    fn xgboost_gets_the_rabit_tracker() {
        let pods = plan_pods(
            "dlcx",
            JobType::XGBoostJob,
            &[role(Role::Master, 1), role(Role::Worker, 2)],
            &rdzv_of(3),
            &BTreeMap::new(),
        );
        let env = &pods[2];
        assert_eq!(text(env, "DMLC_TRACKER_URI"), "<dlcx-master-0>");
        assert_eq!(text(env, "DMLC_TRACKER_PORT"), "2000");
        assert_eq!(
            (text(env, "DMLC_TASK_ID"), text(env, "DMLC_NUM_WORKER")),
            ("2".to_string(), "3".to_string())
        );
        assert_eq!(text(env, "RANK"), "2");
    }

    #[test]
    fn elastic_batch_gets_its_config() {
        let pods = plan_pods(
            "dlcx",
            JobType::ElasticBatchJob,
            &[role(Role::Worker, 2)],
            &rdzv_of(2),
            &BTreeMap::new(),
        );
        let config: serde_json::Value =
            serde_json::from_str(&text(&pods[1], "ElASTICBATCH_CONFIG")).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"task": {"type": "worker", "index": 1}, "environment": "cloud"})
        );
    }
}
