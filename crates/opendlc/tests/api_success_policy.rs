//! Which pods decide a job's success: TF parameter servers never do; ChiefWorker leaves it to
//! the Chief; ConsiderInSuccessPolicy overrides both.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

fn tf_job(success_policy: Option<&str>) -> Value {
    let mut body = json!({
        "DisplayName": "tf",
        "JobType": "TFJob",
        "UserCommand": "sleep 600",
        "JobSpecs": [
            {"Type": "Chief", "PodCount": 1, "UserCommand": "echo chief done"},
            {"Type": "Worker", "PodCount": 2, "UserCommand": "sleep 0.3"},
            {"Type": "PS", "PodCount": 1},
        ],
    });
    for spec in body["JobSpecs"].as_array_mut().unwrap() {
        spec["ResourceConfig"] = json!({"CPU": "0.1", "Memory": "64Mi"});
    }
    if let Some(policy) = success_policy {
        body["SuccessPolicy"] = json!(policy);
    }
    body
}

async fn ends_succeeded(server: &TestServer, body: Value) -> Value {
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(20), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    job
}

fn pod_status<'a>(job: &'a Value, role: &str) -> Vec<&'a str> {
    let pods = job["Pods"].as_array().unwrap();
    pods.iter()
        .filter(|p| p["Type"] == role)
        .map(|p| p["Status"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_servers_do_not_keep_a_tf_job_running() {
    let server = TestServer::start().await;
    let job = ends_succeeded(&server, tf_job(None)).await;
    assert_eq!(pod_status(&job, "Worker"), ["Succeeded", "Succeeded"]);
    assert_eq!(
        pod_status(&job, "PS"),
        ["Failed"],
        "the PS was stopped once the workers were done"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chief_worker_leaves_success_to_the_chief() {
    let server = TestServer::start().await;
    let mut body = tf_job(Some("ChiefWorker"));
    body["JobSpecs"][1]["UserCommand"] = json!("sleep 600");
    let job = ends_succeeded(&server, body).await;
    assert_eq!(pod_status(&job, "Chief"), ["Succeeded"]);
    assert_eq!(
        pod_status(&job, "Worker"),
        ["Failed", "Failed"],
        "the workers were stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chief_worker_leaves_success_to_the_role_marked_is_chief() {
    let server = TestServer::start().await;
    let body = json!({
        "DisplayName": "chief",
        "JobType": "PyTorchJob",
        "UserCommand": "sleep 600",
        "SuccessPolicy": "ChiefWorker",
        "JobSpecs": [
            {"Type": "Master", "PodCount": 1, "ResourceConfig": {"CPU": "0.1", "Memory": "64Mi"}},
            {"Type": "Worker", "PodCount": 1, "IsChief": true, "UserCommand": "echo done",
             "ResourceConfig": {"CPU": "0.1", "Memory": "64Mi"}},
        ],
    });
    let job = ends_succeeded(&server, body.clone()).await;
    assert_eq!(pod_status(&job, "Worker"), ["Succeeded"]);
    assert_eq!(
        pod_status(&job, "Master"),
        ["Failed"],
        "the master was stopped"
    );

    let mut two = body;
    two["JobSpecs"][0]["IsCheif"] = json!(true);
    let (status, err) = server.call("POST", "/api/v1/jobs", Some(two)).await;
    assert_eq!(status, 400);
    let message = err["Message"].as_str().unwrap();
    assert!(
        message.contains("JobSpecs[1].IsChief") && message.contains("unique"),
        "{message}"
    );
}
