//! OneFlowJob: the base distributed environment, one process per pod (`LOCAL_RANK` 0). A
//! Master (at most one pod) is rank 0; every pod decides the job's success.

use super::{Framework, RoleRule, World, MASTER_AND_WORKERS};
use crate::env_contract::PodPlan;

pub struct OneFlow;

impl Framework for OneFlow {
    fn description(&self) -> &'static str {
        "OneFlow: the base distributed environment, one process per pod"
    }

    fn roles(&self) -> &'static [RoleRule] {
        MASTER_AND_WORKERS
    }

    fn add_env(&self, _world: &World<'_>, pods: &mut [PodPlan]) {
        for pod in pods.iter_mut() {
            pod.set_env([("LOCAL_RANK", "0".into())]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{job, plans, text};
    use crate::{JobType, Role};

    #[test]
    fn one_process_per_pod_and_every_pod_decides_success() {
        let job = job(
            JobType::OneFlowJob,
            &[(Role::Master, 1, None), (Role::Worker, 2, None)],
            "python train.py",
        );
        assert!(job.roles.iter().all(|r| r.considered_in_success));
        for pod in plans(&job) {
            assert_eq!(text(&pod, "LOCAL_RANK"), "0");
            assert_eq!(text(&pod, "MASTER_ADDR"), "<dlcx-master-0>");
        }
    }
}
