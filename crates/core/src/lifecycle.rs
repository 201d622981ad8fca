//! What a running job's pods mean for the job: a pure function of their states.
//!
//! A job succeeds when every pod that counts (`ConsiderInSuccessPolicy`, default true) has
//! succeeded; it fails as soon as one of them fails (multi-pod training cannot go on without a
//! rank). Either way the pods still running are stopped first, and the job takes its final
//! status once all of them have ended, so resources are never released under live processes.
//!
//! Before that, restart policies have their say: a pod whose role's policy restarts after its
//! end (see [`crate::restart`]) restarts the whole gang — or only itself, in Async mode — while
//! the budget of its cause's [`Source`] lasts.
//!
//! What the engine knows beyond the pods weighs in first ([`JobSignals`]): a stop (StopJob, a
//! deadline) decides the outcome whatever the pods do; a preemption sends the job back to the
//! queue once its pods have ended (a stop still wins: a job stopped while it is preempted ends
//! Stopped); a failed sanity check fails it; a hang restarts it while the budget lasts.

use crate::job::Reason;
use crate::restart::{Cause, PodEnd, RestartPolicy, Source};
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
    /// Its role's restart policy.
    pub policy: RestartPolicy,
    /// How it ended, once it has.
    pub end: Option<PodEnd>,
    /// What ended it, once it has.
    pub cause: Option<Cause>,
    /// The node it ran on, once it started.
    pub node: Option<&'a str>,
}

/// What a restart answers: why, whose failure it was, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub cause: Cause,
    /// The pod whose end caused it; none for a hang (the job as a whole).
    pub pod_id: Option<String>,
    /// Where that pod ran.
    pub node: Option<String>,
    pub reason: Reason,
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
    /// A pod's end (or a hang) asks for a restart: stop the pods that still run; once `now`,
    /// start new incarnations of all of them.
    Restart { fault: Fault, now: bool },
    /// In Async mode, a pod's end asks for a new incarnation of that pod alone, now (it has
    /// ended); the others go on.
    RestartPod(Fault),
    /// The job was preempted: stop the pods that still run; once `now` (all have ended), queue
    /// the job again, without spending its restart budget.
    Requeue { reason: Reason, now: bool },
}

/// What the engine knows about a job beyond its pods.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobSignals<'a> {
    /// A stop under way (user stop, deadline): it decides the outcome whatever the pods do.
    pub stopping: Option<&'a Reason>,
    /// The job makes room for a higher-priority one: it goes back to the queue.
    pub preempted: Option<&'a Reason>,
    /// The job was found hung (no log output for the hang interval): restart it, or fail it
    /// once the budget is spent.
    pub hung: Option<&'a Reason>,
    /// The job must fail for a reason of its own (a failed sanity check): no restart.
    pub failing: Option<&'a Reason>,
    /// What remains of the job's restart budgets.
    pub restarts_left: Budgets,
    /// `--job-execution-mode=Async`: a pod's end restarts that pod alone.
    pub async_pods: bool,
}

/// Restarts left to a job, by whose failure causes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budgets {
    pub user: u32,
    pub infrastructure: u32,
}

impl Budgets {
    /// Both budgets the same.
    pub fn each(n: u32) -> Self {
        Budgets {
            user: n,
            infrastructure: n,
        }
    }

    pub fn left_for(&self, source: Source) -> u32 {
        match source {
            Source::User => self.user,
            Source::Infrastructure => self.infrastructure,
        }
    }
}

