//! PyTorchJob: torchrun's environment in every pod. A Master (at most one pod) is rank 0; with
//! none, the first Worker is. Every pod decides the job's success.
//!
//! On top of the base contract (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE …) each pod gets
//! the `PET_*` variables torchrun takes its flags from.

use super::{Framework, RoleRule, World, MASTER_AND_WORKERS};
use crate::env_contract::PodPlan;
use crate::env_value::EnvValue;

pub struct PyTorch;

impl Framework for PyTorch {
    fn description(&self) -> &'static str {
        "PyTorch: torchrun's environment in every pod (MASTER_ADDR, RANK, WORLD_SIZE, PET_*)"
    }

    fn roles(&self) -> &'static [RoleRule] {
        MASTER_AND_WORKERS
    }

    fn add_env(&self, world: &World<'_>, pods: &mut [PodPlan]) {
        let world_size = pods.len().to_string();
        for pod in pods.iter_mut() {
            let nproc = pod.text("NPROC_PER_NODE").unwrap_or("1").into();
            pod.set_env([
                ("PET_NNODES", world_size.clone().into()),
                ("PET_NODE_RANK", pod.rank.to_string().into()),
                ("PET_MASTER_ADDR", EnvValue::address_of(world.master)),
                (
                    "PET_MASTER_PORT",
                    world.rendezvous.port(0).to_string().into(),
                ),
                ("PET_NPROC_PER_NODE", nproc),
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::testing::{job, rdzv_of, role, text};
    use crate::env_contract::plan_pods;
    use crate::{JobType, Role};

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
    fn one_master_and_every_pod_decides_success() {
        let job = job(
            JobType::PyTorchJob,
            &[(Role::Worker, 2, None), (Role::Master, 1, None)],
            "python train.py",
        );
        assert!(job.roles.iter().all(|r| r.considered_in_success));
        let req =
            super::super::testing::request(JobType::PyTorchJob, &[(Role::Master, 2, None)], "x");
        let err = super::super::testing::submit(&req, false).unwrap_err();
        assert!(err.to_string().contains("exactly one Master"), "{err}");
    }
}
