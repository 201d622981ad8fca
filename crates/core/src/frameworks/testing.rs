//! What the frameworks' tests share: roles and pods as planned, jobs as CreateJob accepts them,
//! and a setup on a made-up host.

use std::collections::BTreeMap;
use std::path::Path;

use opendlc_api::{CreateJobRequest, JobSpec, ResourceConfig};

use super::{Setup, SetupContext};
use crate::env_contract::{PodPlan, Rendezvous, RolePlan};
use crate::error::Invalid;
use crate::job::Job;
use crate::job_type::{JobType, Role};
use crate::resources::Resources;
use crate::submission::{validate_create, SubmitContext};

pub fn role(role: Role, pod_count: u32) -> RolePlan {
    RolePlan {
        role,
        pod_count,
        resources: Resources::new(1000, 1024, 0),
    }
}

/// A variable with each address written as `<PodId>`.
pub fn text(pod: &PodPlan, name: &str) -> String {
    pod.env[name].resolve(|pod_id| format!("<{pod_id}>"))
}

/// `n` ports from 2000.
pub fn rdzv_of(n: u16) -> Rendezvous {
    Rendezvous {
        ports: (0..n).map(|i| 2000 + i).collect(),
    }
}

/// A CreateJob request: `specs` are (role, pods, the role's own command).
pub fn request(
    job_type: JobType,
    specs: &[(Role, u32, Option<&str>)],
    command: &str,
) -> CreateJobRequest {
    CreateJobRequest {
        display_name: Some("test".into()),
        job_type: Some(job_type.to_string()),
        user_command: Some(command.into()),
        job_specs: Some(
            specs
                .iter()
                .map(|(role, pods, command)| JobSpec {
                    r#type: Some(role.to_string()),
                    pod_count: Some(i64::from(*pods)),
                    user_command: command.map(String::from),
                    resource_config: Some(ResourceConfig {
                        cpu: Some("2".into()),
                        memory: Some("1Gi".into()),
                        gpu: Some("1".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

/// The job `dlcx` as CreateJob accepts `req` (on a server with room for it, on Slurm or not),
/// admitted on ports from 2000.
pub fn submit(req: &CreateJobRequest, on_slurm: bool) -> Result<Job, Invalid> {
    let quotas = BTreeMap::new();
    let ctx = SubmitContext {
        job_id: "dlcx".into(),
        user_id: "u",
        now: 0,
        pool: Resources::new(1_000_000, 1 << 30, 1_000),
        quotas: &quotas,
        gpu_types: &[],
        on_slurm,
        prices: None,
    };
    let mut job = validate_create(req, &ctx)?;
    job.ports = rdzv_of(job.pod_count() as u16).ports;
    Ok(job)
}

/// A job that CreateJob accepts.
pub fn job(job_type: JobType, specs: &[(Role, u32, Option<&str>)], command: &str) -> Job {
    submit(&request(job_type, specs, command), false).expect("a valid job")
}

/// The job's pods as the engine plans them.
pub fn plans(job: &Job) -> Vec<PodPlan> {
    crate::env_contract::plan_job(job)
}

/// The job's setup with its files under `/d/jobs/dlcx`, the binary at `/bin/opendlc`, every
/// pod on one host, and free ports counted from 3000.
pub fn setup(job: &Job) -> Result<Setup, String> {
    let plans = plans(job);
    let mut next = 3000;
    let mut free_ports = |n: usize| {
        let ports = (next..next + n as u16).collect();
        next += n as u16;
        ports
    };
    job.job_type.framework().setup(&mut SetupContext {
        job,
        plans: &plans,
        job_dir: Path::new("/d/jobs/dlcx"),
        program: Path::new("/bin/opendlc"),
        one_host: true,
        temp_dir: Path::new("/tmp"),
        free_ports: &mut free_ports,
    })
}
