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
//! Ranks follow the job type's role order, and each job type adds its own variables on top
//! (TF_CONFIG, PET_*, DMLC_* …: [`crate::frameworks`]).
//!
//! The contract wins over a user `Envs` entry of the same name: a job cannot break its own
//! rendezvous by accident. Addresses are symbolic (the address of pod `<job>-master-0`): each
//! runtime resolves them (`crate::env_value`).

use std::collections::BTreeMap;

use crate::env_value::EnvValue;
use crate::frameworks::World;
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

    /// Sets a framework's variables (they win over the user's, as the base contract does).
    pub fn set_env<'a>(&mut self, vars: impl IntoIterator<Item = (&'a str, EnvValue)>) {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.to_string(), v)));
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

/// A stored job's pods with their environment, on the ports chosen at its admission.
/// The names a pod answers to from the job's other pods: its PodId (`dlc…-worker-0`) and its
/// role and index (`worker-0`), as a Kubernetes headless Service would give them.
pub fn host_names(job_id: &str, pod_id: &str) -> Vec<String> {
    let mut names = vec![pod_id.to_string()];
    if let Some(short) = pod_id
        .strip_prefix(job_id)
        .and_then(|rest| rest.strip_prefix('-'))
    {
        names.push(short.to_string());
    }
    names
}

pub fn plan_job(job: &crate::job::Job) -> Vec<PodPlan> {
    let roles: Vec<RolePlan> = job
        .roles
        .iter()
        .map(|r| RolePlan {
            role: r.role,
            pod_count: r.pod_count,
            resources: r.resources,
        })
        .collect();
    let rendezvous = Rendezvous {
        ports: job.ports.clone(),
    };
    let mut pods = plan_pods(&job.job_id, job.job_type, &roles, &rendezvous, &job.envs);
    if let Some(nodes) = job.elastic_nodes() {
        crate::elastic::add_env(&job.job_id, nodes, &rendezvous, &mut pods);
    }
    pods
}

pub fn plan_pods(
    job_id: &str,
    job_type: JobType,
    roles: &[RolePlan],
    rendezvous: &Rendezvous,
    user_envs: &BTreeMap<String, String>,
) -> Vec<PodPlan> {
    let framework = job_type.framework();
    // Ranks follow the job type's role order: its master-like role first.
    let mut ordered: Vec<&RolePlan> = roles.iter().collect();
    ordered.sort_by_key(|r| framework.rank_of_role(r.role));
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
    let world = World {
        master: &master,
        rendezvous,
    };
    framework.add_env(&world, &mut pods);
    pods
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::testing::{role, text};

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
}
