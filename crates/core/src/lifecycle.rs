//! What a running job's pods mean for the job: a pure function of their states.
//!
//! A job succeeds when every pod that counts (`ConsiderInSuccessPolicy`, default true) has
//! succeeded; it fails as soon as one of them fails (multi-pod training cannot go on without a
//! rank). Either way the pods still running are stopped first, and the job takes its final
//! status once all of them have ended, so resources are never released under live processes.

use crate::job::Reason;
use crate::status::{JobStatus, PodStatus};

/// A pod as the decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodView<'a> {
    pub pod_id: &'a str,
    pub status: PodStatus,
    pub considered: bool,
    pub exit_code: Option<i32>,
    pub reason: Option<&'a str>,
    /// When it ended: the first failure is the job's cause, not the pods stopped because of it.
    pub finished: Option<crate::time::Millis>,
}

/// The job's final status and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: JobStatus,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to do yet.
    Wait,
    /// The outcome is known; stop the pods that still run, then finish.
    StopRemaining(Outcome),
    /// Every pod has ended: the job takes this status now.
    Finish(Outcome),
}

/// `stopping` carries the reason of a stop already under way (user stop, deadline): it decides
/// the outcome whatever the pods do.
pub fn decide(pods: &[PodView<'_>], stopping: Option<&Reason>) -> Decision {
    let outcome = match stopping {
        Some(reason) => Some(Outcome {
            status: JobStatus::Stopped,
            reason: reason.clone(),
        }),
        None => outcome_of(pods),
    };
    let all_ended = pods.iter().all(|p| p.status.is_terminal());
    match outcome {
        None => Decision::Wait,
        Some(outcome) if all_ended => Decision::Finish(outcome),
        Some(outcome) => Decision::StopRemaining(outcome),
    }
}

fn outcome_of(pods: &[PodView<'_>]) -> Option<Outcome> {
    let first_failed = pods
        .iter()
        .filter(|p| p.considered && p.status == PodStatus::Failed)
        .min_by_key(|p| p.finished.unwrap_or(i64::MAX));
    if let Some(failed) = first_failed {
        let detail = match (failed.reason, failed.exit_code) {
            (Some(reason), _) => reason.to_string(),
            (None, Some(code)) => format!("exited with code {code}"),
            (None, None) => "failed".to_string(),
        };
        return Some(Outcome {
            status: JobStatus::Failed,
            reason: Reason::new("JobFailed", format!("Pod {} {detail}.", failed.pod_id)),
        });
    }
    let mut considered = pods.iter().filter(|p| p.considered).peekable();
    let counted_done = if considered.peek().is_some() {
        considered.all(|p| p.status == PodStatus::Succeeded)
    } else {
        pods.iter().all(|p| p.status.is_terminal())
    };
    counted_done.then(|| Outcome {
        status: JobStatus::Succeeded,
        reason: Reason::new("JobSucceeded", "Job has succeeded."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: PodStatus, considered: bool) -> PodView<'static> {
        PodView {
            pod_id: "dlcx-worker-0",
            status,
            considered,
            exit_code: Some(3),
            reason: None,
            finished: Some(5),
        }
    }

    #[test]
    fn waits_while_pods_run() {
        let pods = [
            pod(PodStatus::Succeeded, true),
            pod(PodStatus::Running, true),
        ];
        assert_eq!(decide(&pods, None), Decision::Wait);
    }

    #[test]
    fn succeeds_when_every_pod_succeeded() {
        let pods = [
            pod(PodStatus::Succeeded, true),
            pod(PodStatus::Succeeded, true),
        ];
        let Decision::Finish(outcome) = decide(&pods, None) else {
            panic!()
        };
        assert_eq!(outcome.status, JobStatus::Succeeded);
    }

    #[test]
    fn a_failed_pod_stops_the_others_then_fails_the_job() {
        let pods = [pod(PodStatus::Failed, true), pod(PodStatus::Running, true)];
        let Decision::StopRemaining(outcome) = decide(&pods, None) else {
            panic!()
        };
        assert_eq!(outcome.status, JobStatus::Failed);
        assert!(outcome.reason.message.contains("exited with code 3"));
    }

    #[test]
    fn the_first_failure_is_the_cause() {
        let stopped = PodView {
            pod_id: "dlcx-master-0",
            exit_code: None,
            reason: Some("was killed by signal 15"),
            finished: Some(9),
            ..pod(PodStatus::Failed, true)
        };
        let Decision::Finish(outcome) = decide(&[stopped, pod(PodStatus::Failed, true)], None)
        else {
            panic!()
        };
        assert_eq!(
            outcome.reason.message,
            "Pod dlcx-worker-0 exited with code 3."
        );
    }

    #[test]
    fn pods_outside_the_success_policy_do_not_decide() {
        let pods = [
            pod(PodStatus::Succeeded, true),
            pod(PodStatus::Failed, false),
        ];
        let Decision::Finish(outcome) = decide(&pods, None) else {
            panic!()
        };
        assert_eq!(outcome.status, JobStatus::Succeeded);
        let pods = [
            pod(PodStatus::Succeeded, true),
            pod(PodStatus::Running, false),
        ];
        assert!(matches!(decide(&pods, None), Decision::StopRemaining(_)));
    }

    #[test]
    fn a_stop_wins() {
        let reason = Reason::new("JobStoppedByUser", "Job is stopped by user.");
        let pods = [pod(PodStatus::Failed, true)];
        let Decision::Finish(outcome) = decide(&pods, Some(&reason)) else {
            panic!()
        };
        assert_eq!(outcome.status, JobStatus::Stopped);
        assert_eq!(outcome.reason, reason);
    }
}
