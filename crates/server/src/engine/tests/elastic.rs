//! Elastic jobs: admitted at their minimum, growing while capacity is free and nothing waits,
//! shrinking instead of failing while above their minimum.

use opendlc_core::JobStatus;
use serde_json::json;

use super::{pool, pytorch, Harness};

/// Workers from `min` to `max`, one CPU each.
fn elastic(min: u32, max: u32) -> serde_json::Value {
    pytorch(
        max,
        json!({"ElasticSpec": {"EnableElasticTraining": true,
                               "MinParallelism": min, "MaxParallelism": max}}),
    )
}

fn pod_ids(h: &Harness, job_id: &str) -> Vec<String> {
    h.pods(job_id).into_iter().map(|p| p.pod_id).collect()
}

#[test]
fn an_elastic_job_starts_with_what_fits_and_grows_when_a_blocker_ends() {
    let mut h = Harness::new(pool(3));
    let blocker = h.submit(pytorch(2, json!({})));
    h.start_all(&blocker);
    let id = h.submit(elastic(1, 3));
    assert_eq!(h.status(&id), JobStatus::EnvPreparing, "its minimum fits");
    h.start_all(&id);
    assert_eq!(pod_ids(&h, &id).len(), 1);
    // The elastic job runs its minimum: nothing is free to grow into.
    h.tick();
    assert_eq!(pod_ids(&h, &id).len(), 1);
    h.exit_all(&blocker, 0);
    assert_eq!(
        pod_ids(&h, &id),
        [
            format!("{id}-worker-0"),
            format!("{id}-worker-1"),
            format!("{id}-worker-2")
        ]
    );
    h.start_all(&id);
    assert_eq!(h.status(&id), JobStatus::Running);
    assert_eq!(h.job(&id).roles[0].pod_count, 3);
    let grew: Vec<String> = h
        .events(&id)
        .into_iter()
        .filter(|e| e.contains("joins: the job grows to"))
        .collect();
    assert_eq!(grew.len(), 2, "an event per pod: {grew:?}");
    // The new pods are in the elastic rendezvous.
    let last = h.fake.launched().last().unwrap().clone();
    assert_eq!(last.env["PET_NNODES"].to_string(), "1:3");
    assert!(last.env["PET_RDZV_CONF"]
        .to_string()
        .starts_with("is_host=false,"));
}

#[test]
fn an_elastic_job_does_not_grow_while_another_job_waits() {
    let mut h = Harness::new(pool(3));
    let blocker = h.submit(pytorch(2, json!({})));
    h.start_all(&blocker);
    let id = h.submit(elastic(1, 3));
    h.start_all(&id);
    // A job that needs the blocker's room waits for it; freed, it goes to that job first.
    let waiting = h.submit(pytorch(2, json!({})));
    assert_eq!(h.status(&waiting), JobStatus::Queuing);
    h.exit_all(&blocker, 0);
    assert_eq!(h.status(&waiting), JobStatus::EnvPreparing);
    assert_eq!(pod_ids(&h, &id).len(), 1);
}

#[test]
fn a_failed_worker_leaves_while_the_job_stays_above_its_minimum() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(elastic(2, 3));
    h.start_all(&id);
    h.tick();
    h.start_all(&id);
    assert_eq!(pod_ids(&h, &id).len(), 3);
    let pods = h.pods(&id);
    h.exit(&pods[1].pod_uid, 1);
    assert_eq!(
        h.status(&id),
        JobStatus::Running,
        "it shrinks instead of failing"
    );
    assert_eq!(
        pod_ids(&h, &id),
        [format!("{id}-worker-0"), format!("{id}-worker-2")]
    );
    let job = h.job(&id);
    assert_eq!(job.roles[0].pod_count, 2);
    assert_eq!(
        job.roles[0].elastic.unwrap().target,
        2,
        "it does not grow back"
    );
    assert!(h.fake.stopped().is_empty(), "its other pods run on");
    assert!(h
        .events(&id)
        .iter()
        .any(|e| e.contains("left (exited with code 1): the job shrinks to 2")));
    // At its minimum, a failure fails the job.
    h.exit(&pods[2].pod_uid, 1);
    assert!(h.fake.stopped().contains(&pods[0].pod_uid));
    h.exit(&pods[0].pod_uid, 143);
    assert_eq!(h.status(&id), JobStatus::Failed);
}

#[test]
fn the_rank_zero_pod_never_leaves() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(elastic(1, 2));
    h.start_all(&id);
    h.tick();
    h.start_all(&id);
    let pods = h.pods(&id);
    assert_eq!(pods.len(), 2);
    h.exit(&pods[0].pod_uid, 1);
    // It hosts the rendezvous: its failure fails the job.
    assert!(h.fake.stopped().contains(&pods[1].pod_uid));
}
