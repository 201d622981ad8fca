//! `kill -9` the server while its Slurm job runs; a new server on the same data directory
//! re-attaches to the Slurm job (its id is in the pod directories) and sees the job finish with
//! every log line and every metric sample once. Skipped, with the reason printed, when no
//! cluster is up.

mod common;
mod slurm_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn spawn_server(data_dir: &std::path::Path) -> (Child, String) {
    let mut child = common::own_session(&mut Command::new(common::shim_program()))
        .args([
            "serve",
            "--runtime",
            "slurm",
            "--listen",
            "127.0.0.1:0",
            "--metrics-interval",
            "0.2",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("OPENDLC_ACCESS_KEY_ID", "testak")
        .env("OPENDLC_ACCESS_KEY_SECRET", "testsk")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "server exited before printing its endpoint"
        );
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, base)
}

fn call(base: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::blocking::Client::new();
    let mut request = client.request(method.parse().unwrap(), format!("{base}{path}"));
    let key = common::Key {
        id: "testak".into(),
        secret: "testsk".into(),
    };
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    for (name, value) in
        common::signed_headers(base, &key, "2020-12-03", method, path, body.as_deref())
    {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().expect("request sent");
    assert!(
        response.status().is_success(),
        "{method} {path}: {}",
        response.status()
    );
    response.json().unwrap()
}

fn wait_status(base: &str, job_id: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let job = call(base, "GET", &format!("/api/v1/jobs/{job_id}"), None);
        if job["Status"] == status {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never {status}: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_slurm_job_finishes_with_all_its_logs_after_the_server_is_killed() {
    if !slurm_support::available(
        "a_slurm_job_finishes_with_all_its_logs_after_the_server_is_killed",
    ) {
        return;
    }
    let _lock = slurm_support::lock_cluster();
    let data_dir = tempfile::tempdir().unwrap();
    let (mut server, base) = spawn_server(data_dir.path());
    let body = json!({
        "DisplayName": "slurm-crash",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Master", "PodCount": 1}, {"Type": "Worker", "PodCount": 1}],
        "UserCommand": "for i in $(seq 1 50); do echo line $i; sleep 0.06; done",
    });
    let job_id = call(&base, "POST", "/api/v1/jobs", Some(body))["JobId"]
        .as_str()
        .unwrap()
        .to_string();
    let running = wait_status(&base, &job_id, "Running");
    // Long enough for the server to record some of the pods' metric samples.
    std::thread::sleep(Duration::from_millis(1000));
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, base) = spawn_server(data_dir.path());
    let job = wait_status(&base, &job_id, "Succeeded");
    let expected: Vec<String> = (1..=50).map(|i| format!("line {i}")).collect();
    for pod in job["Pods"].as_array().unwrap() {
        let pod_id = pod["PodId"].as_str().unwrap();
        // The pod kept its node across the restart.
        let before = running["Pods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["PodId"] == pod["PodId"])
            .unwrap();
        assert_eq!(pod["NodeName"], before["NodeName"], "{pod}");
        assert!(pod["NodeName"] == "n1" || pod["NodeName"] == "n2", "{pod}");
        let logs = call(
            &base,
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod_id}/logs"),
            None,
        );
        let lines: Vec<String> = serde_json::from_value(logs["Logs"].clone()).unwrap();
        assert_eq!(lines, expected, "{pod_id}");
    }
    server.kill().unwrap();
    server.wait().unwrap();

    // The shims sampled their pods all along; the new server read their files again from the
    // start and recorded only the samples the killed one had not.
    let store = opendlc_store::Store::open(&data_dir.path().join("opendlc.db")).unwrap();
    let samples = store
        .metric_series(
            &job_id,
            opendlc_core::metrics::MetricType::MemoryUsage,
            // Every sample as taken (the job's are all recent).
            &opendlc_core::metrics::reads(0, i64::MAX, 1, opendlc_core::time::now_millis()),
        )
        .unwrap();
    for pod in job["Pods"].as_array().unwrap() {
        let mut times: Vec<i64> = samples
            .iter()
            .filter(|s| pod["PodId"] == *s.pod_id)
            .map(|s| s.time)
            .collect();
        assert!(times.len() >= 3, "{pod}: {times:?}");
        let all = times.len();
        times.dedup();
        assert_eq!(times.len(), all, "a sample recorded twice: {times:?}");
    }
}

/// A job still in Slurm's queue when the server is killed: the new server follows the same Slurm
/// job (no second submission) and shows its pod Running once Slurm starts it.
#[test]
fn a_job_pending_in_slurm_runs_after_the_server_is_killed() {
    if !slurm_support::available("a_job_pending_in_slurm_runs_after_the_server_is_killed") {
        return;
    }
    let _lock = slurm_support::lock_cluster();
    let data_dir = tempfile::tempdir().unwrap();
    let (mut server, base) = spawn_server(data_dir.path());
    let create = |base: &str, body: Value| {
        call(base, "POST", "/api/v1/jobs", Some(body))["JobId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Fills both nodes (4 CPUs each), so that the next job waits.
    let filler = create(&base, slurm_support::whole_node_job("slurm-fill", 2));
    wait_status(&base, &filler, "Running");
    let waiting = create(&base, slurm_support::whole_node_job("slurm-wait", 1));
    let start = Instant::now();
    while !call(&base, "GET", &format!("/api/v1/jobs/{waiting}"), None)["ReasonMessage"]
        .as_str()
        .is_some_and(|m| m.contains("is pending"))
    {
        assert!(start.elapsed() < Duration::from_secs(30), "never pending");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, base) = spawn_server(data_dir.path());
    call(&base, "POST", &format!("/api/v1/jobs/{filler}/stop"), None);
    let job = wait_status(&base, &waiting, "Running");
    assert_eq!(job["Pods"][0]["Status"], "Running", "{job}");
    let events = call(
        &base,
        "GET",
        &format!("/api/v1/jobs/{waiting}/events"),
        None,
    )
    .to_string();
    assert_eq!(
        events.matches("Submitted to Slurm as job").count(),
        1,
        "{events}"
    );
    assert!(
        events.contains("submitted before the server restarted"),
        "{events}"
    );
    call(&base, "POST", &format!("/api/v1/jobs/{waiting}/stop"), None);
    wait_status(&base, &waiting, "Stopped");
    server.kill().unwrap();
    server.wait().unwrap();
}
