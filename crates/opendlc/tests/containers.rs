//! Pods in their JobSpec's image, with `--container-engine podman`: the image's file system,
//! the host's network and the job's mounts; a missing image fails the pod with
//! ImagePullBackOff; stopping a job ends its containers. Without an engine, pods run on the
//! host and an event says the image was not used. scripts/containers-env.sh provides podman and
//! the test image (OPENDLC_TEST_IMAGE); without them these tests skip.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

fn test_image() -> Option<String> {
    let image = std::env::var("OPENDLC_TEST_IMAGE").ok();
    if image.is_none() {
        eprintln!("skipping: no OPENDLC_TEST_IMAGE (eval \"$(scripts/containers-env.sh)\")");
    }
    image
}

async fn podman_server() -> TestServer {
    podman_server_in(tempfile::tempdir().unwrap()).await
}

async fn podman_server_in(data_dir: tempfile::TempDir) -> TestServer {
    TestServer::start_with(data_dir, |c| c.container_engine = Some("podman".into())).await
}

/// A job of one container named `name` that writes, then sleeps; its id and PodUid once it
/// has written.
async fn running_container(server: &TestServer, image: &str, name: &str) -> (String, String) {
    let job_id = server
        .create_job(one_pod(name, image, "echo up; exec sleep 600"))
        .await;
    server.wait_status(&job_id, "Running").await;
    wait_for_output(server, &job_id, &[""]).await;
    let uid = first_pod_uid(server, &job_id).await;
    (job_id, uid)
}

/// A job of one engine pod (a sidecar beside its main container), Running once both have
/// written; its id and PodUid.
async fn running_engine_pod(server: &TestServer, image: &str) -> (String, String) {
    let mut body = one_pod("in-pod", image, "echo up; exec sleep 600");
    body["JobSpecs"][0]["ExtraPodSpec"] = json!({
        "SideCarContainers": [{"Name": "watch", "Command": ["sh", "-c", "echo watching; exec sleep 600"]}],
    });
    let job_id = server.create_job(body).await;
    server.wait_status(&job_id, "Running").await;
    wait_for_output(server, &job_id, &["", "Containers=watch"]).await;
    let uid = first_pod_uid(server, &job_id).await;
    (job_id, uid)
}

