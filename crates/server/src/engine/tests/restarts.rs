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

/// `workers` workers with `policy`, `--max-num-of-job-restart=budget` and `more` flags.
fn gang(workers: u32, policy: &str, budget: u32, more: &str) -> serde_json::Value {
    let mut body = job(policy, budget);
    body["JobSpecs"][0]["PodCount"] = workers.into();
    body["Settings"]["ErrorMonitoringArgs"] =
        format!("--max-num-of-job-restart={budget} {more}").into();
    body
}

#[test]
fn in_async_mode_a_failed_pod_restarts_alone_with_its_name_while_its_peers_run() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(gang(3, "OnFailure", 2, "--job-execution-mode=Async"));
    h.start_all(&id);
    let before = h.pods(&id);
    h.exit(&before[1].pod_uid, 1);
    assert_eq!(h.status(&id), JobStatus::Running, "the job goes on");
    let after = h.pods(&id);
    assert_eq!(
        after[0].pod_uid, before[0].pod_uid,
        "its peers keep running"
    );
    assert_eq!(after[2].pod_uid, before[2].pod_uid);
    assert_ne!(after[1].pod_uid, before[1].pod_uid, "a new incarnation");
    assert_eq!(after[1].pod_id, before[1].pod_id, "with the same name");
    assert!(
        h.fake.stopped().is_empty(),
        "no peer was stopped: {:?}",
        h.fake.stopped()
    );
    let relaunched = h.fake.launched().last().unwrap().clone();
    assert_eq!(relaunched.pod_uid, after[1].pod_uid);
    assert_eq!(relaunched.rank, 1, "with the same rank");
    assert_eq!(h.job(&id).restart_count, 1);
    let restarts = h.store.restarts(&id).unwrap();
    assert_eq!(restarts.len(), 1);
    assert_eq!(restarts[0].level, opendlc_store::RestartLevel::Pod);
    assert_eq!(
        restarts[0].pod_id.as_deref(),
        Some(before[1].pod_id.as_str())
    );
    assert!(h
        .events(&id)
        .iter()
        .any(|e| e.starts_with(&format!("Pod {} is restarting: ", before[1].pod_id))));
    // It runs again, and the job ends as its pods do.
    h.start_all(&id);
    h.exit_all(&id, 0);
    assert_eq!(h.status(&id), JobStatus::Succeeded);
}

#[test]
fn in_async_mode_the_spent_budget_fails_the_job_and_stops_the_others() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(gang(2, "OnFailure", 1, "--job-execution-mode=Async"));
    h.start_all(&id);
    let first = h.pods(&id)[0].pod_uid.clone();
    h.exit(&first, 1);
    h.start_all(&id);
    let again = h.pods(&id)[0].pod_uid.clone();
    h.exit(&again, 1);
    let other = h.pods(&id)[1].pod_uid.clone();
    assert!(h.fake.stopped().contains(&other));
    h.fake.kill(&other, 15);
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Failed);
}

#[test]
fn failures_from_outside_the_job_do_not_spend_its_budget() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(job("OnFailure", 1));
    h.start_all(&id);
    // Lost twice would spend a budget of 1 twice over; lost once and killed from outside once
    // spend the infrastructure budget, not the job's.
    let uid = h.pods(&id)[0].pod_uid.clone();
    h.fake.lose(&uid, "the shim was killed");
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Restarting);
    let job = h.job(&id);
    assert_eq!((job.restart_count, job.infra_restart_count), (0, 1));
    h.start_all(&id);
    // The job's own failure still has its budget.
    h.exit_all(&id, 1);
    assert_eq!(h.status(&id), JobStatus::Restarting);
    let job = h.job(&id);
    assert_eq!((job.restart_count, job.infra_restart_count), (1, 1));
    h.start_all(&id);
    // Both budgets spent: the next lost pod fails the job.
    let uid = h.pods(&id)[0].pod_uid.clone();
    h.fake.lose(&uid, "the shim was killed");
    h.settle();
    assert_eq!(h.status(&id), JobStatus::Failed);
    let causes: Vec<_> = h
        .store
        .restarts(&id)
        .unwrap()
        .into_iter()
        .map(|r| r.cause.map(|c| (c.code(), c.source())))
        .collect();
    use opendlc_core::restart::Source::{Infrastructure, User};
    assert_eq!(
        causes,
        [Some(("PodLost", Infrastructure)), Some(("ExitCode", User))]
    );
}

#[test]
fn a_node_where_the_job_failed_twice_is_kept_out_of_its_next_placement() {
    let mut h = Harness::with_nodes(pool(4), &["n1", "n2"]);
    let id = h.submit(job("OnFailure", 5));
    let start_on = |h: &mut Harness, node: &str| {
        for uid in h.pending(&id) {
            assert!(h.fake.start_on(&uid, node));
        }
        h.settle();
    };
    start_on(&mut h, "n1");
    h.exit_all(&id, 1);
    let excluded = |h: &Harness| h.fake.node_rules().last().unwrap().1.never.clone();
    assert!(
        excluded(&h).is_empty(),
        "one failure on n1 excludes nothing"
    );
    start_on(&mut h, "n1");
    h.exit_all(&id, 1);
    assert_eq!(excluded(&h), ["n1".to_string()].into());
    let restarts = h.store.restarts(&id).unwrap();
    assert_eq!(
        restarts.iter().map(|r| r.excluded).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(h
        .events(&id)
        .iter()
        .any(|e| e.starts_with("Node n1 is kept out of this job's placements")));
    // Twice on n2 as well: n2 is the last node left, so it stays.
    start_on(&mut h, "n2");
    h.exit_all(&id, 1);
    start_on(&mut h, "n2");
    h.exit_all(&id, 1);
    assert_eq!(excluded(&h), ["n1".to_string()].into());
    assert!(h
        .events(&id)
        .iter()
        .any(|e| e.starts_with("Node n2 stays in this job's placements")));
}
