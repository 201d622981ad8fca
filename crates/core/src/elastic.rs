//! Elastic training: a PyTorchJob whose Workers run `min ≤ n ≤ max` pods, from
//! `ElasticSpec` (`EnableElasticTraining`, `MinParallelism`, `MaxParallelism`) or the Worker
//! role's `AutoScalingSpec` (`MinReplicas`, `MaxReplicas`).
//!
//! The job is admitted as soon as its minimum fits (the gang is the minimum: its Worker role's
//! `PodCount` is the minimum from then on), grows towards its target (the maximum) one pod at a
//! time while capacity is free and no other job waits for it, and shrinks instead of failing
//! when a Worker other than the rank-0 pod fails, while it stays at or above the minimum.
//!
//! The pods get torchrun's elastic rendezvous in its `PET_*` variables: `PET_NNODES=MIN:MAX`,
//! the c10d backend at the rank-0 pod's address and port (hosted there: `is_host=true` on that
//! pod only; it is never the one removed), the job's id as the rendezvous id, and restarts for
//! torchrun to re-form the world when members come or go.

use opendlc_api::CreateJobRequest;
use serde::{Deserialize, Serialize};

use crate::env_contract::{PodPlan, Rendezvous};
use crate::env_value::EnvValue;
use crate::error::Invalid;
use crate::job::RoleSpec;
use crate::job_type::{JobType, Role};

/// How many pods an elastic role may run, and how many it aims for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elastic {
    pub min: u32,
    pub max: u32,
    /// What it grows towards (`max` unless UpdateJob or a failure lowered it).
    pub target: u32,
}

/// The most pods an elastic role may ask for.
pub const MAX_ELASTIC_PODS: u32 = 1000;

/// How long torchrun's rendezvous waits for more members once the minimum has joined (its
/// default, 30 s, delays every start and resize; the pods launched together join within
/// seconds, and later ones come as the job grows).
pub const LAST_CALL_SECS: u32 = 5;

/// How many times torchrun may restart an elastic job's workers (a member that fails; a
/// member joining re-forms the world without counting).
pub const ELASTIC_MAX_RESTARTS: u32 = 100;

/// Reads the request's elastic settings into its roles: the Worker role of a PyTorchJob gets
/// its range, and its `pod_count` becomes the minimum. Elastic settings on any other job type
/// or role are refused, naming the field.
pub fn apply(
    req: &CreateJobRequest,
    job_type: JobType,
    roles: &mut [RoleSpec],
) -> Result<(), Invalid> {
    let specs = req.job_specs.as_deref().unwrap_or_default();
    let mut found: Option<(usize, String, i64, Option<i64>)> = None;
    if let Some(spec) = req
        .elastic_spec
        .as_ref()
        .filter(|e| e.enable_elastic_training == Some(true))
    {
        let worker = roles.iter().position(|r| r.role == Role::Worker);
        let Some(i) = worker.filter(|_| job_type == JobType::PyTorchJob) else {
            return Err(Invalid::value(
                "ElasticSpec.EnableElasticTraining",
                "elastic training here is for a PyTorchJob's Workers (torchrun's elastic \
                 rendezvous)",
            ));
        };
        found = Some((
            i,
            "ElasticSpec.MinParallelism".into(),
            spec.min_parallelism.unwrap_or(1),
            spec.max_parallelism,
        ));
    }
    for (i, spec) in specs.iter().enumerate() {
        let Some(scaling) = spec
            .auto_scaling_spec
            .as_ref()
            .filter(|s| s.min_replicas.is_some() || s.max_replicas.is_some())
        else {
            continue;
        };
        let field = format!("JobSpecs[{i}].AutoScalingSpec");
        if job_type != JobType::PyTorchJob || roles[i].role != Role::Worker {
            return Err(Invalid::value(
                format!("{field}.MinReplicas"),
                "scaling here is for a PyTorchJob's Workers (torchrun's elastic rendezvous)",
            ));
        }
        if found.is_some() {
            return Err(Invalid::value(
                format!("{field}.MinReplicas"),
                "set the Workers' range in ElasticSpec or in AutoScalingSpec, not both",
            ));
        }
        found = Some((
            i,
            format!("{field}.MinReplicas"),
            scaling.min_replicas.unwrap_or(1),
            scaling.max_replicas,
        ));
    }
    let Some((i, field, min, max)) = found else {
        return Ok(());
    };
    let max = max.unwrap_or(i64::from(roles[i].pod_count));
    let max_field = field
        .replace("MinParallelism", "MaxParallelism")
        .replace("MinReplicas", "MaxReplicas");
    if !(1..=i64::from(MAX_ELASTIC_PODS)).contains(&min) {
        return Err(Invalid::value(
            field,
            format!("must be from 1 to {MAX_ELASTIC_PODS}, got {min}"),
        ));
    }
    if max < min || max > i64::from(MAX_ELASTIC_PODS) {
        return Err(Invalid::value(
            max_field,
            format!("must be from the minimum ({min}) to {MAX_ELASTIC_PODS}, got {max}"),
        ));
    }
    let (min, max) = (min as u32, max as u32);
    roles[i].pod_count = min;
    roles[i].elastic = Some(Elastic {
        min,
        max,
        target: max,
    });
    Ok(())
}

