//! PAI's fault-tolerance monitor (`EnableErrorMonitoringInAIMaster` + `ErrorMonitoringArgs`):
//! hang detection (a running job whose pods wrote no log output for the hang interval, or
//! whose other pods ran on too long after one ended, restarts while its budget lasts, then
//! fails) and job restarts.

use std::time::Duration;

use opendlc_core::JobStatus;

use super::{pool, pytorch, Harness};

fn watched(interval_secs: u32, budget: u32) -> serde_json::Value {
    pytorch(
        1,
        serde_json::json!({"Settings": {
            "EnableErrorMonitoringInAIMaster": true,
            "ErrorMonitoringArgs": format!(
                "--enable-job-hang-detection=true --job-hang-interval={interval_secs} \
                 --max-num-of-job-restart={budget}"
            ),
        }}),
    )
}

#[test]
fn a_silent_job_restarts_then_fails_once_its_budget_is_spent() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(watched(600, 1));
    h.start_all(&id);
    // The fake's pods start on the wall clock; the engine's clock starts there too.
    h.clock.advance(Duration::from_secs(599));
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Running);
    h.clock.advance(Duration::from_secs(10));
    h.tick();
    assert_eq!(h.fake.stopped().len(), 1, "the hung pod is stopped");
    h.exit_all(&id, 143);
    assert_eq!(h.status(&id), JobStatus::Restarting);
    assert_eq!(h.job(&id).restart_count, 1);
    h.start_all(&id);
    h.clock.advance(Duration::from_secs(700));
    h.tick();
    h.exit_all(&id, 143);
    assert_eq!(h.status(&id), JobStatus::Failed);
    assert_eq!(h.job(&id).reason.unwrap().code, "JobHang");
}

#[test]
fn a_pod_that_ended_while_the_others_run_on_makes_the_job_hung() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(
        2,
        serde_json::json!({"Settings": {
            "EnableErrorMonitoringInAIMaster": true,
            "ErrorMonitoringArgs": "--enable-job-exit-hang-detection=True \
                                    --job-exit-hang-interval=60 --max-num-of-job-restart=0",
        }}),
    ));
    h.start_all(&id);
    let pods = h.pods(&id);
    // Rank 0 finishes its work; rank 1 never does.
    h.exit(&pods[0].pod_uid, 0);
    h.clock.advance(Duration::from_secs(59));
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Running);
    h.clock.advance(Duration::from_secs(10));
    h.tick();
    assert_eq!(h.fake.stopped(), vec![pods[1].pod_uid.clone()]);
    h.exit(&pods[1].pod_uid, 143);
    assert_eq!(h.status(&id), JobStatus::Failed);
    let reason = h.job(&id).reason.unwrap();
    assert_eq!(reason.code, "JobHang");
    assert!(
        reason.message.contains("exit hang detection"),
        "{}",
        reason.message
    );
}

#[test]
fn the_monitors_job_restart_restarts_a_failed_job_whose_policy_says_never() {
    let monitored = |args: &str| {
        pytorch(
            1,
            serde_json::json!({"Settings": {
                "EnableErrorMonitoringInAIMaster": true,
                "ErrorMonitoringArgs": args,
            }}),
        )
    };
    let mut h = Harness::new(pool(4));
    let restarted = h.submit(monitored(
        "--enable-job-restart=True --max-num-of-job-restart=2",
    ));
    h.start_all(&restarted);
    h.exit_all(&restarted, 1);
    assert_eq!(h.status(&restarted), JobStatus::Restarting);
    // Without the flag, the role's RestartPolicy (Never) decides.
    let failed = h.submit(monitored("--max-num-of-job-restart=2"));
    h.start_all(&failed);
    h.exit_all(&failed, 1);
    assert_eq!(h.status(&failed), JobStatus::Failed);
}
