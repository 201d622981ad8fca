//! Job types and the roles each one accepts.

use crate::status::{string_enum, UnknownValue};

string_enum! {
    /// `JobType` of CreateJob; case-sensitive, as in PAI-DLC.
    JobType {
        TFJob, PyTorchJob, MPIJob, XGBoostJob, OneFlowJob, ElasticBatchJob, SlurmJob, RayJob,
        DataJuicerJob,
    }
}

string_enum! {
    /// `JobSpec.Type`: a role within a job.
    Role { Master, Worker, PS, Chief, Evaluator, GraphLearn, Launcher, Head }
}

impl JobType {
    /// The roles a job of this type may have (GOSDK `job_spec_model.go`, PAI CLI role names).
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            JobType::TFJob => &[Chief, PS, Worker, Evaluator, GraphLearn],
            JobType::PyTorchJob
            | JobType::XGBoostJob
            | JobType::OneFlowJob
            | JobType::ElasticBatchJob => &[Master, Worker],
            JobType::MPIJob => &[Launcher, Worker],
            JobType::RayJob => &[Head, Worker],
            JobType::DataJuicerJob | JobType::SlurmJob => &[Master, Worker],
        }
    }

    /// Types where at most one pod may play the master (PAI: "Master is optional; if not
    /// specified, the first Worker is the master").
    pub fn has_single_master(self) -> bool {
        matches!(
            self,
            JobType::PyTorchJob
                | JobType::XGBoostJob
                | JobType::OneFlowJob
                | JobType::ElasticBatchJob
        )
    }

    pub fn check_role(self, role: &str) -> Result<Role, UnknownValue> {
        let allowed = || UnknownValue {
            allowed: self
                .roles()
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let role: Role = role.parse().map_err(|_| allowed())?;
        if self.roles().contains(&role) {
            Ok(role)
        } else {
            Err(allowed())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_checked_per_type() {
        assert_eq!(JobType::PyTorchJob.check_role("Master"), Ok(Role::Master));
        let err = JobType::PyTorchJob.check_role("PS").unwrap_err();
        assert_eq!(err.allowed, "Master, Worker");
        assert!(JobType::TFJob.check_role("PS").is_ok());
        assert!(JobType::PyTorchJob.check_role("worker").is_err());
    }
}