pub fn decide(pods: &[PodView<'_>], signals: JobSignals<'_>) -> Decision {
    let all_ended = pods.iter().all(|p| p.status.is_terminal());
    if let (None, Some(reason)) = (signals.stopping, signals.preempted) {
        return Decision::Requeue {
            reason: reason.clone(),
            now: all_ended,
        };
    }
    let hung = signals.hung.filter(|_| signals.restarts_left.user > 0);
    if let (None, None, Some(reason)) = (signals.stopping, signals.failing, hung) {
        let fault = Fault {
            cause: Cause::Hang,
            pod_id: None,
            node: None,
            reason: reason.clone(),
        };
        return Decision::Restart {
            fault,
            now: all_ended,
        };
    }
    if signals.stopping.is_none() && signals.failing.is_none() && signals.hung.is_none() {
        // Ends after the job's first failure are its consequences (pods stopped because of
        // it, as a rule by SIGTERM): they do not ask for a restart the failure itself did not.
        let cause = first_failure(pods.iter());
        let before_cause = |p: &&PodView<'_>| match cause {
            None => true,
            Some(cause) => {
                p.pod_id == cause.pod_id
                    || p.finished.unwrap_or(i64::MAX) < cause.finished.unwrap_or(i64::MAX)
            }
        };
        let trigger = pods
            .iter()
            .filter(|p| p.end.is_some_and(|end| p.policy.restarts_after(end)))
            .filter(before_cause)
            .min_by_key(|p| p.finished.unwrap_or(i64::MAX));
        let budgeted = trigger.and_then(|pod| {
            let cause = pod.cause?;
            (signals.restarts_left.left_for(cause.source()) > 0).then_some((pod, cause))
        });
        if let Some((pod, cause)) = budgeted {
            let alone = if signals.async_pods {
                ": it restarts alone (--job-execution-mode=Async)"
            } else {
                ""
            };
            let message = format!(
                "Pod {} {}; its RestartPolicy is {}{alone}.",
                pod.pod_id,
                describe(pod),
                pod.policy
            );
            let fault = Fault {
                cause,
                pod_id: Some(pod.pod_id.to_string()),
                node: pod.node.map(str::to_string),
                reason: Reason::new("JobRestarting", message),
            };
            return if signals.async_pods {
                Decision::RestartPod(fault)
            } else {
                Decision::Restart {
                    fault,
                    now: all_ended,
                }
            };
        }
    }
    let outcome = match (signals.stopping, signals.failing.or(signals.hung)) {
        (Some(reason), _) => Some(Outcome {
            status: JobStatus::Stopped,
            reason: reason.clone(),
        }),
        (None, Some(reason)) => Some(Outcome {
            status: JobStatus::Failed,
            reason: reason.clone(),
        }),
        (None, None) => outcome_of(pods),
    };
    match outcome {
        None => Decision::Wait,
        Some(outcome) if all_ended => Decision::Finish(outcome),
        Some(outcome) => Decision::StopRemaining(outcome),
    }
}

fn describe(pod: &PodView<'_>) -> String {
    match (pod.status, pod.reason, pod.exit_code) {
        (PodStatus::Succeeded, _, _) => "succeeded".to_string(),
        (_, Some(reason), _) => reason.to_string(),
        (_, None, Some(code)) => format!("exited with code {code}"),
        _ => "failed".to_string(),
    }
}

/// The pod that failed first: the cause of whatever ends after it.
fn first_failure<'p, 'a>(pods: impl Iterator<Item = &'p PodView<'a>>) -> Option<&'p PodView<'a>> {
    pods.filter(|p| p.status == PodStatus::Failed)
        .min_by_key(|p| p.finished.unwrap_or(i64::MAX))
}

