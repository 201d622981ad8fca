//! What each job type means, one module per framework: its roles (which one a job must have,
//! which have exactly one pod, which decide the job's success), the order of its ranks, its
//! part of the env contract, the programs it needs, the files written before its pods start and
//! the commands it runs for some roles.
//!
//! Everything here is pure. The server does the I/O a framework asks for (`engine/frameworks.rs`
//! checks that [`Framework::programs`] are installed, picks the free ports [`Framework::setup`]
//! asks for, writes its [`JobFiles`]), and nothing else in opendlc matches on job types: the
//! API, the CLI, the console, submission, the env contract and the engine all ask
//! [`JobType::framework`].
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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use opendlc_api::CreateJobRequest;

use crate::env_contract::{PodPlan, Rendezvous};
use crate::env_value::EnvValue;
use crate::error::Invalid;
use crate::job::{Job, RoleSpec};
use crate::job_type::{JobType, Role};

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
/// env contract, the UserCommand in every pod.
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

    /// Whether the job's pods may be given names on one host's loopback (the local runtime's
    /// pod names). Not where the framework takes a name that resolves there for this very host.
    fn names_on_one_host(&self) -> bool {
        true
    }

    /// Whether the job's pods form a Ray cluster (GetRayDashboard links to its head).
    fn runs_ray(&self, _job: &Job) -> bool {
        false
    }

    /// Programs that must be on the pods' PATH before they start.
    fn programs(&self, _job: &Job) -> Vec<Program> {
        Vec::new()
    }

    /// The files to write before the job's pods start and what the framework adds to each
    /// pod; an error fails the pods, saying why.
    fn setup(&self, _ctx: &mut SetupContext<'_>) -> Result<Setup, String> {
        Ok(Setup::default())
    }
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

/// A program a framework runs, and what provides it (for the message when it is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    pub name: &'static str,
    pub provided_by: &'static str,
}

/// What [`Framework::setup`] is given: the job and what only the server knows.
pub struct SetupContext<'a> {
    pub job: &'a Job,
    /// Every pod of the job, in rank order.
    pub plans: &'a [PodPlan],
    /// The job's directory; a framework's files go in it.
    pub job_dir: &'a Path,
    /// The opendlc binary, as the pods run it.
    pub program: &'a Path,
    /// Whether every pod runs on one host (the local runtime).
    pub one_host: bool,
    /// The pods' host's directory for temporary files.
    pub temp_dir: &'a Path,
    /// `n` distinct ports free right now where the pods run.
    pub free_ports: &'a mut dyn FnMut(usize) -> Vec<u16>,
}

/// What a framework needs before its pods start, and what it adds to them.
#[derive(Debug, Default, PartialEq)]
pub struct Setup {
    /// Written in this order.
    pub files: Vec<JobFiles>,
    pub launch: Launch,
}

/// Files written into one directory (created if missing) before the job's pods start.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFiles {
    pub dir: PathBuf,
    /// Whether only the server's user may enter the directory.
    pub private: bool,
    /// By name within `dir`.
    pub files: Vec<(&'static str, Contents)>,
    /// What failing to write them is called ("failed to write … in DIR").
    pub failure: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Contents {
    Text(String),
    /// A random secret, readable by the server's user only, written whole or not at all, once
    /// per job: the pods of every incarnation share it.
    Secret,
}

/// What the pods of one job get from its framework.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Launch {
    /// Every pod's variables.
    pub env: Vec<(String, EnvValue)>,
    /// Each pod's own (by PodId): its own address, say.
    pub pod_env: HashMap<String, Vec<(String, EnvValue)>>,
    /// The command of each pod that runs one of the framework's (by PodId).
    pub commands: HashMap<String, String>,
    /// The directories the framework's programs make for each pod outside the job's directory
    /// (by PodId): in the host's temporary directory, where Open MPI's and Ray's sockets keep
    /// their paths short enough. Removed once the pod's processes are gone.
    pub scratch: HashMap<String, Vec<PathBuf>>,
}

impl Launch {
    /// The pod's environment and command, with the framework's part added.
    pub fn apply(
        &self,
        pod_id: &str,
        env: &mut BTreeMap<String, EnvValue>,
        command: String,
    ) -> String {
        env.extend(self.env.iter().cloned());
        env.extend(self.pod_env.get(pod_id).into_iter().flatten().cloned());
        self.commands.get(pod_id).cloned().unwrap_or(command)
    }

    /// The directories to remove once the pod's processes are gone.
    pub fn scratch_of(&self, pod_id: &str) -> Vec<PathBuf> {
        self.scratch.get(pod_id).cloned().unwrap_or_default()
    }
}

/// Whether `role` has a command of its own (its JobSpec's UserCommand): then its pods run it
/// instead of the framework's.
fn has_own_command(job: &Job, role: Role) -> bool {
    job.roles
        .iter()
        .any(|r| r.role == role && r.command.is_some())
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

    #[test]
    fn launch_adds_env_and_replaces_the_commands_it_names() {
        let launch = Launch {
            env: vec![("A".into(), "1".into())],
            pod_env: HashMap::from([("p-0".to_string(), vec![("B".into(), "2".into())])]),
            commands: HashMap::from([("p-0".to_string(), "framework".to_string())]),
            scratch: HashMap::from([("p-0".to_string(), vec![PathBuf::from("/tmp/p-0")])]),
        };
        assert_eq!(launch.scratch_of("p-0"), [PathBuf::from("/tmp/p-0")]);
        assert!(launch.scratch_of("p-1").is_empty());
        let mut env = BTreeMap::new();
        assert_eq!(launch.apply("p-0", &mut env, "user".into()), "framework");
        assert_eq!(env.len(), 2);
        let mut env = BTreeMap::new();
        assert_eq!(launch.apply("p-1", &mut env, "user".into()), "user");
        assert_eq!(env.keys().collect::<Vec<_>>(), ["A"]);
    }
}
