//! JobReservedMinutes / JobReservedPolicy: after its pods end, a job may keep them (their
//! files, web terminals and the resources they held) for a while before it takes its final
//! status, so that its user can look around. It is SucceededReserving or FailedReserving
//! meanwhile, then Succeeded or Failed. A stopped job is never kept.

use opendlc_api::JobSettings;

use crate::error::Invalid;
use crate::status::JobStatus;

/// The longest reservation accepted: a week.
pub const MAX_MINUTES: i64 = 7 * 24 * 60;

/// Which outcomes keep the job (`JobReservedPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Always,
    OnFailure,
    OnSucceed,
}

/// The reservation a job asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub minutes: u32,
    pub policy: Policy,
}

impl Reservation {
    /// The job's reservation, if it has one (`JobReservedMinutes` > 0). The policy defaults to
    /// `Always`. Settings are checked at CreateJob ([`validate`]).
    pub fn of(settings: Option<&JobSettings>) -> Option<Reservation> {
        let settings = settings?;
        let minutes = settings.job_reserved_minutes.filter(|m| *m > 0)?;
        let policy = match settings.job_reserved_policy.as_deref() {
            Some("OnFailure") => Policy::OnFailure,
            Some("OnSucceed") => Policy::OnSucceed,
            _ => Policy::Always,
        };
        Some(Reservation {
            minutes: u32::try_from(minutes.min(MAX_MINUTES)).unwrap_or(0),
            policy,
        })
    }

    /// The status a job that ends with `outcome` takes while it is kept, if it is.
    pub fn reserving_status(&self, outcome: JobStatus) -> Option<JobStatus> {
        match (outcome, self.policy) {
            (JobStatus::Succeeded, Policy::Always | Policy::OnSucceed) => {
                Some(JobStatus::SucceededReserving)
            }
            (JobStatus::Failed, Policy::Always | Policy::OnFailure) => {
                Some(JobStatus::FailedReserving)
            }
            _ => None,
        }
    }
}

/// The status a reserving job takes once its reservation ends.
pub fn final_status(reserving: JobStatus) -> Option<JobStatus> {
    match reserving {
        JobStatus::SucceededReserving => Some(JobStatus::Succeeded),
        JobStatus::FailedReserving => Some(JobStatus::Failed),
        _ => None,
    }
}

pub fn validate(settings: Option<&JobSettings>) -> Result<(), Invalid> {
    let Some(settings) = settings else {
        return Ok(());
    };
    if let Some(minutes) = settings.job_reserved_minutes {
        if !(0..=MAX_MINUTES).contains(&minutes) {
            return Err(Invalid::value(
                "Settings.JobReservedMinutes",
                format!("must be between 0 and {MAX_MINUTES} (a week), got {minutes}"),
            ));
        }
    }
    if let Some(policy) = settings.job_reserved_policy.as_deref() {
        if !["Always", "OnFailure", "OnSucceed"].contains(&policy) {
            return Err(Invalid::value(
                "Settings.JobReservedPolicy",
                format!("must be Always, OnFailure or OnSucceed, got \"{policy}\""),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(minutes: Option<i64>, policy: Option<&str>) -> JobSettings {
        JobSettings {
            job_reserved_minutes: minutes,
            job_reserved_policy: policy.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn the_policy_picks_the_outcomes_that_are_kept() {
        assert_eq!(Reservation::of(Some(&settings(None, Some("Always")))), None);
        assert_eq!(Reservation::of(Some(&settings(Some(0), None))), None);
        let always = Reservation::of(Some(&settings(Some(5), None))).unwrap();
        assert_eq!(always.minutes, 5);
        assert_eq!(
            always.reserving_status(JobStatus::Succeeded),
            Some(JobStatus::SucceededReserving)
        );
        assert_eq!(
            always.reserving_status(JobStatus::Failed),
            Some(JobStatus::FailedReserving)
        );
        assert_eq!(always.reserving_status(JobStatus::Stopped), None);
        let on_failure = Reservation::of(Some(&settings(Some(5), Some("OnFailure")))).unwrap();
        assert_eq!(on_failure.reserving_status(JobStatus::Succeeded), None);
        let on_succeed = Reservation::of(Some(&settings(Some(5), Some("OnSucceed")))).unwrap();
        assert_eq!(on_succeed.reserving_status(JobStatus::Failed), None);
        assert_eq!(
            final_status(JobStatus::FailedReserving),
            Some(JobStatus::Failed)
        );
    }

    #[test]
    fn bad_settings_name_the_field() {
        let err = validate(Some(&settings(Some(-1), None))).unwrap_err();
        assert!(err.to_string().contains("JobReservedMinutes"), "{err}");
        let err = validate(Some(&settings(Some(1), Some("Sometimes")))).unwrap_err();
        assert!(err.to_string().contains("JobReservedPolicy"), "{err}");
        assert!(validate(Some(&settings(Some(30), Some("OnFailure")))).is_ok());
    }
}
