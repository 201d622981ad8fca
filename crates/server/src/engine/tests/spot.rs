//! Spot jobs: spare capacity only, `Bidding` while there is none, evicted first.

use opendlc_core::JobStatus;
use serde_json::json;

use super::{pool, pytorch, Harness};

/// A PyTorchJob of `workers` one-CPU workers on spot capacity, with `policy`.
fn spot(workers: u32, policy: &str) -> serde_json::Value {
    let mut body = pytorch(workers, json!({}));
    body["JobSpecs"][0]["SpotSpec"] = json!({"SpotStrategy": "SpotWithPriceLimit"});
    body["JobSpecs"][0]["RestartPolicy"] = json!(policy);
    body
}

#[test]
fn a_spot_job_bids_until_spare_capacity_and_a_normal_job_evicts_it() {
    let mut capacity = pool(2);
    capacity.preemption = false;
    let mut h = Harness::new(capacity);
    let normal = h.submit(pytorch(2, json!({})));
    h.start_all(&normal);
    let cheap = h.submit(spot(1, "OnFailure"));
    assert_eq!(h.status(&cheap), JobStatus::Bidding);
    let wait = h.engine_wait(&cheap).unwrap();
    assert_eq!(wait.blocker.reason_code(), "JobBidding");
    assert_eq!(h.job(&cheap).reason.unwrap().code, "JobBidding");
    // Capacity frees: the spot job takes it.
    h.exit_all(&normal, 0);
    assert_eq!(h.status(&cheap), JobStatus::EnvPreparing);
    h.start_all(&cheap);
    assert_eq!(h.status(&cheap), JobStatus::Running);
    // A normal job of any priority needs the room: the spot job is evicted (preemption is
    // off), and waits for spare capacity again.
    let needy = h.submit(pytorch(2, json!({"Priority": 1})));
    let pod = h.pods(&cheap)[0].clone();
    assert_eq!(h.fake.stopped(), std::slice::from_ref(&pod.pod_uid));
    h.fake.kill(&pod.pod_uid, 15);
    h.settle();
    assert_eq!(h.status(&needy), JobStatus::EnvPreparing);
    assert_eq!(h.status(&cheap), JobStatus::Bidding);
    let job = h.job(&cheap);
    let reason = job.reason.unwrap();
    assert_eq!(reason.code, "JobEvicted");
    assert!(
        reason
            .message
            .starts_with(&format!("Evicted for job {needy}")),
        "{}",
        reason.message
    );
    assert_eq!(job.restart_count, 0, "an eviction is not a restart");
    let ended = h
        .store
        .pods(&cheap)
        .unwrap()
        .into_iter()
        .find(|p| p.pod_uid == pod.pod_uid)
        .unwrap();
    assert!(
        ended
            .reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("Evicted: "),
        "the pod's SubStatus is Evicted: {:?}",
        ended.reason
    );
    // It comes back once the normal job is done.
    h.start_all(&needy);
    h.exit_all(&needy, 0);
    assert_eq!(h.status(&cheap), JobStatus::EnvPreparing);
}

#[test]
fn an_evicted_spot_job_that_restarts_nothing_fails() {
    let mut h = Harness::new(pool(2));
    let cheap = h.submit(spot(2, "Never"));
    h.start_all(&cheap);
    let normal = h.submit(pytorch(1, json!({})));
    for pod in h.pods(&cheap) {
        h.fake.kill(&pod.pod_uid, 15);
    }
    h.settle();
    assert_eq!(h.status(&cheap), JobStatus::Failed);
    let reason = h.job(&cheap).reason.unwrap();
    assert_eq!(reason.code, "JobEvicted");
    assert!(reason
        .message
        .ends_with("it fails: its RestartPolicy is Never."));
    assert_eq!(h.status(&normal), JobStatus::EnvPreparing);
}

#[test]
fn spot_jobs_never_hold_back_or_evict_one_another() {
    let mut h = Harness::new(pool(2));
    let first = h.submit(spot(2, "OnFailure"));
    h.start_all(&first);
    let second = h.submit(spot(1, "OnFailure"));
    assert!(h.fake.stopped().is_empty());
    assert_eq!(h.status(&second), JobStatus::Bidding);
}
