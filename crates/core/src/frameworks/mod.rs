//! What each job type means, one module per framework: its roles (which one a job must have,
//! which have exactly one pod, which decide the job's success), the order of its ranks and its
//! part of the env contract. Pure: the API, the CLI, the console, submission and the env
//! contract ask [`JobType::framework`].
//!
//! # How to add a job type
//!
//! 1. Add its API name to [`JobType`]'s list (`job_type.rs`).
//! 2. Add a module here with a unit struct implementing [`Framework`]: a
//!    [`Framework::description`] and its [`Framework::roles`] at least; every other method has a
//!    default meaning "the base contract and nothing more". Test its roles, its env and its
//!    success rule in the module.
//! 3. Register it: one arm in [`JobType::framework`].

pub mod data_juicer;
pub mod elastic_batch;
pub mod mpi;
pub mod oneflow;
pub mod pytorch;
pub mod ray;
pub mod slurm;
pub mod tensorflow;
pub mod xgboost;

use opendlc_api::CreateJobRequest;

use crate::env_contract::{PodPlan, Rendezvous};
use crate::job::RoleSpec;
use crate::job_type::{JobType, Role};
use crate::submission::Invalid;

impl JobType {
    /// What this job type means: the one registry of frameworks.
    pub fn framework(self) -> &'static dyn Framework {
        match self {
            JobType::PyTorchJob => &pytorch::PyTorch,
            JobType::TFJob => &tensorflow::TensorFlow,
            JobType::MPIJob => &mpi::Mpi,
            JobType::XGBoostJob => &xgboost::XGBoost,
            JobType::RayJob => &ray::Ray,
            JobType::DataJuicerJob => &data_juicer::DataJuicer,
            JobType::ElasticBatchJob => &elastic_batch::ElasticBatch,
            JobType::OneFlowJob => &oneflow::OneFlow,
            JobType::SlurmJob => &slurm::Slurm,
        }
    }
}

/// A job type's meaning. Every method but the first two has a default: no more than the base
/// env contract.
pub trait Framework: Sync {
    /// What a job of this type runs, in one line (the CLI's help, the console's form).
    fn description(&self) -> &'static str;

    /// The roles a job of this type may have, in the order users see them listed (GOSDK
    /// `job_spec_model.go`, PAI CLI role names), with what each one means.
    fn roles(&self) -> &'static [RoleRule];

    /// Where the pods of `role` come in rank order, lower first: by default the order of
    /// [`Framework::roles`]. The first pod in rank order is rank 0, the job's master
    /// (`MASTER_ADDR`).
    fn rank_of_role(&self, role: Role) -> usize {
        position(self.roles().iter().map(|r| r.role), role)
    }

    /// Refuses a job of this type that this server cannot run (`on_slurm`: whether it runs
    /// pods on Slurm). Checked before the JobSpecs.
    fn check_runtime(&self, _on_slurm: bool) -> Result<(), Invalid> {
        Ok(())
    }

    /// Checks the job's settings against its roles (already checked against
    /// [`Framework::roles`]).
    fn validate(&self, _req: &CreateJobRequest, _roles: &[RoleSpec]) -> Result<(), Invalid> {
        Ok(())
    }

    /// Adds the framework's variables to the env of the job's pods, planned in rank order with
    /// the base contract in place.
    fn add_env(&self, _world: &World<'_>, _pods: &mut [PodPlan]) {}
}

impl dyn Framework {
    /// What `role` means in this job type, if it has the role.
    pub fn rule(&self, role: Role) -> Option<RoleRule> {
        self.roles().iter().copied().find(|r| r.role == role)
    }
}

/// Where `role` is in `order`; a role not in it comes last.
fn position(mut order: impl Iterator<Item = Role>, role: Role) -> usize {
    order.position(|r| r == role).unwrap_or(usize::MAX)
}

/// One role of a job type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleRule {
    pub role: Role,
    /// Whether every job of the type has this role (it runs the UserCommand).
    pub required: bool,
    /// Whether the role has exactly one pod.
    pub single: bool,
    /// Whether its pods decide the job's success when its JobSpec does not say
    /// (`ConsiderInSuccessPolicy`).
    pub decides_success: bool,
}

impl RoleRule {
    /// An optional role of any number of pods, each of which decides the job's success.
    pub const fn new(role: Role) -> Self {
        RoleRule {
            role,
            required: false,
            single: false,
            decides_success: true,
        }
    }

    /// Every job of the type has it.
    pub const fn required(self) -> Self {
        RoleRule {
            required: true,
            ..self
        }
    }

    /// It has exactly one pod.
    pub const fn single(self) -> Self {
        RoleRule {
            single: true,
            ..self
        }
    }

    /// Its pods serve the others until the job ends: they do not decide its success.
    pub const fn serves(self) -> Self {
        RoleRule {
            decides_success: false,
            ..self
        }
    }
}

/// PAI: "Master is optional; if not specified, the first Worker is the master". The roles of
/// most types whose pods are peers.
pub const MASTER_AND_WORKERS: &[RoleRule] = &[
    RoleRule::new(Role::Master).single(),
    RoleRule::new(Role::Worker),
];

/// What [`Framework::add_env`] knows of the job besides its pods.
#[derive(Debug, Clone, Copy)]
pub struct World<'a> {
    /// The PodId of the rank-0 pod.
    pub master: &'a str,
    pub rendezvous: &'a Rendezvous,
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_roles_and_ranks_them_all() {
        for t in JobType::ALL {
            let framework = t.framework();
            assert!(!framework.roles().is_empty(), "{t}");
            assert!(!framework.description().is_empty(), "{t}");
            for rule in framework.roles() {
                assert!(
                    framework.rank_of_role(rule.role) < usize::MAX,
                    "{t} {rule:?}"
                );
                assert_eq!(framework.rule(rule.role), Some(*rule));
                // A required role runs the UserCommand: it has one pod and decides success.
                if rule.required {
                    assert!(rule.single && rule.decides_success, "{t} {rule:?}");
                }
            }
            // Some role decides the job's success.
            assert!(framework.roles().iter().any(|r| r.decides_success), "{t}");
        }
    }
}
