//! SlurmJob: the UserCommand runs in the job's Slurm allocation, so only a server that runs
//! pods on Slurm (`serve --runtime slurm`) takes one. Master and Worker pods (any number of
//! each) get the base contract; every pod decides the job's success.

use super::{Framework, RoleRule};
use crate::error::Invalid;
use crate::job_type::Role;

pub struct Slurm;

const ROLES: &[RoleRule] = &[RoleRule::new(Role::Master), RoleRule::new(Role::Worker)];

impl Framework for Slurm {
    fn description(&self) -> &'static str {
        "Slurm: the command runs in the job's Slurm allocation (serve --runtime slurm)"
    }

    fn roles(&self) -> &'static [RoleRule] {
        ROLES
    }

    fn check_runtime(&self, on_slurm: bool) -> Result<(), Invalid> {
        if on_slurm {
            return Ok(());
        }
        Err(Invalid::value(
            "JobType",
            "SlurmJob needs the Slurm runtime (opendlc serve --runtime slurm); this server \
             runs jobs on its local runtime",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{request, submit};
    use crate::{JobType, Role};

    #[test]
    fn only_a_server_on_slurm_takes_one() {
        let req = request(
            JobType::SlurmJob,
            &[(Role::Master, 2, None), (Role::Worker, 2, None)],
            "srun hostname",
        );
        let err = submit(&req, false).unwrap_err();
        assert!(err.to_string().contains("Slurm runtime"), "{err}");
        let job = submit(&req, true).unwrap();
        assert_eq!(job.pod_count(), 4);
        assert!(job.roles.iter().all(|r| r.considered_in_success));
    }
}
