//! Jobs that do not fit wait in Queuing with a reason, can be updated there, and start when
//! capacity frees up; jobs past JobMaxRunningTimeMinutes are stopped.

mod common;

use std::time::Duration;

use common::{pytorch_job, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_does_not_fit_waits_and_can_be_changed_meanwhile() {
    let server = TestServer::start().await;
    let host_mib = opendlc_core::capacity::HostCapacity::detect().memory_mib;
    let mut blocker = pytorch_job("blocker", &[("Worker", 1)], "sleep 600");
    blocker["JobSpecs"][0]["ResourceConfig"] =
        json!({"CPU": "1", "Memory": format!("{}Mi", host_mib - 1024)});
    let blocker_id = server.create_job(blocker).await;
    server.wait_status(&blocker_id, "Running").await;

    let waiting_id = server
        .create_job(pytorch_job("waiting", &[("Worker", 1)], "echo old"))
        .await;
    let job = server
        .wait_job(&waiting_id, Duration::from_secs(10), |j| {
            j["Status"] == "Queuing"
                && j["ReasonMessage"]
                    .as_str()
                    .is_some_and(|m| m.contains("needs"))
        })
        .await;
    assert_eq!(job["ReasonCode"], "JobQueuing");
    assert!(
        job["ReasonMessage"].as_str().unwrap().contains("memory"),
        "{job}"
    );

    let update = json!({
        "Priority": 9,
        "UserCommand": "echo new $WORLD_SIZE",
        "JobSpecs": [{"Type": "Worker", "PodCount": 2, "ResourceConfig": {"CPU": "0.5", "Memory": "768Mi"}}],
    });
    server
        .ok("PUT", &format!("/api/v1/jobs/{waiting_id}"), Some(update))
        .await;
    let job = server.get_job(&waiting_id).await;
    assert_eq!(job["Status"], "Queuing");
    assert_eq!(job["Priority"], 9);
    assert_eq!(job["JobSpecs"][0]["PodCount"], 2);

    server.stop_job(&blocker_id).await;
    let job = server.wait_status(&waiting_id, "Succeeded").await;
    assert_eq!(job["Pods"].as_array().unwrap().len(), 2);
    assert_eq!(
        server
            .logs(&waiting_id, &format!("{waiting_id}-worker-1"), "")
            .await,
        ["new 2"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_can_be_stopped() {
    let server = TestServer::start().await;
    let host_mib = opendlc_core::capacity::HostCapacity::detect().memory_mib;
    let mut blocker = pytorch_job("blocker", &[("Worker", 1)], "sleep 600");
    blocker["JobSpecs"][0]["ResourceConfig"] = json!({"Memory": format!("{}Mi", host_mib - 1024)});
    let blocker_id = server.create_job(blocker).await;
    server.wait_status(&blocker_id, "Running").await;
    let waiting_id = server
        .create_job(pytorch_job("waiting", &[("Worker", 1)], "true"))
        .await;
    server.wait_status(&waiting_id, "Queuing").await;
    server.stop_job(&waiting_id).await;
    let job = server.get_job(&waiting_id).await;
    assert_eq!(
        (job["Status"].as_str(), job["ReasonCode"].as_str()),
        (Some("Stopped"), Some("JobStoppedByUser"))
    );
    assert!(job["Pods"].as_array().unwrap().is_empty());
    server.stop_job(&blocker_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_max_running_time_is_stopped() {
    let server = TestServer::start().await;
    let mut body = pytorch_job("overdue", &[("Worker", 1)], "sleep 600");
    body["JobMaxRunningTimeMinutes"] = json!(1);
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(75), |j| {
            j["Status"] == "Stopped"
        })
        .await;
    assert_eq!(job["ReasonCode"], "JobExceededMaxRunningTime");
    assert!(job["Duration"].as_i64().unwrap() >= 59, "{job}");
}
