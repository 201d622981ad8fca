//! Priorities and preemption: a higher-priority job takes a preemptible one's place.

use opendlc_core::JobStatus;

use super::{pool, pytorch, Harness};

#[test]
fn a_higher_priority_job_preempts_and_the_victim_is_queued_again() {
    let mut h = Harness::new(pool(2));
    let low = h.submit(pytorch(2, serde_json::json!({"Priority": 1})));
    h.start_all(&low);
    assert_eq!(h.status(&low), JobStatus::Running);
    let high = h.submit(pytorch(2, serde_json::json!({"Priority": 9})));
    // The victim's pods are asked to stop; the newcomer waits for the room.
    assert_eq!(h.fake.stopped().len(), 2);
    assert_eq!(h.status(&high), JobStatus::Queuing);
    h.exit_all(&low, 143);
    assert_eq!(h.status(&high), JobStatus::EnvPreparing);
    assert_eq!(h.status(&low), JobStatus::Queuing);
    assert_eq!(h.job(&low).reason.unwrap().code, "JobPreempted");
    // A preemption is not a restart.
    assert_eq!(h.job(&low).restart_count, 0);
    assert!(h
        .events(&low)
        .iter()
        .any(|e| e.contains("Preempted by job")));
    // Once the room is free again, the victim runs again, with new pods.
    h.start_all(&high);
    h.exit_all(&high, 0);
    assert_eq!(h.status(&low), JobStatus::EnvPreparing);
    assert_eq!(h.fake.launched().len(), 6);
}

#[test]
fn a_job_tagged_not_preemptible_is_left_alone() {
    let mut h = Harness::new(pool(2));
    let low = h.submit(pytorch(
        2,
        serde_json::json!({"Priority": 1, "Settings": {"Tags": {"preemptible": "false"}}}),
    ));
    h.start_all(&low);
    let high = h.submit(pytorch(2, serde_json::json!({"Priority": 9})));
    assert!(h.fake.stopped().is_empty());
    assert_eq!(h.status(&high), JobStatus::Queuing);
}

#[test]
fn equal_priorities_never_preempt() {
    let mut h = Harness::new(pool(2));
    let first = h.submit(pytorch(2, serde_json::json!({"Priority": 5})));
    h.start_all(&first);
    let second = h.submit(pytorch(2, serde_json::json!({"Priority": 5})));
    assert!(h.fake.stopped().is_empty());
    assert_eq!(h.status(&second), JobStatus::Queuing);
}

#[test]
fn without_preemption_a_high_priority_job_waits() {
    let mut capacity = pool(2);
    capacity.preemption = false;
    let mut h = Harness::new(capacity);
    let low = h.submit(pytorch(2, serde_json::json!({"Priority": 1})));
    h.start_all(&low);
    let high = h.submit(pytorch(2, serde_json::json!({"Priority": 9})));
    assert!(h.fake.stopped().is_empty());
    assert_eq!(h.status(&high), JobStatus::Queuing);
}

#[test]
fn a_higher_priority_job_goes_first_in_the_queue() {
    let mut h = Harness::new(pool(1));
    let running = h.submit(pytorch(1, serde_json::json!({"Priority": 9})));
    let low = h.submit(pytorch(1, serde_json::json!({"Priority": 1})));
    let high = h.submit(pytorch(1, serde_json::json!({"Priority": 8})));
    h.start_all(&running);
    h.exit_all(&running, 0);
    assert_eq!(h.status(&high), JobStatus::EnvPreparing);
    assert_eq!(h.status(&low), JobStatus::Queuing);
}

#[test]
fn a_job_stopped_while_it_is_preempted_ends_stopped_and_is_not_queued_again() {
    let mut h = Harness::new(pool(2));
    let low = h.submit(pytorch(2, serde_json::json!({"Priority": 1})));
    h.start_all(&low);
    let high = h.submit(pytorch(2, serde_json::json!({"Priority": 9})));
    assert_eq!(h.fake.stopped().len(), 2);
    h.stop(&low).unwrap();
    assert_eq!(h.status(&low), JobStatus::Stopping);
    h.exit_all(&low, 143);
    assert_eq!(h.status(&low), JobStatus::Stopped);
    assert_eq!(h.job(&low).reason.unwrap().code, "JobStoppedByUser");
    assert_eq!(h.status(&high), JobStatus::EnvPreparing);
}

#[test]
fn a_running_jobs_new_priority_counts_for_preemption() {
    let mut h = Harness::new(pool(2));
    let running = h.submit(pytorch(2, serde_json::json!({"Priority": 1})));
    h.start_all(&running);
    // UpdateJob raises it above what comes next: the newcomer no longer preempts it.
    let mut job = h.job(&running);
    job.priority = 9;
    h.engine.update(job, false).unwrap();
    h.settle();
    let newcomer = h.submit(pytorch(2, serde_json::json!({"Priority": 5})));
    assert!(h.fake.stopped().is_empty());
    assert_eq!(h.status(&newcomer), JobStatus::Queuing);
    assert_eq!(h.status(&running), JobStatus::Running);
}
