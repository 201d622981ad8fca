//! A JobSpec's ExtraPodSpec on the local runtime, where a pod's containers are its processes:
//! init containers run in order before the main command (a failing one fails the pod with its
//! exit code and its own log), sidecars run beside it and are stopped when it ends, PostStart
//! runs once it has started, PreStop before it is asked to stop (docs/BEHAVIOR.md).
//! Each test waits on files the pod writes, never on time.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

fn job(command: &str, extra: Value) -> Value {
    json!({
        "DisplayName": "extras",
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "local",
                      "ResourceConfig": {"CPU": "1", "Memory": "256Mi"},
                      "ExtraPodSpec": extra}],
    })
}

async fn finished(server: &TestServer, job_id: &str) -> Value {
    server
        .wait_job(job_id, Duration::from_secs(60), |j| {
            ["Succeeded", "Failed", "Stopped"].contains(&j["Status"].as_str().unwrap_or(""))
        })
        .await
}

fn sh(script: &str) -> Value {
    json!(["/bin/sh", "-c", script])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_in_order_before_the_command() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(job(
            "echo main sees $(cat order)",
            json!({"InitContainers": [
                {"Name": "first", "Command": sh("echo one > order; echo first says hi")},
                {"Name": "second", "Command": ["/bin/sh", "-c"],
                 "Args": ["echo $GREETING >> order"], "Env": [{"Name": "GREETING", "Value": "two"}]},
            ]}),
        ))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let pod = format!("{job_id}-worker-0");
    assert_eq!(server.logs(&job_id, &pod, "").await, ["main sees one two"]);
    assert_eq!(
        server.logs(&job_id, &pod, "Containers=first").await,
        ["first says hi"]
    );
    assert!(server
        .logs(&job_id, &pod, "Containers=second")
        .await
        .is_empty());
    // Several at once (the SDK's comma list), and what the pod has.
    let both = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod}/logs?Containers=first,main"),
            None,
        )
        .await;
    assert_eq!(both["Logs"], json!(["first says hi", "main sees one two"]));
    assert_eq!(both["Containers"], "first,main");
    assert_eq!(
        both["ContainerInfo"],
        json!({"MainContainer": "main", "SidecarContainers": []})
    );
    // A container the pod does not have is named in the error, with those it has.
    let (status, error) = server
        .call(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod}/logs?Containers=third"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{error}");
    let message = error["Message"].as_str().unwrap();
    assert!(
        message.contains("Containers") && message.contains("main, first, second"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_init_container_fails_the_pod_with_its_code_and_log() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(job(
            "touch main-ran",
            json!({"InitContainers": [
                {"Name": "broken", "Command": sh("echo cannot fetch >&2; exit 3")},
                {"Name": "never", "Command": sh("touch never-ran")},
            ]}),
        ))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    let pod = format!("{job_id}-worker-0");
    assert_eq!(
        server.logs(&job_id, &pod, "Containers=broken").await,
        ["cannot fetch"]
    );
    let main = server.logs(&job_id, &pod, "").await;
    assert!(
        main.iter()
            .any(|l| l.contains("init container broken exited with code 3")),
        "{main:?}"
    );
    let events = server.events(&job_id).await;
    assert!(
        events.iter().any(|e| e.contains("exited with code 3")),
        "{events:?}"
    );
    let work = server
        .data_dir
        .path()
        .join("jobs")
        .join(&job_id)
        .join("work");
    assert!(!work.join("never-ran").exists());
    assert!(!work.join("main-ran").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_runs_beside_the_command_and_is_stopped_when_it_ends() {
    let server = TestServer::start().await;
    // The sidecar says when it is ready; the command waits for that, then ends.
    let job_id = server
        .create_job(job(
            "while [ ! -e sidecar-ready ]; do sleep 0.02; done; echo main done",
            json!({"SideCarContainers": [{"Name": "watcher", "Command": sh(
                "exec 2>/dev/null; trap 'echo watcher stopped; exit 0' TERM; echo watching; touch sidecar-ready; \
                 while :; do sleep 0.05 & wait $!; done")}]}),
        ))
        .await;
    let job = finished(&server, &job_id).await;
    // The pod's result is its command's, whatever the sidecar does.
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let pod = format!("{job_id}-worker-0");
    assert_eq!(server.logs(&job_id, &pod, "").await, ["main done"]);
    assert_eq!(
        server.logs(&job_id, &pod, "Containers=watcher").await,
        ["watching", "watcher stopped"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_stop_runs_before_the_command_is_asked_to_stop() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(job(
            "exec 2>/dev/null; trap 'echo main got SIGTERM; exit 0' TERM; touch main-ready; \
             while :; do sleep 0.05 & wait $!; done",
            json!({"Lifecycle": {
                "PostStart": {"Exec": {"Command": sh("echo post-start ran > post-start.txt")}},
                "PreStop": {"Exec": {"Command": sh("echo pre-stop ran; sleep 0.2; echo pre-stop done")}},
            }}),
        ))
        .await;
    let work = server
        .data_dir
        .path()
        .join("jobs")
        .join(&job_id)
        .join("work");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(work.join("main-ready").exists() && work.join("post-start.txt").exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the pod never got ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop_job(&job_id).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Stopped", "{job}");
    assert_eq!(
        server
            .logs(&job_id, &format!("{job_id}-worker-0"), "")
            .await,
        ["pre-stop ran", "pre-stop done", "main got SIGTERM"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_post_start_hook_fails_the_pod() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(job(
            "trap 'exit 0' TERM; while :; do sleep 0.05 & wait $!; done",
            json!({"Lifecycle": {"PostStart": {"Exec": {"Command": sh("exit 4")}}}}),
        ))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert!(
        logs.iter()
            .any(|l| l.contains("the PostStart hook failed (exit code 4)")),
        "{logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_without_a_command_is_refused() {
    let server = TestServer::start().await;
    server
        .error(
            "POST",
            "/api/v1/jobs",
            Some(job(
                "true",
                json!({"InitContainers": [{"Name": "fetch", "Image": "busybox"}]}),
            )),
            400,
            "InvalidParameter",
        )
        .await;
}

/// SharedVolumeMountPaths: an empty directory of the pod's own at each path, which its init
/// containers and its command share; a relative path is refused, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_volume_carries_files_from_an_init_container_to_the_command() {
    let server = TestServer::start().await;
    let shared = server.scratch().join("shared-vol").display().to_string();
    let job_id = server
        .create_job(job(
            &format!("cat {shared}/ready; ls {shared} | wc -l"),
            json!({
                "SharedVolumeMountPaths": [shared],
                "InitContainers": [{"Name": "fetch", "Command": sh(&format!("echo fetched > {shared}/ready"))}],
            }),
        ))
        .await;
    let done = finished(&server, &job_id).await;
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert_eq!(done["Status"], "Succeeded", "{done}\n{logs:?}");
    assert_eq!(logs, ["fetched", "1"], "{logs:?}");
    let err = server
        .error(
            "POST",
            "/api/v1/jobs",
            Some(job("true", json!({"SharedVolumeMountPaths": ["relative"]}))),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("JobSpecs[0].ExtraPodSpec.SharedVolumeMountPaths[0]"),
        "{err}"
    );
}

/// PodLabels and PodAnnotations are kept with the job and checked by Kubernetes' rules; a key
/// of opendlc's own is refused. (With a container engine they label the pod's containers:
/// tests/containers.rs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_labels_are_kept_and_checked() {
    let server = TestServer::start().await;
    let metadata = json!({"PodLabels": {"team": "vision", "example.com/tier": ""},
                          "PodAnnotations": {"note": "any text: at all"}});
    let job_id = server.create_job(job("true", metadata.clone())).await;
    let done = server.wait_status(&job_id, "Succeeded").await;
    assert_eq!(done["JobSpecs"][0]["ExtraPodSpec"], metadata, "{done}");
    let events = server.events(&job_id).await;
    assert!(
        !events.iter().any(|e| e.contains("has no effect here")),
        "{events:?}"
    );
    for (labels, field) in [
        (
            json!({"team": "a b"}),
            "JobSpecs[0].ExtraPodSpec.PodLabels.team",
        ),
        (
            json!({"opendlc.io/role": "x"}),
            "JobSpecs[0].ExtraPodSpec.PodLabels",
        ),
    ] {
        let err = server
            .error(
                "POST",
                "/api/v1/jobs",
                Some(job("true", json!({"PodLabels": labels}))),
                400,
                "InvalidParameter",
            )
            .await;
        let message = err["Message"].as_str().unwrap();
        assert!(message.contains(field), "{message}");
    }
}
