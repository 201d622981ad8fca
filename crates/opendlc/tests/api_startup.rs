//! StartupDependencies: a role starts once enough pods of another role reached a phase.

mod common;

use std::time::Duration;

use common::{pytorch_job, TestServer};
use serde_json::{json, Value};

fn waiting_job(master_command: &str, phase: &str) -> Value {
    let mut body = pytorch_job("deps", &[("Master", 1), ("Worker", 2)], "true");
    body["JobSpecs"][0]["UserCommand"] = json!(master_command);
    body["JobSpecs"][1]["UserCommand"] = json!("cat master-done");
    body["JobSpecs"][1]["StartupDependencies"] =
        json!([{"Type": "Master", "OnPhase": phase, "MinReplicas": "1"}]);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_start_after_the_master_succeeded() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(waiting_job(
            "sleep 0.5; echo from-master > master-done",
            "Succeeded",
        ))
        .await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(20), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let master_end = job["Pods"][0]["GmtFinishTime"].as_str().unwrap();
    for worker in &job["Pods"].as_array().unwrap()[1..] {
        assert!(
            worker["GmtStartTime"].as_str().unwrap() >= master_end,
            "{job}"
        );
        let logs = server
            .logs(&job_id, worker["PodId"].as_str().unwrap(), "")
            .await;
        assert_eq!(logs, ["from-master"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_job_ends_the_pods_still_waiting() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(waiting_job("sleep 60", "Succeeded"))
        .await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(10), |j| {
            j["Pods"][0]["Status"] == "Running"
        })
        .await;
    assert_eq!(
        job["Status"], "EnvPreparing",
        "the workers have not started yet"
    );
    assert_eq!(job["Pods"][1]["Status"], "Pending");
    server.stop_job(&job_id).await;
    let job = server.wait_status(&job_id, "Stopped").await;
    assert_eq!(job["Pods"][1]["Status"], "Failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_dependencies_are_validated() {
    let server = TestServer::start().await;
    let with_deps = |worker: Value, master: Value| {
        let mut body = pytorch_job("deps", &[("Master", 1), ("Worker", 2)], "true");
        body["JobSpecs"][1]["StartupDependencies"] = worker;
        body["JobSpecs"][0]["StartupDependencies"] = master;
        Some(body)
    };
    let cases = [
        (
            json!([{"Type": "PS"}]),
            json!([]),
            "StartupDependencies[0].Type",
        ),
        (
            json!([{"Type": "Master", "OnPhase": "Sleeping"}]),
            json!([]),
            "OnPhase",
        ),
        (
            json!([{"Type": "Master", "MinReplicas": "2"}]),
            json!([]),
            "MinReplicas",
        ),
        (json!([{"Type": "Worker"}]), json!([]), "itself"),
        (
            json!([{"Type": "Master"}]),
            json!([{"Type": "Worker"}]),
            "lead back",
        ),
    ];
    for (worker, master, needle) in cases {
        let err = server
            .error(
                "POST",
                "/api/v1/jobs",
                with_deps(worker, master),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(err["Message"].as_str().unwrap().contains(needle), "{err}");
    }
}
