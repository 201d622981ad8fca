//! TFJob: TF_CONFIG describing the Chief, PS, Worker and Evaluator pods.
//!
//! Ranks: the Chief (one pod) first, then the Workers, the parameter servers, the Evaluators
//! and GraphLearn. The Chief and the Workers decide the job's success (`SuccessPolicy`
//! AllWorkers, the default); parameter servers and evaluators run until they are stopped.

use std::collections::BTreeMap;

use super::{position, Framework, RoleRule, World};
use crate::env_contract::{PodPlan, Rendezvous};
use crate::env_value::EnvValue;
use crate::job_type::Role;

pub struct TensorFlow;

const ROLES: &[RoleRule] = &[
    RoleRule::new(Role::Chief).single(),
    RoleRule::new(Role::PS).serves(),
    RoleRule::new(Role::Worker),
    RoleRule::new(Role::Evaluator).serves(),
    RoleRule::new(Role::GraphLearn).serves(),
];

const RANK_ORDER: &[Role] = &[
    Role::Chief,
    Role::Worker,
    Role::PS,
    Role::Evaluator,
    Role::GraphLearn,
];

impl Framework for TensorFlow {
    fn description(&self) -> &'static str {
        "TensorFlow: TF_CONFIG describing the Chief, PS, Worker and Evaluator pods"
    }

    fn roles(&self) -> &'static [RoleRule] {
        ROLES
    }

    fn rank_of_role(&self, role: Role) -> usize {
        position(RANK_ORDER.iter().copied(), role)
    }

    fn add_env(&self, world: &World<'_>, pods: &mut [PodPlan]) {
        let cluster = TfCluster::of(pods, world.rendezvous);
        for pod in pods.iter_mut() {
            let task = serde_json::json!({
                "type": pod.role.as_str().to_ascii_lowercase(),
                "index": pod.index,
            });
            pod.set_env([("TF_CONFIG", cluster.config_of(task))]);
        }
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
    use std::collections::BTreeMap;

    use super::super::testing::{job, rdzv_of, role, text};
    use crate::env_contract::plan_pods;
    use crate::{JobType, Role};

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
    fn roles_are_listed_chief_first_and_ranked_chief_then_workers() {
        assert_eq!(
            JobType::TFJob.roles(),
            [
                Role::Chief,
                Role::PS,
                Role::Worker,
                Role::Evaluator,
                Role::GraphLearn
            ]
        );
        let pods = plan_pods(
            "dlcx",
            JobType::TFJob,
            &[
                role(Role::GraphLearn, 1),
                role(Role::PS, 1),
                role(Role::Worker, 1),
            ],
            &rdzv_of(3),
            &BTreeMap::new(),
        );
        let ranked: Vec<Role> = pods.iter().map(|p| p.role).collect();
        assert_eq!(ranked, [Role::Worker, Role::PS, Role::GraphLearn]);
        assert_eq!(text(&pods[0], "MASTER_ADDR"), "<dlcx-worker-0>");
    }

    #[test]
    fn the_chief_and_the_workers_decide_success() {
        let job = job(
            JobType::TFJob,
            &[
                (Role::Chief, 1, None),
                (Role::PS, 1, None),
                (Role::Worker, 2, None),
                (Role::Evaluator, 1, None),
            ],
            "python train.py",
        );
        let deciding: Vec<Role> = job
            .roles
            .iter()
            .filter(|r| r.considered_in_success)
            .map(|r| r.role)
            .collect();
        assert_eq!(deciding, [Role::Chief, Role::Worker]);
    }
}
