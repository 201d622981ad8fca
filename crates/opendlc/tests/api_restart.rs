//! Restart policies: the whole gang restarts while the budget lasts; HistoryPods, RestartTimes
//! and RestartRecord tell the story.

mod common;

use std::time::Duration;

use common::{pytorch_job, TestServer};
use serde_json::{json, Value};

fn job_with_policy(name: &str, policy: &str, command: &str) -> Value {
    let mut body = pytorch_job(name, &[("Master", 1), ("Worker", 1)], command);
    for spec in body["JobSpecs"].as_array_mut().unwrap() {
        spec["RestartPolicy"] = json!(policy);
    }
    body["Settings"] = json!({"ErrorMonitoringArgs": "--max-num-of-job-restart=2"});
    body
}

fn statuses(job: &Value) -> Vec<&str> {
    job["StatusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["Status"].as_str().unwrap())
        .collect()
}

async fn finished(server: &TestServer, job_id: &str) -> Value {
    server
        .wait_job(job_id, Duration::from_secs(30), |j| {
            ["Succeeded", "Failed", "Stopped"].contains(&j["Status"].as_str().unwrap_or_default())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_the_gang_until_it_succeeds() {
    let server = TestServer::start().await;
    // The worker fails on its first run only; the workdir is shared, so a marker file remembers.
    let command = r#"if [ "$RANK" = 1 ] && [ ! -e failed-once ]; then touch failed-once; exit 1; fi; sleep 0.3; echo ok"#;
    let job_id = server
        .create_job(job_with_policy("onfail", "OnFailure", command))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(job["RestartTimes"], "1/2");
    assert!(
        statuses(&job).contains(&"Restarting"),
        "{:?}",
        statuses(&job)
    );
    let record = &job["RestartRecord"][0];
    assert_eq!(record["JobRestartCount"], 1);
    assert_eq!(record["RestartStatus"], "Succeeded");
    assert!(
        record["Reason"]
            .as_str()
            .unwrap()
            .contains("worker-0 exited with code 1"),
        "{record}"
    );
    for pod in job["Pods"].as_array().unwrap() {
        // The gang restarted: the master too has an earlier incarnation.
        let history = pod["HistoryPods"].as_array().unwrap();
        assert_eq!(history.len(), 1, "{pod}");
        assert_ne!(history[0]["PodUid"], pod["PodUid"]);
        assert_eq!(pod["Status"], "Succeeded");
    }
    let worker = format!("{job_id}-worker-0");
    let old_uid = job["Pods"][1]["HistoryPods"][0]["PodUid"].as_str().unwrap();
    assert!(server
        .logs(&job_id, &worker, &format!("PodUid={old_uid}"))
        .await
        .is_empty());
    assert_eq!(server.logs(&job_id, &worker, "").await, ["ok"]);
    // GetPodEvents with a PodUid: the events of that incarnation's lifetime.
    let events = |uid: String| {
        let server = &server;
        let worker = &worker;
        let job_id = &job_id;
        async move {
            let body = server
                .ok(
                    "GET",
                    &format!("/api/v1/jobs/{job_id}/pods/{worker}/events?PodUid={uid}"),
                    None,
                )
                .await;
            body["Events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let old = events(old_uid.to_string()).await;
    assert!(
        old.iter().any(|e| e.contains("exited with code 1")),
        "{old:?}"
    );
    let current = events(job["Pods"][1]["PodUid"].as_str().unwrap().to_string()).await;
    let started = current
        .iter()
        .filter(|e| e.contains(" started on "))
        .count();
    assert_eq!(
        started, 1,
        "only the current incarnation's start: {current:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_runs_out() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(job_with_policy("always-fails", "OnFailure", "exit 7"))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed");
    assert_eq!(job["RestartTimes"], "2/2");
    assert_eq!(job["Pods"][0]["HistoryPods"].as_array().unwrap().len(), 2);
    assert_eq!(job["RestartRecord"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_retries_only_retryable_codes() {
    let server = TestServer::start().await;
    let permanent = server
        .create_job(job_with_policy("permanent", "ExitCode", "exit 1"))
        .await;
    let retryable = server
        .create_job(job_with_policy("retryable", "ExitCode", "exit 143"))
        .await;
    let never = server
        .create_job(job_with_policy("never", "Never", "exit 143"))
        .await;
    let job = finished(&server, &permanent).await;
    assert_eq!(
        (job["Status"].as_str(), job["RestartTimes"].as_str()),
        (Some("Failed"), Some("0/2"))
    );
    let job = finished(&server, &retryable).await;
    assert_eq!(
        (job["Status"].as_str(), job["RestartTimes"].as_str()),
        (Some("Failed"), Some("2/2"))
    );
    let job = finished(&server, &never).await;
    assert_eq!(
        (job["Status"].as_str(), job["RestartTimes"].as_str()),
        (Some("Failed"), Some("0/2"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarting_job_can_be_stopped() {
    let server = TestServer::start().await;
    let mut body = job_with_policy("always", "Always", "sleep 0.2");
    body["Settings"] = json!({"ErrorMonitoringArgs": "--max-num-of-job-restart=1000"});
    let job_id = server.create_job(body).await;
    let restarted = |j: &Value| j["RestartTimes"] != "0/1000";
    server
        .wait_job(&job_id, Duration::from_secs(20), restarted)
        .await;
    server.stop_job(&job_id).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Stopped");
}

fn hang_watched(name: &str, command: &str) -> Value {
    let mut body = pytorch_job(name, &[("Worker", 1)], command);
    body["Settings"] = json!({
        "EnableErrorMonitoringInAIMaster": true,
        "ErrorMonitoringArgs": "--enable-job-hang-detection=True --job-hang-interval=2 --max-num-of-job-restart=1",
    });
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_job_is_restarted_then_failed_by_hang_detection() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(hang_watched("silent", "echo start; sleep 60"))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    assert_eq!(job["ReasonCode"], "JobHang");
    assert_eq!(job["RestartTimes"], "1/1");
    assert!(statuses(&job).contains(&"Restarting"));
    assert!(job["RestartRecord"][0]["Reason"]
        .as_str()
        .unwrap()
        .contains("hang detection"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_job_is_not_hung() {
    let server = TestServer::start().await;
    let command = "for i in $(seq 1 8); do echo $i; sleep 0.5; done";
    let job_id = server.create_job(hang_watched("chatty", command)).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(
        (job["Status"].as_str(), job["RestartTimes"].as_str()),
        (Some("Succeeded"), Some("0/1"))
    );
}

/// `--job-execution-mode=Async`: a failed pod restarts alone, with its name and rank, while
/// its peers keep running; RestartRecord says what failed, where, and whose failure it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_async_mode_a_failed_pod_restarts_alone_while_its_peers_run() {
    let server = TestServer::start().await;
    // Rank 1 fails on its first run; rank 0 runs on until rank 1's second run has been (the
    // workdir is shared): it can only finish if it was never restarted.
    let command = r#"if [ "$RANK" = 1 ]; then
  if [ ! -e failed-once ]; then touch failed-once; exit 1; fi
  touch rank1-done; echo "again as rank $RANK"
else
  while [ ! -e rank1-done ]; do sleep 0.05; done; echo waited
fi"#;
    let mut body = job_with_policy("async", "OnFailure", command);
    body["Settings"] = json!({
        "ErrorMonitoringArgs": "--job-execution-mode=Async --max-num-of-job-restart=2",
    });
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(job["RestartTimes"], "1/2");
    assert!(
        !statuses(&job).contains(&"Restarting"),
        "the job itself never restarted: {:?}",
        statuses(&job)
    );
    let master = format!("{job_id}-master-0");
    let worker = format!("{job_id}-worker-0");
    let pod = |id: &str| {
        job["Pods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["PodId"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(pod(&master)["HistoryPods"].as_array().unwrap().len(), 0);
    assert_eq!(pod(&worker)["HistoryPods"].as_array().unwrap().len(), 1);
    assert_eq!(server.logs(&job_id, &master, "").await, ["waited"]);
    assert_eq!(
        server.logs(&job_id, &worker, "").await,
        ["again as rank 1"],
        "the same rank"
    );
    let record = &job["RestartRecord"][0];
    assert_eq!(record["RestartLevelType"], "Pod", "{record}");
    assert_eq!(record["TriggerID"], worker.as_str());
    assert_eq!(record["RestartStatus"], "Succeeded");
    let detail = &record["DetailErrorInfoList"][0];
    assert_eq!(detail["ErrorCode"], "ExitCode", "{record}");
    assert_eq!(detail["ErrorSource"], "User");
    assert_eq!(detail["Pod"], worker.as_str());
    assert_eq!(detail["Node"], pod(&worker)["NodeName"]);
    assert_eq!(detail["AddNodeToBlacklist"], false);
    assert!(server
        .events(&job_id)
        .await
        .iter()
        .any(|e| e.contains(&format!("Pod {worker} is restarting: "))));
}
