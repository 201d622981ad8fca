//! The job operations over HTTP against a real in-process server running real pods.

mod common;

use std::time::Duration;

use common::{pytorch_job, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pytorch_job_runs_every_pod_with_its_rank() {
    let server = TestServer::start().await;
    let command = "echo RANK=$RANK WORLD_SIZE=$WORLD_SIZE MASTER=$MASTER_ADDR:$MASTER_PORT JOB=$JOB_NAME; echo to-stderr >&2; sleep 1.2";
    let job_id = server
        .create_job(pytorch_job(
            "tour",
            &[("Master", 1), ("Worker", 2)],
            command,
        ))
        .await;
    assert!(job_id.starts_with("dlc") && job_id.len() == 16, "{job_id}");
    // Acknowledged means stored waiting for its resources: it is never read back as Creating.
    let status = server.get_job(&job_id).await["Status"].clone();
    assert_ne!(status, "Creating");

    let job = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["Status"] == "Succeeded"
        })
        .await;
    let history: Vec<&str> = job["StatusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["Status"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        [
            "Creating",
            "Queuing",
            "EnvPreparing",
            "Running",
            "Succeeded"
        ]
    );
    for field in [
        "GmtCreateTime",
        "GmtSubmittedTime",
        "GmtRunningTime",
        "GmtFinishTime",
        "GmtSuccessedTime",
    ] {
        assert!(
            job[field].as_str().is_some_and(|t| t.ends_with('Z')),
            "{field}: {job}"
        );
    }
    assert!(job["Duration"].as_i64().unwrap() >= 1);
    assert_eq!(job["ReasonCode"], "JobSucceeded");
    assert_eq!(job["Priority"], 1);
    let pods = job["Pods"].as_array().unwrap();
    let ids: Vec<&str> = pods.iter().map(|p| p["PodId"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            format!("{job_id}-master-0"),
            format!("{job_id}-worker-0"),
            format!("{job_id}-worker-1")
        ]
    );
    let mut master = None;
    for (rank, pod) in pods.iter().enumerate() {
        assert_eq!(pod["Status"], "Succeeded");
        assert_eq!(pod["Ip"], "127.0.0.1");
        let logs = server
            .logs(&job_id, pod["PodId"].as_str().unwrap(), "")
            .await;
        // stdout and stderr are separate pipes: their relative order is not guaranteed.
        assert_eq!(logs.len(), 2, "{logs:?}");
        assert!(logs.contains(&"to-stderr".to_string()), "{logs:?}");
        let line = logs.iter().find(|l| l.starts_with("RANK=")).unwrap();
        assert!(
            line.starts_with(&format!("RANK={rank} WORLD_SIZE=3 MASTER=127.0.0.1:")),
            "{logs:?}"
        );
        assert!(line.ends_with(&format!("JOB={job_id}")));
        let this_master = line.split_whitespace().nth(2).unwrap().to_string();
        assert_eq!(master.get_or_insert(this_master.clone()), &this_master);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pods_rendezvous_over_master_addr_and_port() {
    let server = TestServer::start().await;
    let script = r#"
import os, socket, time
addr, port, rank = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), int(os.environ["RANK"])
if rank == 0:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(1); c, _ = s.accept(); c.sendall(b"token-42"); c.close()
    print("served")
else:
    for _ in range(100):
        try:
            c = socket.create_connection((addr, port)); print("got", c.recv(64).decode()); break
        except OSError:
            time.sleep(0.05)
"#;
    let command = format!("python3 -c '{script}'");
    let job_id = server
        .create_job(pytorch_job("rdzv", &[("Worker", 2)], &command))
        .await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["Status"]
                .as_str()
                .is_some_and(|s| s == "Succeeded" || s == "Failed")
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(
        server
            .logs(&job_id, &format!("{job_id}-worker-0"), "")
            .await,
        ["served"]
    );
    assert_eq!(
        server
            .logs(&job_id, &format!("{job_id}-worker-1"), "")
            .await,
        ["got token-42"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_a_running_job_then_delete_it() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job(
            "stopme",
            &[("Worker", 1)],
            "echo started; sleep 60",
        ))
        .await;
    server.wait_status(&job_id, "Running").await;

    server
        .error(
            "DELETE",
            &format!("/api/v1/jobs/{job_id}"),
            None,
            400,
            "IncorrectStatus",
        )
        .await;

    server.stop_job(&job_id).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(10), |j| {
            j["Status"] == "Stopped"
        })
        .await;
    assert_eq!(job["ReasonCode"], "JobStoppedByUser");
    assert!(job["GmtStoppedTime"].is_string());
    let history: Vec<&str> = job["StatusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["Status"].as_str().unwrap())
        .collect();
    assert_eq!(history[history.len() - 2..], ["Stopping", "Stopped"]);

    let (status, err) = server
        .call("POST", &format!("/api/v1/jobs/{job_id}/stop"), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["Code"], "IncorrectStatus");
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("because it is Stopped"),
        "{err}"
    );

    let deleted = server
        .ok("DELETE", &format!("/api/v1/jobs/{job_id}"), None)
        .await;
    assert_eq!(deleted["JobId"], job_id.as_str());
    let err = server
        .error(
            "GET",
            &format!("/api/v1/jobs/{job_id}"),
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;
    for key in ["RequestId", "HostId", "Message", "Recommend"] {
        assert!(err[key].is_string(), "{key} missing: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pod_fails_the_job_and_stops_the_others() {
    let server = TestServer::start().await;
    let command = r#"if [ "$RANK" = 1 ]; then echo boom; exit 3; fi; sleep 60"#;
    let job_id = server
        .create_job(pytorch_job(
            "fails",
            &[("Master", 1), ("Worker", 1)],
            command,
        ))
        .await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(20), |j| {
            j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["ReasonCode"], "JobFailed");
    assert!(
        job["ReasonMessage"]
            .as_str()
            .unwrap()
            .contains("worker-0 exited with code 3"),
        "{job}"
    );
    assert!(job["GmtFailedTime"].is_string());
    let statuses: Vec<&str> = job["Pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Failed", "Failed"]);

    let events = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/events"), None)
        .await;
    let events: Vec<&str> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e.len() > 20 && e.as_bytes()[4] == b'-' && e.as_bytes()[10] == b' '),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.contains("exited with code 3")),
        "{events:?}"
    );
    let pod_events = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{job_id}-worker-0/events"),
            None,
        )
        .await;
    let pod_events = pod_events["Events"].as_array().unwrap();
    assert!(
        pod_events
            .iter()
            .all(|e| e.as_str().unwrap().contains("worker-0")),
        "{pod_events:?}"
    );
    let limited = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/events?MaxEventsNum=2"),
            None,
        )
        .await;
    assert_eq!(limited["Events"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_logs_tail_and_select_incarnations() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job("logs", &[("Worker", 1)], "seq 1 5000"))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    let pod = format!("{job_id}-worker-0");
    let all = server.logs(&job_id, &pod, "").await;
    assert_eq!(all.len(), 2000);
    assert_eq!((all[0].as_str(), all[1999].as_str()), ("3001", "5000"));
    assert_eq!(
        server.logs(&job_id, &pod, "MaxLines=3").await,
        ["4998", "4999", "5000"]
    );
    assert!(server
        .logs(&job_id, &pod, "EndTime=2000-01-01T00:00:00Z")
        .await
        .is_empty());
    assert_eq!(
        server
            .logs(&job_id, &pod, "DownloadToFile=True")
            .await
            .len(),
        5000
    );

    server
        .error(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{job_id}-worker-9/logs"),
            None,
            404,
            "EntityNotFound.Pod",
        )
        .await;
    let (status, err) = server
        .call(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod}/logs?PodUid=nope"),
            None,
        )
        .await;
    assert_eq!(status, 404, "{err}");
    let err = server
        .error(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod}/logs?MaxLines=ten"),
            None,
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        err["Message"].as_str().unwrap().contains("MaxLines"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_changes_priority_and_refuses_new_specs_once_running() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job("upd", &[("Worker", 1)], "sleep 30"))
        .await;
    server.wait_status(&job_id, "Running").await;
    server
        .ok(
            "PUT",
            &format!("/api/v1/jobs/{job_id}"),
            Some(json!({"Priority": 7, "Accessibility": "PUBLIC"})),
        )
        .await;
    let job = server.get_job(&job_id).await;
    assert_eq!(
        (job["Priority"].as_i64(), job["Accessibility"].as_str()),
        (Some(7), Some("PUBLIC"))
    );
    // An empty Accessibility changes nothing.
    server
        .ok(
            "PUT",
            &format!("/api/v1/jobs/{job_id}"),
            Some(json!({"Accessibility": ""})),
        )
        .await;
    assert_eq!(server.get_job(&job_id).await["Accessibility"], "PUBLIC");

    let (status, err) = server
        .call(
            "PUT",
            &format!("/api/v1/jobs/{job_id}"),
            Some(json!({"Priority": 10})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        err["Message"].as_str().unwrap().contains("Priority"),
        "{err}"
    );
    let specs = json!({"JobSpecs": [{"Type": "Worker", "PodCount": 2, "EcsSpec": "ecs.c6.large"}]});
    server
        .error(
            "PUT",
            &format!("/api/v1/jobs/{job_id}"),
            Some(specs),
            400,
            "IncorrectStatus",
        )
        .await;
    server.stop_job(&job_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_survive_a_server_restart() {
    let server = TestServer::start().await;
    let command = "for i in $(seq 1 30); do echo line $i; sleep 0.05; done";
    let job_id = server
        .create_job(pytorch_job("restart", &[("Worker", 2)], command))
        .await;
    server.wait_status(&job_id, "Running").await;
    let data_dir = server.stop().await;

    let server = TestServer::start_in(data_dir).await;
    let job = server.wait_status(&job_id, "Succeeded").await;
    for pod in job["Pods"].as_array().unwrap() {
        let logs = server
            .logs(&job_id, pod["PodId"].as_str().unwrap(), "")
            .await;
        let expected: Vec<String> = (1..=30).map(|i| format!("line {i}")).collect();
        assert_eq!(logs, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_with_many_pods_runs_them_all() {
    let server = TestServer::start().await;
    let mut body = pytorch_job("wide", &[("Worker", 100)], "echo $RANK");
    body["JobSpecs"][0]["ResourceConfig"] = json!({"CPU": "0.01", "Memory": "16Mi"});
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(60), |j| {
            j["Status"] == "Succeeded"
        })
        .await;
    let pods = job["Pods"].as_array().unwrap();
    assert_eq!(pods.len(), 100);
    for pod in [&pods[0], &pods[57], &pods[99]] {
        let pod_id = pod["PodId"].as_str().unwrap();
        let index: usize = pod_id.rsplit('-').next().unwrap().parse().unwrap();
        assert_eq!(server.logs(&job_id, pod_id, "").await, [index.to_string()]);
    }
}

/// A field the server accepts without a local meaning is never ignored silently: each one the
/// request set becomes an event of the job, naming it and saying why (the field ledger).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_without_an_effect_here_are_named_in_the_jobs_events() {
    let server = TestServer::start().await;
    let mut body = pytorch_job("ledger", &[("Worker", 1), ("Master", 1)], "true");
    body["JobSpecs"][1]["SystemDisk"] = json!({"Category": "cloud_essd"});
    body["JobSpecs"][1]["AssignNodeSpec"] = json!({"HyperNodes": [{"HyperNodeName": "h1"}]});
    body["UserVpc"] = json!({"VpcId": "vpc-1"});
    body["Settings"] = json!({"ErrorMonitoringArgs": "--enable-c4d-hang-detection"});
    let job_id = server.create_job(body).await;
    let events = server.events(&job_id).await;
    let notes: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .filter(|e| e.contains("is accepted and has no effect here"))
        .collect();
    let named: Vec<&str> = notes
        .iter()
        .map(|n| {
            n.split(" is accepted")
                .next()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        named,
        [
            "UserVpc",
            "JobSpecs[1].AssignNodeSpec.HyperNodes",
            "JobSpecs[1].SystemDisk.Category"
        ],
        "{notes:?}"
    );
    assert!(
        notes.iter().all(|n| !n.ends_with("here: ")),
        "every note says why: {notes:?}"
    );
    // A flag value that does less here than on PAI is noted too.
    assert!(
        events
            .iter()
            .any(|e| e.contains("--enable-c4d-hang-detection has no effect here")),
        "{events:?}"
    );
}

/// GetJob fills what PAI's answer has about where and how the pods run: each pod's `PodIps`,
/// per role `JobReplicaStatuses` and `RoleSystemEnvs`, and `ClusterId`; a ListJobs entry
/// carries the job's DataSources and CodeSource like GetJob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_job_says_where_each_role_runs_and_with_which_system_environment() {
    let server = TestServer::start().await;
    let data = server.scratch().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut body = pytorch_job(
        "roles",
        &[("Master", 1), ("Worker", 2)],
        "touch ready-$RANK; sleep 30",
    );
    body["DataSources"] = json!([{"Uri": data.display().to_string(), "MountPath": "/mnt/data"}]);
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["JobReplicaStatuses"]
                .as_array()
                .is_some_and(|r| r.iter().all(|r| r["Active"] == r["EstimatedPodCount"]))
        })
        .await;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(job["ClusterId"], hostname.trim(), "{job}");
    let replicas = job["JobReplicaStatuses"].as_array().unwrap();
    let worker = replicas.iter().find(|r| r["Type"] == "Worker").unwrap();
    assert_eq!(
        (
            &worker["EstimatedPodCount"],
            &worker["Active"],
            &worker["Queuing"]
        ),
        (&json!(2), &json!(2), &json!(0)),
        "{worker}"
    );
    let envs = &job["RoleSystemEnvs"]["Worker"];
    assert_eq!(envs["WORLD_SIZE"], "3", "{envs}");
    assert_eq!(envs["MASTER_ADDR"], "127.0.0.1", "{envs}");
    assert!(
        envs.get("RANK").is_none(),
        "per-pod variables are left out: {envs}"
    );
    for pod in job["Pods"].as_array().unwrap() {
        assert_eq!(
            pod["PodIps"],
            json!([{"InterfaceName": "lo", "Ip": "127.0.0.1"}]),
            "{pod}"
        );
    }
    let list = server.ok("GET", "/api/v1/jobs?PageSize=100", None).await;
    let item = list["Jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["JobId"] == job_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["DataSources"][0]["MountPath"], "/mnt/data", "{item}");
    assert_eq!(item["ClusterId"], hostname.trim());
    server.stop_job(&job_id).await;
}

/// `Settings.Shell`: the command runs in that shell (bash syntax works), and only a shell's
/// absolute path is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_runs_in_the_shell_the_settings_name() {
    let server = TestServer::start().await;
    let mut body = pytorch_job(
        "bash",
        &[("Worker", 1)],
        "[[ $BASH_VERSION ]] && echo in bash",
    );
    body["Settings"] = json!({"Shell": "/bin/bash"});
    let job_id = server.create_job(body.clone()).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            matches!(j["Status"].as_str(), Some("Succeeded" | "Failed"))
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(
        server
            .logs(&job_id, &format!("{job_id}-worker-0"), "")
            .await,
        ["in bash"]
    );
    body["Settings"] = json!({"Shell": "bash; rm -rf /"});
    server
        .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
        .await;
}

/// SystemDisk bounds what the job's working directory may hold: past it, the pods are evicted
/// (SubStatus Evicted) and the job fails saying by how much.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_system_disk_is_evicted() {
    let server = TestServer::start().await;
    let mut body = pytorch_job(
        "disk",
        &[("Worker", 1)],
        // Allocated at once, without writing a gigabyte.
        "fallocate -l 1100M big || dd if=/dev/zero of=big bs=1M count=1100 status=none; sleep 60",
    );
    body["JobSpecs"][0]["SystemDisk"] = json!({"Size": 1});
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["ReasonCode"], "JobEvicted", "{job}");
    let message = job["ReasonMessage"].as_str().unwrap();
    assert!(message.contains("SystemDisk (1Gi)"), "{message}");
    assert_eq!(job["Pods"][0]["SubStatus"], "Evicted", "{job}");

    let mut wrong = pytorch_job("disk", &[("Worker", 1)], "true");
    wrong["JobSpecs"][0]["SystemDisk"] = json!({"Size": -1});
    server
        .error("POST", "/api/v1/jobs", Some(wrong), 400, "InvalidParameter")
        .await;
}

