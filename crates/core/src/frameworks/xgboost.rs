//! XGBoostJob: the rank-0 pod (the Master, else the first Worker) runs the Rabit tracker the
//! others join; every pod reads where it is from `DMLC_*` variables. Every pod decides the
//! job's success.

use super::{Framework, RoleRule, World, MASTER_AND_WORKERS};
use crate::env_contract::PodPlan;
use crate::env_value::EnvValue;

pub struct XGBoost;

impl Framework for XGBoost {
    fn description(&self) -> &'static str {
        "XGBoost: the rank-0 pod runs the Rabit tracker the others join (DMLC_*)"
    }

    fn roles(&self) -> &'static [RoleRule] {
        MASTER_AND_WORKERS
    }

    fn add_env(&self, world: &World<'_>, pods: &mut [PodPlan]) {
        let world_size = pods.len().to_string();
        for pod in pods.iter_mut() {
            // Rabit: the rank-0 pod runs the tracker on MASTER_PORT.
            pod.set_env([
                ("DMLC_TRACKER_URI", EnvValue::address_of(world.master)),
                (
                    "DMLC_TRACKER_PORT",
                    world.rendezvous.port(0).to_string().into(),
                ),
                ("DMLC_TASK_ID", pod.rank.to_string().into()),
                ("DMLC_NUM_WORKER", world_size.clone().into()),
                ("DMLC_ROLE", "worker".into()),
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
    fn every_pod_decides_success() {
        let job = job(
            JobType::XGBoostJob,
            &[(Role::Master, 1, None), (Role::Worker, 2, None)],
            "python train.py",
        );
        assert!(job.roles.iter().all(|r| r.considered_in_success));
    }
}
