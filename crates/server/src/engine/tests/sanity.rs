//! Sanity check rounds: the job is SanityChecking from the moment all its pods started until
//! every pod's results are in; it then runs, or fails with the phases' messages, or fails as
//! timed out when results do not come. The fake runtime runs no checker: each test writes the
//! results a pod's checker would.

use std::time::Duration;

use opendlc_core::sanity::{Phase, PhaseResult, PEERS_ENV};
use opendlc_core::JobStatus;

use super::{pool, pytorch, Harness};
use crate::engine::sanity::RESULTS_FILE;

/// Two workers checked with `args` before they run.
fn checked(args: &str) -> serde_json::Value {
    pytorch(
        2,
        serde_json::json!({"Settings": {"EnableSanityCheck": true, "SanityCheckArgs": args}}),
    )
}

impl Harness {
    /// Pod `pod_uid`'s checker reports `passed` for `phase`.
    fn check_result(&self, job_id: &str, pod_uid: &str, phase: Phase, passed: bool) {
        let now = self.clock_now();
        let results = [PhaseResult {
            phase,
            passed,
            message: if passed {
                "ok"
            } else {
                "mount /data is missing"
            }
            .to_string(),
            started: now,
            finished: now,
        }];
        let file = self.engine.pod_dir(job_id, pod_uid).join(RESULTS_FILE);
        std::fs::write(file, serde_json::to_vec(&results).unwrap()).unwrap();
    }

    fn clock_now(&self) -> i64 {
        opendlc_core::time::Clock::now(&self.clock)
    }

    /// The job's stored round records: (CheckNumber, phase, status).
    fn rounds(&self, job_id: &str) -> Vec<(u32, String, String)> {
        self.store
            .sanity_results(job_id)
            .unwrap()
            .into_iter()
            .map(|r| (r.check_number, r.phase, r.status))
            .collect()
    }
}

const ONE_PHASE: &str = "--sanity-check-phases=CheckInit --sanity-check-timeout=60";

#[test]
fn a_round_that_passes_lets_the_job_run() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(checked(ONE_PHASE));
    assert!(h.fake.launched().iter().all(|r| r.steps.sanity.is_some()));
    // The checker reaches its peers at addresses the runtime fills in, by rank.
    let job = h.job(&id);
    let peers = &h.fake.launched()[0].env[PEERS_ENV];
    let resolved = peers.resolve(|pod| format!("<{pod}>"));
    assert_eq!(
        resolved,
        format!(
            "<{id}-worker-0>:{},<{id}-worker-1>:{}",
            job.ports[0], job.ports[1]
        )
    );
    assert_eq!(h.rounds(&id), [(1, "CheckInit".into(), "Running".into())]);
    h.start_all(&id);
    assert_eq!(h.status(&id), JobStatus::SanityChecking);
    let pods = h.pods(&id);
    h.check_result(&id, &pods[0].pod_uid, Phase::CheckInit, true);
    h.tick();
    // One pod's results are not a round's.
    assert_eq!(h.status(&id), JobStatus::SanityChecking);
    h.check_result(&id, &pods[1].pod_uid, Phase::CheckInit, true);
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Running);
    assert_eq!(h.rounds(&id), [(1, "CheckInit".into(), "Succeeded".into())]);
}

#[test]
fn a_failed_check_fails_the_job_with_its_message_and_no_restart() {
    let mut h = Harness::new(pool(4));
    let mut body = checked(ONE_PHASE);
    body["JobSpecs"][0]["RestartPolicy"] = "OnFailure".into();
    let id = h.submit(body);
    h.start_all(&id);
    let pods = h.pods(&id);
    // One failure decides at once: the other pod's results are not awaited.
    h.check_result(&id, &pods[1].pod_uid, Phase::CheckInit, false);
    h.tick();
    assert_eq!(h.fake.stopped().len(), 2);
    h.exit_all(&id, 143);
    assert_eq!(h.status(&id), JobStatus::Failed);
    let reason = h.job(&id).reason.unwrap();
    assert_eq!(reason.code, "SanityCheckFailed");
    assert!(
        reason.message.contains("mount /data is missing"),
        "{reason:?}"
    );
    assert_eq!(h.job(&id).restart_count, 0);
    assert_eq!(h.rounds(&id), [(1, "CheckInit".into(), "Failed".into())]);
}

#[test]
fn a_failed_check_with_continue_job_lets_the_job_run() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(checked(&format!(
        "{ONE_PHASE} --sanity-check-failure-ops=ContinueJob"
    )));
    h.start_all(&id);
    for pod in h.pods(&id) {
        h.check_result(&id, &pod.pod_uid, Phase::CheckInit, false);
    }
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Running);
    assert_eq!(h.rounds(&id), [(1, "CheckInit".into(), "Failed".into())]);
}

#[test]
fn a_round_without_results_past_its_timeout_fails_as_timed_out() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(checked(ONE_PHASE));
    h.start_all(&id);
    let pods = h.pods(&id);
    h.check_result(&id, &pods[0].pod_uid, Phase::CheckInit, true);
    // The timeout (60 s) and the engine's grace (30 s) have not passed yet.
    h.clock.advance(Duration::from_secs(90));
    h.tick();
    assert_eq!(h.status(&id), JobStatus::SanityChecking);
    h.clock.advance(Duration::from_secs(1));
    h.tick();
    h.exit_all(&id, 143);
    assert_eq!(h.status(&id), JobStatus::Failed);
    let reason = h.job(&id).reason.unwrap();
    assert_eq!(reason.code, "SanityCheckTimeout");
    assert!(reason.message.contains(&pods[1].pod_id), "{reason:?}");
}

#[test]
fn after_a_fault_the_new_incarnations_are_checked_in_a_round_of_their_own() {
    let mut h = Harness::new(pool(4));
    let mut body = checked(&format!(
        "{ONE_PHASE} --sanity-check-timing=AfterJobFaultTolerant"
    ));
    body["JobSpecs"][0]["RestartPolicy"] = "OnFailure".into();
    body["Settings"]["ErrorMonitoringArgs"] = "--max-num-of-job-restart=1".into();
    let id = h.submit(body);
    // Not before the job: its first pods run their command at once.
    assert!(h.fake.launched().iter().all(|r| r.steps.sanity.is_none()));
    h.start_all(&id);
    assert_eq!(h.status(&id), JobStatus::Running);
    h.exit_all(&id, 1);
    assert_eq!(h.status(&id), JobStatus::Restarting);
    let relaunched = &h.fake.launched()[2..];
    assert!(relaunched.iter().all(|r| r.steps.sanity.is_some()));
    h.start_all(&id);
    assert_eq!(h.status(&id), JobStatus::SanityChecking);
    for pod in h.pods(&id) {
        h.check_result(&id, &pod.pod_uid, Phase::CheckInit, true);
    }
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Running);
    assert_eq!(h.rounds(&id), [(1, "CheckInit".into(), "Succeeded".into())]);
}

#[test]
fn a_pod_that_ends_during_the_round_is_judged_by_its_results_first() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(checked(ONE_PHASE));
    h.start_all(&id);
    let pods = h.pods(&id);
    // The checker failed and the pod exited (the checker's `&&` stopped its command).
    h.check_result(&id, &pods[0].pod_uid, Phase::CheckInit, false);
    h.exit(&pods[0].pod_uid, 1);
    h.exit_all(&id, 143);
    assert_eq!(h.status(&id), JobStatus::Failed);
    assert_eq!(h.job(&id).reason.unwrap().code, "SanityCheckFailed");
}