/// The PodUid of the job's first pod.
async fn first_pod_uid(server: &TestServer, job_id: &str) -> String {
    server.get_job(job_id).await["Pods"][0]["PodUid"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until each of the job's pod's `containers` (a logs query each) has written.
async fn wait_for_output(server: &TestServer, job_id: &str, containers: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let pod = format!("{job_id}-worker-0");
    for container in containers {
        while server.logs(job_id, &pod, container).await.is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "{pod} {container:?} never wrote"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// No container of the pod `uid` is left, running or not.
fn assert_no_container_of(uid: &str) {
    let out = std::process::Command::new("podman")
        .args([
            "ps",
            "--all",
            "--quiet",
            "--filter",
            &format!("name=opendlc-{uid}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "the containers of {uid} are left: {out:?}"
    );
}

fn one_pod(name: &str, image: &str, command: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": image,
                      "ResourceConfig": {"CPU": "1", "Memory": "256Mi"}}],
        "UserCommand": command,
    })
}

async fn finished(server: &TestServer, job_id: &str) -> Value {
    server
        .wait_job(job_id, Duration::from_secs(90), |j| {
            ["Succeeded", "Failed", "Stopped"].contains(&j["Status"].as_str().unwrap_or(""))
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_runs_in_its_image_with_the_contract_and_its_data() {
    let Some(image) = test_image() else {
        return;
    };
    let server = podman_server().await;
    let data = server.scratch().join("dataset");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("labels.txt"), "cat dog\n").unwrap();
    let mut body = one_pod(
        "in-image",
        &image,
        "echo debian $(cat /etc/debian_version); echo rank=$RANK world=$WORLD_SIZE; \
         test -e /usr/bin/podman && echo host files || echo image files; \
         cat /mnt/data/labels.txt; touch /mnt/data/x 2>/dev/null || echo read-only; pwd; \
         getent hosts worker-0 | cut -d' ' -f1",
    );
    body["DataSources"] = json!([{"Uri": data.display().to_string(),
                                  "MountPath": "/mnt/data", "MountAccess": "RO"}]);
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    let workdir = server
        .data_dir
        .path()
        .join("jobs")
        .join(&job_id)
        .join("work");
    assert!(logs[0].starts_with("debian 12."), "{logs:?}");
    assert_eq!(
        logs[1..],
        [
            "rank=0 world=1".to_string(),
            "image files".into(),
            "cat dog".into(),
            "read-only".into(),
            workdir.display().to_string(),
            // The job's pods by name.
            "127.0.0.1".into(),
        ],
        "{logs:?}"
    );
    let events = server.events(&job_id).await;
    assert!(
        events.iter().any(
            |e| e.contains(&format!("Pod {job_id}-worker-0 started on "))
                && e.ends_with(&format!(
                    ": in image {image} (podman); limits: CPU 1, memory 256 MiB (the container's)"
                ))
        ),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_cannot_be_pulled_is_image_pull_back_off() {
    if test_image().is_none() {
        return;
    }
    let server = podman_server().await;
    let missing = "localhost/opendlc-test/no-such-image:1";
    let job_id = server
        .create_job(one_pod("no-image", missing, "echo never"))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    let pod = &job["Pods"][0];
    assert_eq!(pod["SubStatus"], "ImagePullBackOff", "{job}");
    assert!(
        job["ReasonMessage"].as_str().unwrap().contains(missing),
        "{job}"
    );
    let events = server.events(&job_id).await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("ImagePullBackOff") && e.contains(missing)),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_job_ends_its_containers() {
    let Some(image) = test_image() else {
        return;
    };
    let server = podman_server().await;
    let (job_id, uid) = running_container(&server, &image, "long").await;
    server
        .ok("POST", &format!("/api/v1/jobs/{job_id}/stop"), None)
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Stopped", "{job}");
    let name = format!("opendlc-{uid}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = std::process::Command::new("podman")
            .args([
                "ps",
                "--all",
                "--quiet",
                "--filter",
                &format!("name={name}"),
            ])
            .output()
            .unwrap();
        if out.stdout.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "container {name} is still there"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The embedded default: no engine, the pod runs on the host and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_engine_the_image_is_recorded_and_the_pod_runs_on_the_host() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(one_pod(
            "host",
            "registry.example.com/team/train:1",
            "echo on host",
        ))
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(
        job["JobSpecs"][0]["Image"],
        "registry.example.com/team/train:1"
    );
    let events = server.events(&job_id).await;
    assert!(
        events.iter().any(|e| {
            e.contains(&format!("Pod {job_id}-worker-0 started on "))
            && e.contains(
                ": on the host: its image registry.example.com/team/train:1 is recorded, not used"
            )
        }),
        "{events:?}"
    );
}

/// Under a server running as root, a container pod runs as its owner's identity, like a pod on
/// the host: no capabilities, and what it writes in the job's directory is the owner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_pod_runs_as_its_owner_without_capabilities() {
    let Some(image) = test_image() else {
        return;
    };
    if !common::is_root() {
        eprintln!("skipping: pods run as their owners only under a server running as root");
        return;
    }
    let server = podman_server().await;
    let job_id = server
        .create_job(one_pod(
            "owned",
            &image,
            "echo uid=$(id -u) gid=$(id -g); grep CapEff /proc/self/status; echo $HOME; \
             echo mine > mine.txt && echo wrote",
        ))
        .await;
    let job = finished(&server, &job_id).await;
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job} {logs:?}");
    let owner = opendlc_server::DEFAULT_UID_BASE + 1; // the administrator is user 1
    let job_dir = server.data_dir.path().join("jobs").join(&job_id);
    assert_eq!(
        logs,
        [
            format!("uid={owner} gid={owner}"),
            "CapEff:\t0000000000000000".into(),
            job_dir.join("work").display().to_string(),
            "wrote".into(),
        ],
        "{logs:?}"
    );
    use std::os::unix::fs::MetadataExt;
    let written = std::fs::metadata(job_dir.join("work").join("mine.txt")).unwrap();
    assert_eq!((written.uid(), written.mode() & 0o077), (owner, 0));
}

/// `ImageConfig`: the registry login reaches the engine's pull in an auth file of the server's
/// alone, removed after the pull, never on the command line. A stand-in engine records what it
/// was given (no registry needed), then refuses the pull.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_registrys_login_reaches_the_pull_in_an_auth_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("pull");
    let engine = dir.path().join("engine");
    std::fs::write(
        &engine,
        format!(
            "#!/bin/sh\n\
             [ \"$1\" = image ] && exit 1\n\
             echo \"$@\" > {record}.args\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --authfile ] && cat \"$2\" > {record}.auth \
             && stat -c %a \"$2\" > {record}.mode && echo \"$2\" > {record}.path; shift; done\n\
             echo 'Error: access denied' >&2; exit 125\n",
            record = record.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&engine, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.container_engine = Some(engine.clone())
    })
    .await;
    let mut body = one_pod("private", "reg.example.com:5000/team/trainer:1", "true");
    body["JobSpecs"][0]["ImageConfig"] = json!({"Username": "ann", "Password": "pa55word"});
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Pods"][0]["SubStatus"], "ImagePullBackOff", "{job}");
    let read = |ext: &str| std::fs::read_to_string(format!("{}.{ext}", record.display())).unwrap();
    assert_eq!(
        read("auth"),
        r#"{"auths":{"reg.example.com:5000":{"auth":"YW5uOnBhNTV3b3Jk"}}}"#
    );
    assert_eq!(read("mode").trim(), "600");
    assert!(!read("args").contains("pa55word"), "{}", read("args"));
    assert!(
        !std::path::Path::new(read("path").trim()).exists(),
        "the auth file is removed"
    );
    // And the password shows nowhere in the job.
    assert!(!job.to_string().contains("pa55word"), "{job}");
    let events = server.events(&job_id).await;
    assert!(events.iter().all(|e| !e.contains("pa55word")), "{events:?}");
}

/// With an engine, a pod with init containers, a sidecar and hooks is one engine pod: each
/// container runs in the image, the init container's file reaches the main one through the
/// shared volume, the PostStart hook runs in the main container, the sidecar is stopped when
/// the main command ends, and nothing of the pod is left after it. Its host name is its PodId,
/// and the job's pod names resolve in each of its containers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pods_containers_are_the_containers_of_one_engine_pod() {
    let Some(image) = test_image() else {
        return;
    };
    let server = podman_server().await;
    let in_image = "test -e /usr/bin/podman && echo host || echo image";
    let mut body = one_pod(
        "engine-pod",
        &image,
        &format!(
            "cat /shared/marker; echo main $({in_image}) $(hostname); \
             getent hosts worker-0 | cut -d' ' -f1; \
             while ! test -e /shared/post -a -e /shared/up; do sleep 0.1; done; cat /shared/post"
        ),
    );
    body["JobSpecs"][0]["ExtraPodSpec"] = json!({
        "SharedVolumeMountPaths": ["/shared"],
        "InitContainers": [{"Name": "fetch", "Image": image, "Command": ["sh", "-c"],
            "Args": [format!("echo from-init > /shared/marker; echo init $({in_image}) $GREETING $(getent hosts $JOB_NAME-worker-0 | cut -d' ' -f1)")],
            "Env": [{"Name": "GREETING", "Value": "hello"}]}],
        "SideCarContainers": [{"Name": "watch", "Command": ["sh", "-c", "echo sidecar up; touch /shared/up; exec sleep 600"]}],
        "Lifecycle": {"PostStart": {"Exec": {"Command": ["sh", "-c", "echo post-start > /shared/post"]}}},
    });
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id).await;
    let pod = format!("{job_id}-worker-0");
    let logs = server.logs(&job_id, &pod, "").await;
    assert_eq!(job["Status"], "Succeeded", "{job}\n{logs:?}");
    assert_eq!(
        server.logs(&job_id, &pod, "").await,
        [
            "from-init",
            &format!("main image {pod}"),
            "127.0.0.1",
            "post-start"
        ]
    );
    assert_eq!(
        server.logs(&job_id, &pod, "Containers=fetch").await,
        ["init image hello 127.0.0.1"]
    );
    assert_eq!(
        server.logs(&job_id, &pod, "Containers=watch").await,
        ["sidecar up"]
    );
    let uid = job["Pods"][0]["PodUid"].as_str().unwrap().to_string();
    let left = |args: &[&str]| {
        let out = std::process::Command::new("podman")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let filter = format!("name=opendlc-{uid}");
    assert_eq!(left(&["pod", "ps", "--quiet", "--filter", &filter]), "");
    assert_eq!(left(&["ps", "--all", "--quiet", "--filter", &filter]), "");
}

/// StopJob on an engine pod: PreStop runs in the main container before its command's SIGTERM,
/// and the pod's containers (its sidecar too) are gone once the job is Stopped. While it runs,
/// its PodLabels (and opendlc's own labels) select its containers and its podman pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_an_engine_pod_runs_pre_stop_and_removes_its_containers() {
    let Some(image) = test_image() else {
        return;
    };
    let server = podman_server().await;
    let mut body = one_pod(
        "engine-stop",
        &image,
        "trap 'echo got TERM; exit 0' TERM; echo up; while true; do sleep 0.1; done",
    );
    body["JobSpecs"][0]["ExtraPodSpec"] = json!({
        "PodLabels": {"team": "vision"},
        "PodAnnotations": {"note": "kept as it is"},
        "SideCarContainers": [{"Name": "watch", "Command": ["sh", "-c", "echo watching; exec sleep 600"]}],
        "Lifecycle": {"PreStop": {"Exec": {"Command": ["sh", "-c", "echo pre-stop in $(hostname)"]}}},
    });
    let job_id = server.create_job(body).await;
    server.wait_status(&job_id, "Running").await;
    let pod = format!("{job_id}-worker-0");
    // The main container and the sidecar start side by side: both have written once both run.
    wait_for_output(&server, &job_id, &["", "Containers=watch"]).await;
    // The pod's labels, and opendlc's, select its containers and its podman pod.
    let podman = |args: &[&str]| {
        let out = std::process::Command::new("podman")
            .args(args)
            .output()
            .unwrap();
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    let job_label = format!("label=opendlc.io/job-id={job_id}");
    let selected = ["--filter", "label=team=vision", "--filter", &job_label];
    let uid = first_pod_uid(&server, &job_id).await;
    assert_eq!(
        podman(&[&["ps", "--format={{.Names}}"][..], &selected].concat()),
        ["", "-infra", "-watch"].map(|part| format!("opendlc-{uid}{part}"))
    );
    assert_eq!(
        podman(&[&["pod", "ps", "--format={{.Name}}"][..], &selected].concat()),
        [format!("opendlc-{uid}-pod")]
    );
    let main = format!("opendlc-{uid}");
    let annotation = "{{index .Config.Annotations \"note\"}}";
    assert_eq!(
        podman(&["inspect", &format!("--format={annotation}"), &main]),
        ["kept as it is"]
    );
    server
        .ok("POST", &format!("/api/v1/jobs/{job_id}/stop"), None)
        .await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Stopped", "{job}");
    let logs = server.logs(&job_id, &pod, "").await;
    assert_eq!(logs, ["up", &format!("pre-stop in {pod}"), "got TERM"]);
    let filter = format!("name=opendlc-{uid}");
    for what in [&["pod", "ps"][..], &["ps", "--all"][..]] {
        let out = std::process::Command::new("podman")
            .args(what)
            .args(["--quiet", "--filter", &filter])
            .output()
            .unwrap();
        assert!(out.stdout.is_empty(), "{what:?} left {out:?}");
    }
}

/// A test server torn down with its pods running (a test that fails half-way) leaves none of
/// their containers: neither a lone container nor an engine pod's, whose sidecar is killed
/// with the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_down_server_leaves_no_container_of_its_pods() {
    let Some(image) = test_image() else {
        return;
    };
    let server = podman_server().await;
    let (_, alone_uid) = running_container(&server, &image, "alone").await;
    let (_, in_pod_uid) = running_engine_pod(&server, &image).await;
    drop(server);
    assert_no_container_of(&alone_uid);
    assert_no_container_of(&in_pod_uid);
}

/// A pod whose shim was killed while the server was down (its containers kept running) is
/// found lost by the next server, which removes its containers: the engine pod's sidecar too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_lost_while_the_server_was_down_leaves_no_container() {
    let Some(image) = test_image() else {
        return;
    };
    let server = podman_server().await;
    let (job_id, uid) = running_engine_pod(&server, &image).await;
    let data_dir = server.stop().await;
    let pod_dir = data_dir
        .path()
        .join("jobs")
        .join(&job_id)
        .join("pods")
        .join(&uid);
    let started: Value =
        serde_json::from_slice(&std::fs::read(pod_dir.join("started.json")).unwrap()).unwrap();
    let shim = started["shim_pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) on the pod's shim; no memory involved.
    assert_eq!(unsafe { libc::kill(shim, libc::SIGKILL) }, 0);
    let server = podman_server_in(data_dir).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");
    let events = server.events(&job_id).await;
    assert!(events.iter().any(|e| e.contains("was lost")), "{events:?}");
    assert_no_container_of(&uid);
}

/// A container pod that ends while no server runs is left as an exited container (nobody saw
/// it end); the next server, finding its end, removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_ended_while_the_server_was_down_leaves_no_container() {
    let Some(image) = test_image() else {
        return;
    };
    let server = podman_server().await;
    let job_id = server
        .create_job(one_pod("brief", &image, "echo up; sleep 2"))
        .await;
    server.wait_status(&job_id, "Running").await;
    let uid = first_pod_uid(&server, &job_id).await;
    let data_dir = server.stop().await;
    let exit = data_dir
        .path()
        .join("jobs")
        .join(&job_id)
        .join("pods")
        .join(&uid)
        .join("exit.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !exit.exists() {
        assert!(std::time::Instant::now() < deadline, "the pod never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server = podman_server_in(data_dir).await;
    let job = finished(&server, &job_id).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_no_container_of(&uid);
}
