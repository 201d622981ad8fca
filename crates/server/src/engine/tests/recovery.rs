//! A server restart: what an earlier server left is taken over, nothing runs twice.

use opendlc_core::JobStatus;

use super::{pool, pytorch, Harness};

#[test]
fn running_pods_are_watched_again_and_their_end_finishes_the_job() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(2, serde_json::json!({})));
    h.start_all(&id);
    let mut h = h.restart_server();
    // Nothing is launched again: the pods are re-attached.
    assert!(h.fake.launched().is_empty());
    assert_eq!(h.status(&id), JobStatus::Running);
    h.exit_all(&id, 0);
    assert_eq!(h.status(&id), JobStatus::Succeeded);
}

/// The server died after the pod's shim started the command but before it heard so: the new
/// server takes the start the runtime found, and the job is Running (not left EnvPreparing).
#[test]
fn a_start_the_earlier_server_never_heard_of_is_recorded_after_the_restart() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(1, serde_json::json!({})));
    let pending = h.pending(&id);
    assert_eq!(h.status(&id), JobStatus::EnvPreparing);
    let mut h = h.restart_server_after_unheard_starts(pending);
    assert!(h.fake.launched().is_empty());
    assert_eq!(h.status(&id), JobStatus::Running);
    let pod = &h.pods(&id)[0];
    assert_eq!(pod.node_name.as_deref(), Some("fake-node"));
    assert!(pod.started.is_some());
    h.exit_all(&id, 0);
    assert_eq!(h.status(&id), JobStatus::Succeeded);
}

#[test]
fn pods_never_launched_are_launched_after_the_restart() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(2, serde_json::json!({})));
    let mut h = h.restart_server();
    assert_eq!(h.fake.launched().len(), 2);
    h.start_all(&id);
    assert_eq!(h.status(&id), JobStatus::Running);
}

/// A job stored by a server that left new jobs Creating for its engine to queue.
#[test]
fn a_job_left_creating_is_queued_and_started_after_the_restart() {
    let mut h = Harness::new(pool(4));
    let id = h.store_creating(pytorch(1, serde_json::json!({})));
    assert_eq!(h.status(&id), JobStatus::Creating);
    let mut h = h.restart_server();
    assert_eq!(h.status(&id), JobStatus::EnvPreparing);
    let history: Vec<_> = h
        .store
        .status_history(&id)
        .unwrap()
        .into_iter()
        .map(|p| p.status)
        .collect();
    assert_eq!(
        history,
        [
            JobStatus::Creating,
            JobStatus::Queuing,
            JobStatus::EnvPreparing
        ]
    );
    h.start_all(&id);
    assert_eq!(h.status(&id), JobStatus::Running);
}

#[test]
fn queued_jobs_are_queued_again_and_keep_their_order() {
    let mut h = Harness::new(pool(1));
    let running = h.submit(pytorch(1, serde_json::json!({})));
    let a = h.submit(pytorch(1, serde_json::json!({})));
    let b = h.submit(pytorch(1, serde_json::json!({})));
    h.start_all(&running);
    let mut h = h.restart_server();
    assert_eq!(h.status(&a), JobStatus::Queuing);
    assert_eq!(h.status(&b), JobStatus::Queuing);
    h.exit_all(&running, 0);
    assert_eq!(h.status(&a), JobStatus::EnvPreparing);
    assert_eq!(h.status(&b), JobStatus::Queuing);
}

#[test]
fn a_stopping_job_is_stopped_after_the_restart_and_its_unstarted_pods_never_run() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(2, serde_json::json!({})));
    let pending = h.pending(&id);
    assert!(h.fake.start(&pending[0]));
    h.settle();
    h.stop(&id).unwrap();
    assert_eq!(h.status(&id), JobStatus::Stopping);
    let mut h = h.restart_server();
    // The started pod is stopped again; the other one is never launched.
    assert!(h.fake.launched().is_empty());
    assert_eq!(h.fake.stopped(), [pending[0].clone()]);
    h.fake.kill(&pending[0], 15);
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Stopped);
}

#[test]
fn resources_of_recovered_jobs_are_accounted() {
    let mut h = Harness::new(pool(2));
    let id = h.submit(pytorch(2, serde_json::json!({})));
    h.start_all(&id);
    let mut h = h.restart_server();
    let next = h.submit(pytorch(1, serde_json::json!({})));
    assert_eq!(
        h.status(&next),
        JobStatus::Queuing,
        "the pool is still full"
    );
    h.exit_all(&id, 0);
    assert_eq!(h.status(&next), JobStatus::EnvPreparing);
}
