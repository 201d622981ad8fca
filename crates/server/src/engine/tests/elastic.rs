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

impl Harness {
    /// UpdateJob with `body`, as the handler applies it.
    fn update(&mut self, job_id: &str, body: serde_json::Value) -> Result<(), String> {
        let mut job = self.job(job_id);
        let req = serde_json::from_value(body).unwrap();
        let pool = opendlc_core::Resources::new(1 << 40, 1 << 40, 0);
        opendlc_core::submission::apply_update(
            &mut job,
            &req,
            pool,
            &Default::default(),
            &[],
            None,
        )
        .map_err(|e| e.to_string())?;
        let result = self
            .engine
            .update(job, true)
            .map(|_| ())
            .map_err(|e| e.to_string());
        self.settle();
        result
    }
}

#[test]
fn update_job_resizes_a_running_elastic_job() {
    let mut h = Harness::new(pool(8));
    let id = h.submit(elastic(1, 4));
    h.start_all(&id);
    h.tick();
    h.start_all(&id);
    assert_eq!(pod_ids(&h, &id).len(), 4);
    let specs = |count: u32, delete: &[String]| {
        json!({"JobSpecs": [{"Type": "Worker", "PodCount": count, "Image": "img",
                             "ResourceConfig": {"CPU": "1", "Memory": "1Gi"},
                             "AutoScalingSpec": {"PodsToDelete": delete}}],
               "ElasticSpec": {"EnableElasticTraining": true,
                               "MinParallelism": 1, "MaxParallelism": 4}})
    };
    // Down to 2: the named pod first, then the highest.
    let named = format!("{id}-worker-1");
    h.update(&id, specs(2, std::slice::from_ref(&named)))
        .unwrap();
    let pods = h.pods(&id);
    let stopped: Vec<String> = h
        .fake
        .stopped()
        .iter()
        .map(|uid| {
            pods.iter()
                .find(|p| &p.pod_uid == uid)
                .unwrap()
                .pod_id
                .clone()
        })
        .collect();
    assert_eq!(stopped, [named.clone(), format!("{id}-worker-3")]);
    for pod in pods
        .iter()
        .filter(|p| h.fake.stopped().contains(&p.pod_uid))
    {
        h.fake.kill(&pod.pod_uid, 15);
    }
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Running, "leaving is not failing");
    assert_eq!(
        pod_ids(&h, &id),
        [format!("{id}-worker-0"), format!("{id}-worker-2")]
    );
    assert_eq!(h.job(&id).roles[0].elastic.unwrap().target, 2);
    // Up to 3 again: the lowest free index.
    h.update(&id, specs(3, &[])).unwrap();
    assert_eq!(pod_ids(&h, &id).len(), 3);
    assert!(pod_ids(&h, &id).contains(&named));
    // Outside the range, the rank-0 pod, or another change: refused, naming the field.
    let err = h.update(&id, specs(5, &[])).unwrap_err();
    assert!(err.contains("JobSpecs[0].PodCount"), "{err}");
    let err = h
        .update(&id, specs(2, &[format!("{id}-worker-0")]))
        .unwrap_err();
    assert!(err.contains("PodsToDelete"), "{err}");
    let mut other = specs(3, &[]);
    other["JobSpecs"][0]["ResourceConfig"]["CPU"] = json!("2");
    let err = h.update(&id, other).unwrap_err();
    assert!(
        err.contains("changes only its elastic role's PodCount"),
        "{err}"
    );
}

#[test]
fn a_waiting_job_takes_back_an_elastic_jobs_extra_pods_and_the_job_grows_again_later() {
    let mut capacity = pool(4);
    capacity.preemption = false;
    let mut h = Harness::new(capacity);
    let id = h.submit(elastic(1, 3));
    h.start_all(&id);
    h.tick();
    h.start_all(&id);
    assert_eq!(pod_ids(&h, &id).len(), 3);
    // A job of 2 CPUs: one free, one of the elastic job's extra pods (the highest) must go.
    let normal = h.submit(pytorch(2, json!({})));
    let pods = h.pods(&id);
    assert_eq!(h.fake.stopped(), std::slice::from_ref(&pods[2].pod_uid));
    assert_eq!(h.status(&normal), JobStatus::Queuing);
    assert!(h
        .events(&id)
        .iter()
        .any(|e| e.starts_with(&format!("Job {normal} needs the room of 1 pod(s)"))));
    h.fake.kill(&pods[2].pod_uid, 15);
    h.settle();
    assert_eq!(
        h.status(&id),
        JobStatus::Running,
        "giving pods back is not failing"
    );
    assert_eq!(h.status(&normal), JobStatus::EnvPreparing);
    assert_eq!(pod_ids(&h, &id).len(), 2);
    // Once the room is spare again, the elastic job grows back to its target.
    h.start_all(&normal);
    h.exit_all(&normal, 0);
    assert_eq!(pod_ids(&h, &id).len(), 3);
}
