//! Job types and role names: the names the API, the CLI and the console use. What each job
//! type means (its roles, env, files, commands, success rule) is its framework's
//! (`crate::frameworks`).

use crate::status::{string_enum, UnknownValue};

string_enum! {
    /// `JobType` of CreateJob; case-sensitive, as in PAI-DLC. The one list of job types: the
    /// API, the CLI's `submit` and the console's submit form all take theirs from [`JobType::ALL`]
    /// (in this order, the most used first).
    JobType {
        PyTorchJob, TFJob, MPIJob, XGBoostJob, RayJob, DataJuicerJob, ElasticBatchJob,
        OneFlowJob, SlurmJob,
    }
}

string_enum! {
    /// `JobSpec.Type`: a role within a job.
    Role { Master, Worker, PS, Chief, Evaluator, GraphLearn, Launcher, Head }
}

impl JobType {
    /// The name `opendlc submit` takes, as PAI's `dlc submit` does: the API name in lower case
    /// (`pytorchjob`).
    pub fn cli_name(self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    /// The type by its API name (`PyTorchJob`) or its CLI name (`pytorchjob`, any case).
    pub fn from_any_name(name: &str) -> Option<JobType> {
        JobType::ALL
            .iter()
            .copied()
            .find(|t| name.eq_ignore_ascii_case(t.as_str()))
    }

    /// What a job of this type runs, in one line (the CLI's help, the console's form).
    pub fn description(self) -> &'static str {
        self.framework().description()
    }

    /// The roles a job of this type may have (GOSDK `job_spec_model.go`, PAI CLI role names);
    /// what each means is the framework's ([`JobType::framework`]).
    pub fn roles(self) -> Vec<Role> {
        self.framework().roles().iter().map(|r| r.role).collect()
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

    #[test]
    fn every_type_is_found_by_its_api_and_cli_names() {
        for t in JobType::ALL {
            assert_eq!(JobType::from_any_name(t.as_str()), Some(*t));
            assert_eq!(JobType::from_any_name(&t.cli_name()), Some(*t));
            assert_eq!(t.as_str().parse::<JobType>(), Ok(*t));
            assert!(!t.roles().is_empty(), "{t}");
            assert!(!t.description().is_empty(), "{t}");
        }
        assert_eq!(
            JobType::from_any_name("datajuicerjob"),
            Some(JobType::DataJuicerJob)
        );
        assert_eq!(JobType::from_any_name("pytorch"), None);
    }
}
