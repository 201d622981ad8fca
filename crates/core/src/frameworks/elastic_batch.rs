//! ElasticBatchJob: Master and Worker pods, each told its task in `ElASTICBATCH_CONFIG` (spelled
//! as KubeDL spells it). A Master (at most one pod) is rank 0; every pod decides the job's
//! success.

use super::{Framework, RoleRule, World, MASTER_AND_WORKERS};
use crate::env_contract::PodPlan;

pub struct ElasticBatch;

impl Framework for ElasticBatch {
    fn description(&self) -> &'static str {
        "Elastic batch: Master and Worker pods with ElASTICBATCH_CONFIG"
    }

    fn roles(&self) -> &'static [RoleRule] {
        MASTER_AND_WORKERS
    }

    fn add_env(&self, _world: &World<'_>, pods: &mut [PodPlan]) {
        for pod in pods.iter_mut() {
            let task = serde_json::json!({
                "type": pod.role.as_str().to_ascii_lowercase(),
                "index": pod.index,
            });
            let config = serde_json::json!({"task": task, "environment": "cloud"});
            pod.set_env([("ElASTICBATCH_CONFIG", config.to_string().into())]);
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

    #[test]
    fn the_master_is_rank_zero_and_every_pod_decides_success() {
        let job = job(
            JobType::ElasticBatchJob,
            &[(Role::Worker, 1, None), (Role::Master, 1, None)],
            "run",
        );
        assert!(job.roles.iter().all(|r| r.considered_in_success));
        let pods = super::super::testing::plans(&job);
        assert_eq!(pods[0].role, Role::Master);
        let config: serde_json::Value =
            serde_json::from_str(&text(&pods[0], "ElASTICBATCH_CONFIG")).unwrap();
        assert_eq!(
            config["task"],
            serde_json::json!({"type": "master", "index": 0})
        );
    }
}
