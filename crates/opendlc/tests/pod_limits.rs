//! A pod's ResourceConfig is its limit on the local runtime: its processes run in a cgroup of
//! the pod's with its CPU quota and memory limit, where the host allows (cgroup v1 or v2).

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

fn one_pod(name: &str, resources: Value, command: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "ResourceConfig": resources}],
        "UserCommand": command,
    })
}

async fn finished(server: &TestServer, job_id: &str) -> Value {
    server
        .wait_job(job_id, Duration::from_secs(60), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await
}

/// The event that says how the pod's limits are enforced; `None` (and the test skips) where
/// this host cannot enforce them.
async fn limits_event(server: &TestServer, job_id: &str) -> Option<String> {
    let events = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/events"), None)
        .await;
    let event = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|e| e.contains(" limits: "))
        .unwrap_or_else(|| panic!("no limits event: {events}"))
        .to_string();
    if event.contains("not enforced") {
        eprintln!("skipping: this host cannot enforce pod limits: {event}");
        return None;
    }
    Some(event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_over_its_memory_limit_is_oom_killed_and_says_so() {
    let server = TestServer::start().await;
    let command = "python3 -c \"s = b'x' * (512 << 20); print('allocated')\"";
    let job_id = server
        .create_job(one_pod(
            "oom",
            json!({"CPU": "1", "Memory": "128Mi"}),
            command,
        ))
        .await;
    let job = finished(&server, &job_id).await;
    let Some(event) = limits_event(&server, &job_id).await else {
        return;
    };
    assert!(event.contains("CPU 1, memory 128 MiB (cgroup v"), "{event}");
    assert_eq!(job["Status"], "Failed", "{job}");
    let text = job.to_string();
    assert!(
        text.contains("OOMKilled") && text.contains("memory limit"),
        "{job}"
    );
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert!(!logs.contains(&"allocated".to_string()), "{logs:?}");

    // The same allocation fits in a pod that asks for enough.
    let job_id = server
        .create_job(one_pod(
            "fits",
            json!({"CPU": "1", "Memory": "1Gi"}),
            command,
        ))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_gets_no_more_cpu_than_it_asked_for() {
    let server = TestServer::start().await;
    // Two seconds of busy loop in two processes, then the CPU time they used.
    let burn = "import os, time\n\
                pid = os.fork()\n\
                t = time.time()\n\
                while time.time() - t < 2: pass\n\
                if pid == 0: os._exit(0)\n\
                os.waitpid(pid, 0)\n\
                c = os.times()\n\
                print(round(c.user + c.system + c.children_user + c.children_system, 2))";
    let command = format!("python3 -c '{burn}'");
    let job_id = server
        .create_job(one_pod(
            "quota",
            json!({"CPU": "250m", "Memory": "256Mi"}),
            &command,
        ))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let Some(event) = limits_event(&server, &job_id).await else {
        return;
    };
    assert!(event.contains("CPU 0.25, memory 256 MiB"), "{event}");
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    let used: f64 = logs[0].parse().unwrap();
    // A quarter of a core for 2 s is 0.5 s of CPU, whatever the forked child does; unlimited
    // the two would use up to 4 s.
    assert!(
        used < 1.0,
        "used {used} s of CPU in 2 s with a 0.25 CPU limit"
    );
}