fn outcome_of(pods: &[PodView<'_>]) -> Option<Outcome> {
    if let Some(failed) = first_failure(pods.iter().filter(|p| p.considered)) {
        let detail = describe(failed);
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

    fn left(restarts_left: u32) -> JobSignals<'static> {
        JobSignals {
            restarts_left: Budgets::each(restarts_left),
            ..JobSignals::default()
        }
    }

    #[test]
    fn a_hung_job_restarts_then_fails() {
        let hang = Reason::new("JobHang", "no output");
        let running = pod(PodStatus::Running, true);
        let hung = |restarts_left| JobSignals {
            hung: Some(&hang),
            restarts_left: Budgets::each(restarts_left),
            ..JobSignals::default()
        };
        assert!(matches!(
            decide(std::slice::from_ref(&running), hung(1)),
            Decision::Restart { now: false, .. }
        ));
        assert!(
            matches!(decide(&[running], hung(0)), Decision::StopRemaining(o) if o.status == JobStatus::Failed)
        );
    }

    fn pod(status: PodStatus, considered: bool) -> PodView<'static> {
        PodView {
            pod_id: "dlcx-worker-0",
            status,
            considered,
            exit_code: Some(3),
            reason: None,
            finished: Some(5),
            policy: RestartPolicy::Never,
            end: status.is_terminal().then_some(PodEnd::Exited(3)),
            cause: status
                .is_terminal()
                .then(|| Cause::of_end(status, Some(3), None, None)),
            node: Some("n1"),
        }
    }

    #[test]
    fn waits_while_pods_run() {
        let pods = [
            pod(PodStatus::Succeeded, true),
            pod(PodStatus::Running, true),
        ];
        assert_eq!(decide(&pods, left(3)), Decision::Wait);
    }

    #[test]
    fn succeeds_when_every_pod_succeeded() {
        let pods = [
            pod(PodStatus::Succeeded, true),
            pod(PodStatus::Succeeded, true),
        ];
        let Decision::Finish(outcome) = decide(&pods, left(3)) else {
            panic!()
        };
        assert_eq!(outcome.status, JobStatus::Succeeded);
    }

    #[test]
    fn a_failed_pod_stops_the_others_then_fails_the_job() {
        let pods = [pod(PodStatus::Failed, true), pod(PodStatus::Running, true)];
        let Decision::StopRemaining(outcome) = decide(&pods, left(3)) else {
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
        let Decision::Finish(outcome) = decide(&[stopped, pod(PodStatus::Failed, true)], left(3))
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
        let Decision::Finish(outcome) = decide(&pods, left(3)) else {
            panic!()
        };
        assert_eq!(outcome.status, JobStatus::Succeeded);
        let pods = [
            pod(PodStatus::Succeeded, true),
            pod(PodStatus::Running, false),
        ];
        assert!(matches!(decide(&pods, left(3)), Decision::StopRemaining(_)));
    }

    #[test]
    fn a_failing_job_stops_its_pods_and_fails_without_restart() {
        let reason = Reason::new("SanityCheckFailed", "CheckInit failed");
        let signals = JobSignals {
            failing: Some(&reason),
            restarts_left: Budgets::each(3),
            ..JobSignals::default()
        };
        let running = pod(PodStatus::Running, true);
        let Decision::StopRemaining(outcome) = decide(&[running], signals) else {
            panic!("the running pod must be stopped first")
        };
        assert_eq!(
            (outcome.status, outcome.reason),
            (JobStatus::Failed, reason.clone())
        );
        let failed = pod(PodStatus::Failed, true);
        assert!(matches!(
            decide(&[failed], signals),
            Decision::Finish(o) if o.status == JobStatus::Failed && o.reason == reason
        ));
    }

    #[test]
    fn a_stop_wins() {
        let reason = Reason::new("JobStoppedByUser", "Job is stopped by user.");
        let pods = [pod(PodStatus::Failed, true)];
        let Decision::Finish(outcome) = decide(
            &pods,
            JobSignals {
                stopping: Some(&reason),
                restarts_left: Budgets::each(3),
                ..JobSignals::default()
            },
        ) else {
            panic!()
        };
        assert_eq!(outcome.status, JobStatus::Stopped);
        assert_eq!(outcome.reason, reason);
    }

    #[test]
    fn a_restartable_end_restarts_the_gang_while_the_budget_lasts() {
        let failed = PodView {
            policy: RestartPolicy::OnFailure,
            ..pod(PodStatus::Failed, true)
        };
        let running = pod(PodStatus::Running, true);
        let Decision::Restart { fault, now } = decide(&[failed.clone(), running.clone()], left(1))
        else {
            panic!()
        };
        assert!(!now, "the other pod must stop first");
        assert_eq!(fault.cause, Cause::ExitCode(3));
        assert_eq!(fault.pod_id.as_deref(), Some("dlcx-worker-0"));
        assert_eq!(fault.node.as_deref(), Some("n1"));
        assert_eq!(
            fault.reason.message,
            "Pod dlcx-worker-0 exited with code 3; its RestartPolicy is OnFailure."
        );
        let stopped = PodView {
            status: PodStatus::Failed,
            ..running
        };
        assert!(matches!(
            decide(&[failed.clone(), stopped.clone()], left(1)),
            Decision::Restart { now: true, .. }
        ));
        // Budget spent: the failure decides.
        assert!(
            matches!(decide(&[failed.clone(), stopped], left(0)), Decision::Finish(o) if o.status == JobStatus::Failed)
        );
        // A stop wins over a restart.
        let reason = Reason::new("JobStoppedByUser", "");
        assert!(
            matches!(decide(&[failed], JobSignals { stopping: Some(&reason), restarts_left: Budgets::each(1), ..JobSignals::default() }), Decision::Finish(o) if o.status == JobStatus::Stopped)
        );
    }

    #[test]
    fn a_permanent_exit_code_is_not_retried() {
        let failed = PodView {
            policy: RestartPolicy::ExitCode,
            ..pod(PodStatus::Failed, true)
        };
        assert!(
            matches!(decide(&[failed], left(3)), Decision::Finish(o) if o.status == JobStatus::Failed)
        );
    }

    #[test]
    fn a_pod_stopped_because_of_a_permanent_failure_does_not_restart_the_job() {
        let failed = PodView {
            policy: RestartPolicy::ExitCode,
            exit_code: Some(1),
            end: Some(PodEnd::Exited(1)),
            cause: Some(Cause::ExitCode(1)),
            finished: Some(5),
            ..pod(PodStatus::Failed, true)
        };
        let stopped = PodView {
            pod_id: "dlcx-master-0",
            exit_code: Some(143),
            end: Some(PodEnd::Exited(143)),
            cause: Some(Cause::KilledExitCode(143)),
            finished: Some(9),
            ..failed.clone()
        };
        let Decision::Finish(outcome) = decide(&[stopped.clone(), failed.clone()], left(2)) else {
            panic!("the permanent failure decides")
        };
        assert_eq!(outcome.status, JobStatus::Failed);
        assert!(outcome.reason.message.contains("dlcx-worker-0"));
        // The same retryable end before the permanent one is the cause: it restarts.
        let first = PodView {
            finished: Some(2),
            ..stopped
        };
        assert!(matches!(
            decide(&[first, failed], left(2)),
            Decision::Restart { now: true, .. }
        ));
    }

    #[test]
    fn a_preempted_job_is_queued_again_once_its_pods_have_ended() {
        let preempted = Reason::new("JobPreempted", "by a higher priority");
        let signals = JobSignals {
            preempted: Some(&preempted),
            ..JobSignals::default()
        };
        let running = pod(PodStatus::Running, true);
        let failed = pod(PodStatus::Failed, true);
        assert_eq!(
            decide(&[running, failed.clone()], signals),
            Decision::Requeue {
                reason: preempted.clone(),
                now: false
            }
        );
        // The pods' own failure does not count: it was stopped for the other job.
        assert_eq!(
            decide(&[failed], signals),
            Decision::Requeue {
                reason: preempted.clone(),
                now: true
            }
        );
    }

    #[test]
    fn a_stop_wins_over_a_preemption() {
        let preempted = Reason::new("JobPreempted", "by a higher priority");
        let stopped = Reason::new("JobStoppedByUser", "Job is stopped by user.");
        let signals = JobSignals {
            stopping: Some(&stopped),
            preempted: Some(&preempted),
            ..JobSignals::default()
        };
        let Decision::Finish(outcome) = decide(&[pod(PodStatus::Failed, true)], signals) else {
            panic!("a stopped job finishes once its pods have ended")
        };
        assert_eq!(outcome.status, JobStatus::Stopped);
        assert_eq!(outcome.reason, stopped);
    }

    #[test]
    fn each_source_spends_its_own_budget() {
        let lost = PodView {
            policy: RestartPolicy::OnFailure,
            exit_code: None,
            end: Some(PodEnd::Lost),
            cause: Some(Cause::Lost),
            ..pod(PodStatus::Failed, true)
        };
        let user_spent = JobSignals {
            restarts_left: Budgets {
                user: 0,
                infrastructure: 1,
            },
            ..JobSignals::default()
        };
        // A lost pod is not the user's failure: it restarts with the user's budget spent.
        assert!(matches!(
            decide(std::slice::from_ref(&lost), user_spent),
            Decision::Restart { fault, now: true } if fault.cause == Cause::Lost
        ));
        let failed = PodView {
            policy: RestartPolicy::OnFailure,
            ..pod(PodStatus::Failed, true)
        };
        assert!(matches!(
            decide(std::slice::from_ref(&failed), user_spent),
            Decision::Finish(o) if o.status == JobStatus::Failed
        ));
        let infrastructure_spent = JobSignals {
            restarts_left: Budgets {
                user: 1,
                infrastructure: 0,
            },
            ..JobSignals::default()
        };
        assert!(matches!(
            decide(&[lost], infrastructure_spent),
            Decision::Finish(o) if o.status == JobStatus::Failed
        ));
        assert!(matches!(
            decide(&[failed], infrastructure_spent),
            Decision::Restart { now: true, .. }
        ));
    }

    #[test]
    fn in_async_mode_a_failed_pod_restarts_alone_while_the_others_run() {
        let failed = PodView {
            policy: RestartPolicy::OnFailure,
            ..pod(PodStatus::Failed, true)
        };
        let running = PodView {
            pod_id: "dlcx-worker-1",
            policy: RestartPolicy::OnFailure,
            ..pod(PodStatus::Running, true)
        };
        let signals = JobSignals {
            async_pods: true,
            ..left(1)
        };
        let Decision::RestartPod(fault) = decide(&[running.clone(), failed.clone()], signals)
        else {
            panic!("the failed pod restarts at once, alone")
        };
        assert_eq!(fault.pod_id.as_deref(), Some("dlcx-worker-0"));
        assert!(fault
            .reason
            .message
            .ends_with("restarts alone (--job-execution-mode=Async)."));
        // Budget spent: the failure fails the job, and the others are stopped.
        assert!(matches!(
            decide(&[running, failed], JobSignals { async_pods: true, ..left(0) }),
            Decision::StopRemaining(o) if o.status == JobStatus::Failed
        ));
    }
}