/// EnableCPUAffinity pins each pod to cores of its own, while the host has enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_affinity_pins_pods_to_disjoint_cores() {
    let server = TestServer::start().await;
    let mut body = pytorch_job(
        "pinned",
        &[("Worker", 2)],
        "grep Cpus_allowed_list /proc/self/status | cut -f2",
    );
    body["JobSpecs"][0]["ResourceConfig"] = json!({"CPU": "1", "Memory": "256Mi"});
    body["Settings"] = json!({"EnableCPUAffinity": true});
    let job_id = server.create_job(body).await;
    server.wait_status(&job_id, "Succeeded").await;
    let mut cores = Vec::new();
    for i in 0..2 {
        let logs = server
            .logs(&job_id, &format!("{job_id}-worker-{i}"), "")
            .await;
        // One core each: "3", not a range or a list.
        let core: u32 = logs[0].parse().unwrap_or_else(|_| panic!("{logs:?}"));
        cores.push(core);
    }
    let host_cores = std::thread::available_parallelism().unwrap().get();
    if host_cores >= 2 {
        assert_ne!(cores[0], cores[1], "disjoint: {cores:?}");
    }
    let events = server.events(&job_id).await;
    assert!(
        events.iter().any(|e| e.contains("pinned to CPUs")),
        "{events:?}"
    );
}
