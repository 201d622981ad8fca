//! Hang detection (`--enable-job-hang-detection`): a running job whose pods wrote no log
//! output for the hang interval restarts while its budget lasts, then fails.

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
