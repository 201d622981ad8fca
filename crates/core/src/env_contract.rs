//! The distributed-training environment every pod gets (PAI-DLC's contract, adapted to one
//! host): which pod is rank 0, where it listens, how big the world is.
//!
//! | variable         | value                                                              |
//! |------------------|--------------------------------------------------------------------|
//! | `MASTER_ADDR`    | the address of the rank-0 pod (on the local runtime: `127.0.0.1`) |
//! | `MASTER_PORT`    | a free port chosen for the job                                     |
//! | `WORLD_SIZE`     | the number of pods of the job                                      |
//! | `RANK`           | Master 0, Worker i → i + 1; with no Master, Worker i → i           |
//! | `NPROC_PER_NODE` | the pod's GPUs, at least 1                                          |
//! | `JOB_NAME`       | the JobId                                                          |
//!
//! The contract wins over a user `Envs` entry of the same name: a job cannot break its own
//! rendezvous by accident.

use std::collections::BTreeMap;

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
    pub env: BTreeMap<String, String>,
}

/// Where the job's pods listen: every pod on `addr`, pod of rank r on `ports[r]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendezvous {
    pub addr: String,
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

    let mut pods = Vec::with_capacity(world_size as usize);
    let mut rank = 0;
    for role in ordered {
        for index in 0..role.pod_count {
            let mut env = user_envs.clone();
            env.insert("PYTHONUNBUFFERED".into(), "1".into());
            let contract = [
                ("MASTER_ADDR", rendezvous.addr.clone()),
                ("MASTER_PORT", rendezvous.port(0).to_string()),
                ("WORLD_SIZE", world_size.to_string()),
                ("RANK", rank.to_string()),
                ("NPROC_PER_NODE", role.resources.gpu.max(1).to_string()),
                ("JOB_NAME", job_id.to_string()),
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
    add_framework_env(job_type, rendezvous, &mut pods);
    pods
}

/// What each framework reads on top of the base contract.
fn add_framework_env(job_type: JobType, rendezvous: &Rendezvous, pods: &mut [PodPlan]) {
    let world_size = pods.len().to_string();
    let addr = |rank: u32| format!("{}:{}", rendezvous.addr, rendezvous.port(rank));
    // TF_CONFIG's cluster: every task but evaluators (which only read checkpoints), by role.
    let mut cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pod in pods.iter().filter(|p| p.role != Role::Evaluator) {
        cluster
            .entry(pod.role.as_str().to_ascii_lowercase())
            .or_default()
            .push(addr(pod.rank));
    }
    for pod in pods.iter_mut() {
        let rank = pod.rank.to_string();
        let task =
            serde_json::json!({"type": pod.role.as_str().to_ascii_lowercase(), "index": pod.index});
        let extra: Vec<(&str, String)> = match job_type {
            JobType::PyTorchJob => vec![
                // torchrun takes its flags from PET_* variables.
                ("PET_NNODES", world_size.clone()),
                ("PET_NODE_RANK", rank),
                ("PET_MASTER_ADDR", rendezvous.addr.clone()),
                ("PET_MASTER_PORT", rendezvous.port(0).to_string()),
                ("PET_NPROC_PER_NODE", pod.env["NPROC_PER_NODE"].clone()),
            ],
            JobType::TFJob => {
                let config =
                    serde_json::json!({"cluster": cluster, "task": task, "environment": "cloud"});
                vec![("TF_CONFIG", config.to_string())]
            }
            JobType::XGBoostJob => vec![
                // Rabit: the rank-0 pod runs the tracker on MASTER_PORT.
                ("DMLC_TRACKER_URI", rendezvous.addr.clone()),
                ("DMLC_TRACKER_PORT", rendezvous.port(0).to_string()),
                ("DMLC_TASK_ID", rank),
                ("DMLC_NUM_WORKER", world_size.clone()),
                ("DMLC_ROLE", "worker".to_string()),
            ],
            JobType::ElasticBatchJob => {
                // Spelled as KubeDL spells it.
                let config = serde_json::json!({"task": task, "environment": "cloud"});
                vec![("ElASTICBATCH_CONFIG", config.to_string())]
            }
            JobType::OneFlowJob => vec![("LOCAL_RANK", "0".to_string())],
            JobType::MPIJob | JobType::RayJob | JobType::DataJuicerJob | JobType::SlurmJob => {
                Vec::new()
            }
        };
        pod.env
            .extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
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

    fn rdzv() -> Rendezvous {
        Rendezvous {
            addr: "127.0.0.1".into(),
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
            .map(|p| (p.pod_id.as_str(), p.env["RANK"].as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("dlcx-master-0", "0"),
                ("dlcx-worker-0", "1"),
                ("dlcx-worker-1", "2")
            ]
        );
        for pod in &pods {
            assert_eq!(pod.env["WORLD_SIZE"], "3");
            assert_eq!(pod.env["MASTER_PORT"], "23456");
            assert_eq!(pod.env["JOB_NAME"], "dlcx");
            assert_eq!(pod.env["NPROC_PER_NODE"], "1");
            assert_eq!(pod.env["A"], "B");
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
        assert_eq!(pods[0].env["RANK"], "0");
        assert_eq!(pods[1].env["RANK"], "1");
        assert_eq!(pods[1].env["WORLD_SIZE"], "2");
    }

    fn rdzv_of(n: u16) -> Rendezvous {
        Rendezvous {
            addr: "127.0.0.1".into(),
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
        let env = &pods[1].env;
        assert_eq!(
            (env["PET_NNODES"].as_str(), env["PET_NODE_RANK"].as_str()),
            ("2", "1")
        );
        assert_eq!(env["PET_MASTER_ADDR"], "127.0.0.1");
        assert_eq!(env["PET_MASTER_PORT"], "2000");
        assert_eq!(env["PET_NPROC_PER_NODE"], "1");
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
        let config: serde_json::Value = serde_json::from_str(&pods[2].env["TF_CONFIG"]).unwrap();
        assert_eq!(
            config,
            serde_json::json!({
                "cluster": {
                    "chief": ["127.0.0.1:2000"],
                    "worker": ["127.0.0.1:2001", "127.0.0.1:2002"],
                    "ps": ["127.0.0.1:2003"],
                },
                "task": {"type": "worker", "index": 1},
                "environment": "cloud",
            })
        );
        let evaluator: serde_json::Value = serde_json::from_str(&pods[4].env["TF_CONFIG"]).unwrap();
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
        let env = &pods[2].env;
        assert_eq!(env["DMLC_TRACKER_URI"], "127.0.0.1");
        assert_eq!(env["DMLC_TRACKER_PORT"], "2000");
        assert_eq!(
            (
                env["DMLC_TASK_ID"].as_str(),
                env["DMLC_NUM_WORKER"].as_str()
            ),
            ("2", "3")
        );
        assert_eq!(env["RANK"], "2");
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
            serde_json::from_str(&pods[1].env["ElASTICBATCH_CONFIG"]).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"task": {"type": "worker", "index": 1}, "environment": "cloud"})
        );
    }
}
