//! Admission and launch: what the runtime is handed, and how the job follows its pods.

use opendlc_core::env_value::EnvValue;
use opendlc_core::JobStatus;

use super::{pool, pytorch, Harness};

#[test]
fn a_job_is_queued_admitted_and_launched_as_one_gang_in_rank_order() {
    let mut h = Harness::new(pool(4));
    let job = h.submit(serde_json::json!({
        "DisplayName": "t",
        "JobType": "PyTorchJob",
        "UserCommand": "python train.py",
        "JobSpecs": [
            {"Type": "Worker", "PodCount": 2, "Image": "img",
             "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}},
            {"Type": "Master", "PodCount": 1, "Image": "img",
             "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}},
        ],
    }));
    assert_eq!(h.status(&job), JobStatus::EnvPreparing);
    let launched = h.fake.launched();
    let ids: Vec<(&str, u32)> = launched
        .iter()
        .map(|r| (r.pod_id.as_str(), r.rank))
        .collect();
    let master = format!("{job}-master-0");
    assert_eq!(
        ids,
        [
            (master.as_str(), 0),
            (format!("{job}-worker-0").as_str(), 1),
            (format!("{job}-worker-1").as_str(), 2)
        ]
    );
    // The env contract names the master's address symbolically; the runtime resolves it.
    let worker = &launched[1];
    assert_eq!(worker.env["MASTER_ADDR"], EnvValue::address_of(&master));
    assert_eq!(worker.env["RANK"], EnvValue::from("1"));
    assert_eq!(worker.steps.command, "python train.py");
    assert_eq!(worker.image.as_deref(), Some("img"));
    assert_eq!(worker.peers.len(), 3);
}

#[test]
fn the_job_runs_once_every_pod_started_and_succeeds_when_they_all_do() {
    let mut h = Harness::new(pool(4));
    let job = h.submit(pytorch(2, serde_json::json!({})));
    let pending = h.pending(&job);
    assert_eq!(pending.len(), 2);
    assert!(h.fake.start(&pending[0]));
    h.settle();
    assert_eq!(h.status(&job), JobStatus::EnvPreparing);
    assert!(h.fake.start(&pending[1]));
    h.settle();
    assert_eq!(h.status(&job), JobStatus::Running);
    h.exit_all(&job, 0);
    assert_eq!(h.status(&job), JobStatus::Succeeded);
    // Its resources are free again: a job that needs the whole pool runs.
    let big = h.submit(pytorch(4, serde_json::json!({})));
    assert_eq!(h.status(&big), JobStatus::EnvPreparing);
}

#[test]
fn a_failed_pod_stops_the_others_and_fails_the_job() {
    let mut h = Harness::new(pool(4));
    let job = h.submit(pytorch(2, serde_json::json!({})));
    h.start_all(&job);
    let pods = h.pods(&job);
    h.exit(&pods[0].pod_uid, 3);
    // The other pod is asked to stop; the job ends once it has.
    assert_eq!(h.fake.stopped(), [pods[1].pod_uid.clone()]);
    assert_ne!(h.status(&job), JobStatus::Failed);
    h.fake.kill(&pods[1].pod_uid, 15);
    h.settle();
    assert_eq!(h.status(&job), JobStatus::Failed);
    let pod = &h.pods(&job)[0];
    assert_eq!(pod.exit_code, Some(3));
}

#[test]
fn a_launch_that_fails_fails_its_pod_with_the_runtimes_reason() {
    let mut h = Harness::new(pool(4));
    let job = h.submit(pytorch(1, serde_json::json!({})));
    let uid = h.pending(&job).remove(0);
    assert!(h.fake.fail_start(&uid, "ImagePullBackOff: no such image"));
    h.settle();
    assert_eq!(h.status(&job), JobStatus::Failed);
    let pod = &h.pods(&job)[0];
    assert!(
        pod.reason.as_deref().unwrap().contains("ImagePullBackOff"),
        "{pod:?}"
    );
}

#[test]
fn an_exit_reported_before_its_launch_waits_for_it() {
    let mut h = Harness::new(pool(4));
    let job = h.submit(pytorch(1, serde_json::json!({})));
    let uid = h.pending(&job).remove(0);
    // The pod's end overtakes the report of its start (two channels, no order between them).
    h.fake.exit(&uid, 0);
    h.settle();
    assert_eq!(h.status(&job), JobStatus::EnvPreparing);
    assert!(h.fake.start(&uid));
    h.settle();
    assert_eq!(h.status(&job), JobStatus::Succeeded);
    assert!(h.pods(&job)[0].started.is_some());
}

#[test]
fn a_job_that_does_not_fit_waits_and_says_why() {
    let mut h = Harness::new(pool(2));
    let first = h.submit(pytorch(2, serde_json::json!({})));
    let second = h.submit(pytorch(1, serde_json::json!({})));
    assert_eq!(h.status(&second), JobStatus::Queuing);
    let wait = h.engine_wait(&second).expect("a queued job has a wait");
    assert!(wait.message().contains("CPU"), "{}", wait.message());
    h.start_all(&first);
    h.exit_all(&first, 0);
    assert_eq!(h.status(&second), JobStatus::EnvPreparing);
}

#[test]
fn gpus_are_assigned_disjointly_and_given_back() {
    let mut capacity = pool(8);
    capacity.pool.gpu = 2;
    let mut h = Harness::new(capacity);
    let gpu_job = |h: &mut Harness| {
        h.submit(serde_json::json!({
            "DisplayName": "g",
            "JobType": "PyTorchJob",
            "UserCommand": "true",
            "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "img",
                          "ResourceConfig": {"CPU": "1", "Memory": "1Gi", "GPU": "1"}}],
        }))
    };
    let a = gpu_job(&mut h);
    let b = gpu_job(&mut h);
    let launched = h.fake.launched();
    assert_eq!(launched.len(), 2);
    assert_ne!(launched[0].gpus, launched[1].gpus);
    let c = gpu_job(&mut h);
    assert_eq!(h.status(&c), JobStatus::Queuing);
    h.start_all(&a);
    h.exit_all(&a, 0);
    assert_eq!(h.status(&c), JobStatus::EnvPreparing);
    let third = h.fake.launched().pop().unwrap();
    assert_eq!(third.gpus, launched[0].gpus);
    let _ = b;
}
