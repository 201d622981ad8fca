//! Sanity checks: with `EnableSanityCheck` every pod checks itself and its links to the others
//! before its command runs; the job is SanityChecking meanwhile, the five phases are kept per
//! round, and a failed check fails the job with the phase's message (unless told to continue).

mod common;

use std::time::Duration;

use common::{pytorch_job, TestServer};
use serde_json::Value;

fn with_check(mut job: Value, args: &str) -> Value {
    job["Settings"] = serde_json::json!({"EnableSanityCheck": true, "SanityCheckArgs": args});
    job
}

fn statuses(job: &Value) -> Vec<String> {
    job["StatusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Status"].as_str().unwrap().to_string())
        .collect()
}

async fn final_job(server: &TestServer, job_id: &str) -> Value {
    server
        .wait_job(job_id, Duration::from_secs(60), |j| {
            matches!(
                j["Status"].as_str(),
                Some("Succeeded" | "Failed" | "Stopped")
            )
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checked_job_runs_after_five_phases_pass() {
    let server = TestServer::start().await;
    let job = with_check(
        pytorch_job("checked", &[("Master", 1), ("Worker", 1)], "echo ran $RANK"),
        "",
    );
    let job_id = server.create_job(job).await;
    let job = final_job(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let history = statuses(&job);
    let checking = history.iter().position(|s| s == "SanityChecking");
    let running = history.iter().position(|s| s == "Running");
    assert!(
        checking.is_some() && checking < running,
        "SanityChecking comes before Running: {history:?}"
    );

    let result = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/sanitycheckresult"),
            None,
        )
        .await;
    assert!(result["RequestID"].is_string(), "{result}");
    let phases: Vec<&str> = result["SanityCheckResult"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["Status"], "Succeeded", "{p}");
            assert_eq!(p["CheckNumber"], 1);
            assert!(
                p["StartedAt"].is_string() && p["FinishedAt"].is_string(),
                "{p}"
            );
            p["Phase"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        phases,
        [
            "CheckInit",
            "DeviceCheck",
            "SingleNodeCommCheck",
            "TwoNodeCommCheck",
            "AllNodeCommCheck"
        ]
    );
    let two_node = &result["SanityCheckResult"][3]["Message"];
    assert!(two_node.as_str().unwrap().contains("latency"), "{two_node}");
    let one = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/sanitycheckresult?SanityCheckPhase=DeviceCheck"),
            None,
        )
        .await;
    assert_eq!(one["SanityCheckResult"].as_array().unwrap().len(), 1);
    let all = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/sanitycheckresults"),
            None,
        )
        .await;
    assert_eq!(all["TotalCount"], 1);
    assert_eq!(all["SanityCheckResults"][0].as_array().unwrap().len(), 5);

    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await
        .join("\n");
    assert!(
        logs.contains("sanity check AllNodeCommCheck passed"),
        "{logs}"
    );
    assert!(
        logs.contains("ran 1"),
        "the command ran after the check: {logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_fails_the_job_without_running_the_command() {
    let server = TestServer::start().await;
    let job = with_check(
        pytorch_job("broken", &[("Worker", 2)], "no-such-trainer --epochs 1"),
        "--sanity-check-phases=CheckInit,AllNodeCommCheck",
    );
    let mut job = job;
    job["JobSpecs"][0]["RestartPolicy"] = "OnFailure".into();
    let job_id = server.create_job(job).await;
    let job = final_job(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    assert_eq!(job["ReasonCode"], "SanityCheckFailed", "{job}");
    let message = job["ReasonMessage"].as_str().unwrap();
    assert!(
        message.contains("CheckInit") && message.contains("no-such-trainer"),
        "{message}"
    );
    assert_eq!(
        job["RestartTimes"]
            .as_str()
            .unwrap_or("0/0")
            .split('/')
            .next(),
        Some("0"),
        "a failed check is not a restart: {job}"
    );
    let result = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/sanitycheckresult"),
            None,
        )
        .await;
    assert_eq!(result["SanityCheckResult"][0]["Status"], "Failed");
    assert_eq!(result["SanityCheckResult"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_job_records_the_failure_and_runs_anyway() {
    let server = TestServer::start().await;
    let job = with_check(
        pytorch_job("lenient", &[("Worker", 1)], "no-such-tool || echo went on"),
        "--sanity-check-phases=CheckInit --sanity-check-failure-ops=ContinueJob",
    );
    let job_id = server.create_job(job).await;
    let job = final_job(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let result = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/sanitycheckresult"),
            None,
        )
        .await;
    assert_eq!(
        result["SanityCheckResult"][0]["Status"], "Failed",
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sanity_args_are_refused_and_name_the_flag() {
    let server = TestServer::start().await;
    let job = with_check(
        pytorch_job("typo", &[("Worker", 1)], "true"),
        "--sanity-check-timming=BeforeJob",
    );
    let (status, error) = server.call("POST", "/api/v1/jobs", Some(job)).await;
    assert_eq!(status, 400);
    let message = error["Message"].as_str().unwrap();
    assert!(
        message.contains("Settings.SanityCheckArgs") && message.contains("--sanity-check-timming"),
        "{message}"
    );
    let job_id = server
        .create_job(pytorch_job("plain", &[("Worker", 1)], "true"))
        .await;
    let (status, error) = server
        .call(
            "GET",
            &format!("/api/v1/jobs/{job_id}/sanitycheckresult?SanityCheckNumber=2"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
}

/// Another program on the host takes the master's port while the job runs (the pods' own
/// leftovers cannot: the shim kills every process a pod started). The check before the
/// restart fails CheckInit, naming the port, and the job fails instead of hanging in a
/// rendezvous that can never happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_taken_by_another_program_fails_check_init_before_the_restart() {
    let server = TestServer::start().await;
    let dir = server.scratch();
    let (port_file, held) = (dir.join("port"), dir.join("held"));
    let command = format!(
        "if [ \"$RANK\" = 0 ] && [ ! -e {port} ]; then echo $MASTER_PORT > {port}; \
         while [ ! -e {held} ]; do sleep 0.05; done; exit 1; fi; echo ran $RANK",
        port = port_file.display(),
        held = held.display()
    );
    let mut job = with_check(
        pytorch_job("taken-port", &[("Master", 1), ("Worker", 1)], &command),
        "--sanity-check-timing=AfterJobFaultTolerant --sanity-check-phases=CheckInit",
    );
    for spec in job["JobSpecs"].as_array_mut().unwrap() {
        spec["RestartPolicy"] = "OnFailure".into();
    }
    job["Settings"]["ErrorMonitoringArgs"] = "--max-num-of-job-restart=2".into();
    let job_id = server.create_job(job).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let port: u16 = loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            break port;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the master never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _taken = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
    std::fs::write(&held, "").unwrap();

    let job = final_job(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    assert_eq!(job["ReasonCode"], "SanityCheckFailed", "{job}");
    let message = job["ReasonMessage"].as_str().unwrap();
    assert!(
        message.contains("CheckInit") && message.contains(&format!("{port} is not free")),
        "{message}"
    );
    let result = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/sanitycheckresult"),
            None,
        )
        .await;
    let phases = result["SanityCheckResult"].as_array().unwrap();
    assert_eq!(phases.len(), 1, "{result}");
    assert_eq!(phases[0]["Phase"], "CheckInit");
    assert_eq!(phases[0]["Status"], "Failed");
    assert_eq!(
        phases[0]["CheckNumber"], 1,
        "checked before the restart: {result}"
    );
}