/// torchrun's elastic rendezvous in the `PET_*` variables of every pod (planned in rank
/// order): `nodes` is the world's range, the rank-0 pod hosts the c10d store on the job's
/// first port.
pub fn add_env(job_id: &str, nodes: (u32, u32), rendezvous: &Rendezvous, pods: &mut [PodPlan]) {
    let Some(master) = pods.first().map(|p| p.pod_id.clone()) else {
        return;
    };
    let endpoint = EnvValue::endpoint_of(master.as_str(), rendezvous.port(0));
    for pod in pods.iter_mut() {
        let is_host = if pod.pod_id == master {
            "true"
        } else {
            "false"
        };
        pod.set_env([
            ("PET_NNODES", format!("{}:{}", nodes.0, nodes.1).into()),
            ("PET_RDZV_BACKEND", "c10d".into()),
            ("PET_RDZV_ENDPOINT", endpoint.clone()),
            ("PET_RDZV_ID", job_id.into()),
            (
                "PET_RDZV_CONF",
                format!("is_host={is_host},last_call_timeout={LAST_CALL_SECS}").into(),
            ),
            ("PET_MAX_RESTARTS", ELASTIC_MAX_RESTARTS.to_string().into()),
            // torchrun's agents share the rendezvous store with the workers by default, and
            // its rank 0 publishes that store's address in the first round only: a member
            // joining a later round (the job grew) would wait for it forever. Each round
            // publishes its own without the sharing.
            ("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1".into()),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elastic_roles(job_type: JobType, req: serde_json::Value) -> Result<Vec<RoleSpec>, Invalid> {
        let req: CreateJobRequest = serde_json::from_value(req).unwrap();
        let specs = req.job_specs.clone().unwrap_or_default();
        let mut roles = crate::submission::validate_roles(job_type, &specs)?;
        apply(&req, job_type, &mut roles)?;
        Ok(roles)
    }

    fn workers(extra: serde_json::Value) -> serde_json::Value {
        let mut spec = serde_json::json!({"Type": "Worker", "PodCount": 3, "Image": "i",
                                          "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::json!({"JobSpecs": [spec]})
    }

    #[test]
    fn the_gang_is_the_minimum_and_the_target_the_maximum() {
        let mut req = workers(serde_json::json!({}));
        req["ElasticSpec"] = serde_json::json!({"EnableElasticTraining": true,
                                                "MinParallelism": 1, "MaxParallelism": 4});
        let roles = elastic_roles(JobType::PyTorchJob, req).unwrap();
        assert_eq!(roles[0].pod_count, 1);
        assert_eq!(
            roles[0].elastic,
            Some(Elastic {
                min: 1,
                max: 4,
                target: 4
            })
        );
        // AutoScalingSpec on the Worker role; the maximum defaults to its PodCount.
        let req = workers(serde_json::json!({"AutoScalingSpec": {"MinReplicas": 2}}));
        let roles = elastic_roles(JobType::PyTorchJob, req).unwrap();
        assert_eq!((roles[0].pod_count, roles[0].elastic.unwrap().max), (2, 3));
    }

    #[test]
    fn wrong_ranges_and_other_job_types_are_refused_by_field() {
        let bad = |req: serde_json::Value, job_type| {
            elastic_roles(job_type, req).unwrap_err().to_string()
        };
        let mut req = workers(serde_json::json!({}));
        req["ElasticSpec"] = serde_json::json!({"EnableElasticTraining": true,
                                                "MinParallelism": 3, "MaxParallelism": 2});
        assert!(bad(req.clone(), JobType::PyTorchJob).contains("ElasticSpec.MaxParallelism"));
        assert!(bad(req, JobType::TFJob).contains("for a PyTorchJob's Workers"));
        let req = workers(serde_json::json!({"AutoScalingSpec": {"MinReplicas": 0}}));
        assert!(bad(req, JobType::PyTorchJob).contains("JobSpecs[0].AutoScalingSpec.MinReplicas"));
        // Off is off.
        let mut req = workers(serde_json::json!({}));
        req["ElasticSpec"] = serde_json::json!({"EnableElasticTraining": false});
        assert_eq!(
            elastic_roles(JobType::PyTorchJob, req).unwrap()[0].elastic,
            None
        );
    }
}
