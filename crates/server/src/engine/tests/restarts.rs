//! Restart policies and the job's restart budget.

use opendlc_core::JobStatus;

use super::{pool, Harness};

/// One worker with `policy`, and `--max-num-of-job-restart=budget`.
fn job(policy: &str, budget: u32) -> serde_json::Value {
    serde_json::json!({
        "DisplayName": "r",
        "JobType": "PyTorchJob",
        "UserCommand": "train",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "img", "RestartPolicy": policy,
                      "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}}],
        "Settings": {"ErrorMonitoringArgs": format!("--max-num-of-job-restart={budget}")},
    })
}

#[test]
fn on_failure_restarts_the_gang_with_new_incarnations_until_the_budget_is_spent() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(job("OnFailure", 2));
    h.start_all(&id);
    let first = h.pods(&id)[0].pod_uid.clone();
    h.exit(&first, 1);
    assert_eq!(h.status(&id), JobStatus::Restarting);
    let second = h.pods(&id)[0].pod_uid.clone();
    assert_ne!(first, second, "a restart is a new incarnation");
    assert_eq!(h.job(&id).restart_count, 1);
    h.start_all(&id);
    assert_eq!(h.status(&id), JobStatus::Running);
    h.exit_all(&id, 1);
    h.start_all(&id);
    assert_eq!(h.job(&id).restart_count, 2);
    // The budget is spent: the next failure fails the job.
    h.exit_all(&id, 1);
    assert_eq!(h.status(&id), JobStatus::Failed);
    assert_eq!(h.fake.launched().len(), 3);
}

#[test]
fn never_fails_at_the_first_failure() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(job("Never", 3));
    h.start_all(&id);
    h.exit_all(&id, 1);
    assert_eq!(h.status(&id), JobStatus::Failed);
    assert_eq!(h.fake.launched().len(), 1);
}

#[test]
fn exit_code_restarts_only_retryable_codes() {
    let mut h = Harness::new(pool(4));
    let retried = h.submit(job("ExitCode", 3));
    h.start_all(&retried);
    h.exit_all(&retried, 137);
    assert_eq!(h.status(&retried), JobStatus::Restarting);

    let permanent = h.submit(job("ExitCode", 3));
    h.start_all(&permanent);
    h.exit_all(&permanent, 2);
    assert_eq!(h.status(&permanent), JobStatus::Failed);
}

#[test]
fn a_lost_pod_counts_as_a_retryable_end() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(job("ExitCode", 3));
    h.start_all(&id);
    let uid = h.pods(&id)[0].pod_uid.clone();
    h.fake.lose(&uid, "the shim was killed");
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Restarting);
    let old = h
        .store
        .pods(&id)
        .unwrap()
        .into_iter()
        .find(|p| p.pod_uid == uid)
        .unwrap();
    assert!(old.reason.unwrap().contains("was lost"));
}

#[test]
fn always_restarts_even_after_success() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(job("Always", 1));
    h.start_all(&id);
    h.exit_all(&id, 0);
    assert_eq!(h.status(&id), JobStatus::Restarting);
    h.start_all(&id);
    h.exit_all(&id, 0);
    // Out of budget, the last end decides: it succeeded.
    assert_eq!(h.status(&id), JobStatus::Succeeded);
}

#[test]
fn a_stop_while_restarting_stops_the_new_incarnation_and_does_not_restart_again() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(job("OnFailure", 3));
    h.start_all(&id);
    h.exit_all(&id, 1);
    assert_eq!(h.status(&id), JobStatus::Restarting);
    // StopJob races the restart: the new pod's launch is still pending.
    h.stop(&id).unwrap();
    let new = h.pods(&id)[0].pod_uid.clone();
    assert!(h.fake.start(&new));
    h.settle();
    assert!(
        h.fake.stopped().contains(&new),
        "the new pod is stopped once it starts"
    );
    h.fake.kill(&new, 15);
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Stopped);
    assert_eq!(h.fake.launched().len(), 2);
}
