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

use crate::job_type::Role;
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
    pods
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
        let pods = plan_pods("dlcx", &[role(Role::Worker, 2)], &rdzv(), &BTreeMap::new());
        assert_eq!(pods[0].pod_id, "dlcx-worker-0");
        assert_eq!(pods[0].env["RANK"], "0");
        assert_eq!(pods[1].env["RANK"], "1");
        assert_eq!(pods[1].env["WORLD_SIZE"], "2");
    }
}
