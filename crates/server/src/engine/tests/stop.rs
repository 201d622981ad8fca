//! StopJob: queued jobs at once, running ones once their pods have ended.

use std::time::Duration;

use opendlc_core::JobStatus;

use super::{pool, pytorch, Harness};

#[test]
fn a_queued_job_stops_at_once() {
    let mut h = Harness::new(pool(1));
    let running = h.submit(pytorch(1, serde_json::json!({})));
    let queued = h.submit(pytorch(1, serde_json::json!({})));
    assert_eq!(h.status(&queued), JobStatus::Queuing);
    let job = h.stop(&queued).unwrap();
    assert_eq!(job.status, JobStatus::Stopped);
    assert_eq!(h.status(&running), JobStatus::EnvPreparing);
    assert_eq!(h.fake.launched().len(), 1);
}

#[test]
fn a_running_job_is_stopping_until_its_pods_end() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(2, serde_json::json!({})));
    h.start_all(&id);
    let job = h.stop(&id).unwrap();
    assert_eq!(job.status, JobStatus::Stopping);
    let uids: Vec<String> = h.pods(&id).into_iter().map(|p| p.pod_uid).collect();
    assert_eq!(h.fake.stopped(), uids);
    // Stopping twice is harmless.
    assert_eq!(h.stop(&id).unwrap().status, JobStatus::Stopping);
    for uid in &uids {
        h.fake.kill(uid, 15);
    }
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Stopped);
    assert_eq!(h.job(&id).reason.unwrap().code, "JobStoppedByUser");
}

#[test]
fn a_pod_that_starts_after_the_stop_is_stopped_as_it_starts() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(1, serde_json::json!({})));
    let uid = h.pending(&id).remove(0);
    h.stop(&id).unwrap();
    assert!(h.fake.stopped().is_empty() || h.fake.stopped() == [uid.clone()]);
    assert!(h.fake.start(&uid));
    h.settle();
    assert!(h.fake.stopped().contains(&uid));
    h.fake.kill(&uid, 15);
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Stopped);
}

#[test]
fn an_ended_job_cannot_be_stopped() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(1, serde_json::json!({})));
    h.start_all(&id);
    h.exit_all(&id, 0);
    let err = h.stop(&id).unwrap_err();
    assert!(err.to_string().contains("Succeeded"), "{err}");
}

#[test]
fn a_deadline_stops_the_job() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(
        1,
        serde_json::json!({"JobMaxRunningTimeMinutes": 1}),
    ));
    h.start_all(&id);
    // A minute passes.
    h.clock.advance(Duration::from_secs(59));
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Running);
    h.clock.advance(Duration::from_secs(1));
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Stopping);
    let uid = h.pods(&id)[0].pod_uid.clone();
    h.fake.kill(&uid, 15);
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Stopped);
    assert_eq!(h.job(&id).reason.unwrap().code, "JobExceededMaxRunningTime");
}
