//! The scheduler against real jobs on a small declared pool (4 virtual A10 GPUs, 4 CPU, no
//! overcommit): why a job waits, GPU assignment, backfill, quotas, preemption and requeue,
//! and jobs that could never run.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

const CAPACITY: &str = "pool: {cpu: 4, memory: 8Gi, gpus: 4, gpu_type: NVIDIA A10}
cpu_overcommit: 1
preemption: {enabled: true}
quotas:
  - {id: team, cpu: 2, gpus: 1}
";

async fn server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capacity.yaml");
    std::fs::write(&file, CAPACITY).unwrap();
    TestServer::start_with(dir, |c| c.capacity_file = Some(file)).await
}

fn job(name: &str, cpu: u32, gpu: u32, command: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "local",
                      "ResourceConfig": {"CPU": cpu.to_string(), "Memory": "1Gi", "GPU": gpu.to_string()}}],
    })
}

async fn queued(server: &TestServer, job_id: &str) -> Value {
    server
        .wait_job(job_id, Duration::from_secs(10), |j| {
            j["Status"] == "Queuing" && j["QueuePosition"].is_number()
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_says_what_it_waits_for_and_where_it_stands() {
    let server = server().await;
    // Not preemptible: the queue's order is what this test watches, not a preemption (with
    // one, the reprioritised job would start as soon as the holder stopped).
    let mut holder = job("holder", 1, 4, "sleep 600");
    holder["Settings"] = json!({"Tags": {"preemptible": "false"}});
    let holder = server.create_job(holder).await;
    server.wait_status(&holder, "Running").await;
    let first = server.create_job(job("first", 1, 2, "true")).await;
    let second = server.create_job(job("second", 1, 2, "true")).await;
    let a = queued(&server, &first).await;
    assert_eq!(a["QueuePosition"], 1);
    assert_eq!(
        a["ReasonMessage"],
        "Waiting: needs 2 GPU, 0 free in pool public; first in the queue."
    );
    let b = queued(&server, &second).await;
    assert_eq!(b["QueuePosition"], 2);
    assert!(
        b["ReasonMessage"]
            .as_str()
            .unwrap()
            .ends_with("1 job ahead."),
        "{b}"
    );

    // A higher priority moves the second job to the front.
    server
        .ok(
            "PUT",
            &format!("/api/v1/jobs/{second}"),
            Some(json!({"Priority": 9})),
        )
        .await;
    let moved = server
        .wait_job(&second, Duration::from_secs(10), |j| {
            j["QueuePosition"] == 1
        })
        .await;
    assert_eq!(moved["Priority"], 9);
    server.stop_job(&holder).await;
    server.wait_status(&second, "Succeeded").await;
    server.wait_status(&first, "Succeeded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_pods_get_disjoint_devices() {
    let server = server().await;
    let a = server
        .create_job(job("a", 1, 2, "echo gpus=$CUDA_VISIBLE_DEVICES; sleep 2"))
        .await;
    let b = server
        .create_job(job("b", 1, 2, "echo gpus=$CUDA_VISIBLE_DEVICES; sleep 2"))
        .await;
    server.wait_status(&a, "Succeeded").await;
    server.wait_status(&b, "Succeeded").await;
    let seen = |id: &str| {
        let id = id.to_string();
        let server = &server;
        async move {
            server
                .logs(&id, &format!("{id}-worker-0"), "")
                .await
                .join("")
        }
    };
    let (la, lb) = (seen(&a).await, seen(&b).await);
    let mut all: Vec<&str> = [
        la.trim_start_matches("gpus="),
        lb.trim_start_matches("gpus="),
    ]
    .iter()
    .flat_map(|l| l.split(','))
    .collect();
    all.sort();
    assert_eq!(all, ["0", "1", "2", "3"], "a: {la}, b: {lb}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_jobs_backfill_around_a_waiting_gang_without_delaying_it() {
    let server = server().await;
    let holder = server.create_job(job("holder", 1, 2, "sleep 600")).await;
    server.wait_status(&holder, "Running").await;
    let gang = server.create_job(job("gang", 2, 4, "true")).await;
    queued(&server, &gang).await;
    // CPU only: the gang does not need it at its start (4 CPU - 2), so it may go first.
    let small = server
        .create_job(job("small", 1, 0, "echo backfilled"))
        .await;
    server.wait_status(&small, "Succeeded").await;
    // A GPU job would hold what the gang waits for: it waits behind the reservation.
    let greedy = server.create_job(job("greedy", 1, 1, "true")).await;
    let waiting = queued(&server, &greedy).await;
    assert_eq!(waiting["ReasonCode"], "JobReserved", "{waiting}");
    assert!(
        waiting["ReasonMessage"]
            .as_str()
            .unwrap()
            .contains(&format!("would delay job {gang}")),
        "{waiting}"
    );
    server.stop_job(&holder).await;
    server.wait_status(&gang, "Succeeded").await;
    server.wait_status(&greedy, "Succeeded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_job_preempts_and_the_victim_runs_again() {
    let server = server().await;
    let mut low = job("low", 1, 4, "echo started; sleep 600");
    low["Priority"] = 1.into();
    let low = server.create_job(low).await;
    server.wait_status(&low, "Running").await;
    let mut urgent = job("urgent", 1, 4, "sleep 1");
    urgent["Priority"] = 9.into();
    let urgent = server.create_job(urgent).await;

    let requeued = server
        .wait_job(&low, Duration::from_secs(20), |j| {
            j["Status"] == "Queuing" && j["StatusHistory"].as_array().unwrap().len() > 4
        })
        .await;
    let history: Vec<&str> = requeued["StatusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Status"].as_str().unwrap())
        .collect();
    assert!(history.ends_with(&["Running", "Queuing"]), "{history:?}");
    let preempted = requeued["StatusHistory"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(preempted["ReasonCode"], "JobPreempted", "{requeued}");
    assert!(preempted["ReasonMessage"]
        .as_str()
        .unwrap()
        .contains(&urgent));
    server.wait_status(&urgent, "Succeeded").await;
    let again = server.wait_status(&low, "Running").await;
    assert_eq!(
        again["RestartTimes"].as_str().unwrap().split('/').next(),
        Some("0"),
        "not a restart: {again}"
    );
    let events = server
        .ok("GET", &format!("/api/v1/jobs/{low}/events"), None)
        .await;
    assert!(events.to_string().contains("Preempted by job"), "{events}");
    server.stop_job(&low).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_that_could_never_run_are_refused_with_the_numbers() {
    let server = server().await;
    let (status, error) = server
        .call("POST", "/api/v1/jobs", Some(job("huge", 1, 8, "true")))
        .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["Message"]
            .as_str()
            .unwrap()
            .contains("needs 8 GPU, 4 available in the whole pool"),
        "{error}"
    );
    let mut in_team = job("team-big", 1, 2, "true");
    in_team["ResourceId"] = "team".into();
    let (status, error) = server.call("POST", "/api/v1/jobs", Some(in_team)).await;
    assert_eq!(status, 400);
    assert!(
        error["Message"].as_str().unwrap().contains("in quota team"),
        "{error}"
    );
    let mut unknown = job("nowhere", 1, 0, "true");
    unknown["ResourceId"] = "other".into();
    let (_, error) = server.call("POST", "/api/v1/jobs", Some(unknown)).await;
    assert!(
        error["Message"]
            .as_str()
            .unwrap()
            .contains("configured: team"),
        "{error}"
    );

    // A job in its quota runs, and ListJobs finds it by ResourceId.
    let mut fits = job("team-ok", 1, 1, "true");
    fits["ResourceId"] = "team".into();
    let id = server.create_job(fits).await;
    server.wait_status(&id, "Succeeded").await;
    let listed = server.ok("GET", "/api/v1/jobs?ResourceId=team", None).await;
    assert_eq!(listed["Jobs"][0]["JobId"], id.as_str());
}

/// UpdateJob's new JobSpecs meet the same rules as CreateJob's: a queued job cannot be
/// updated into one its quota could never hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_job_specs_must_fit_the_jobs_quota() {
    let server = server().await;
    let mut holder = job("holder", 1, 1, "sleep 60");
    holder["ResourceId"] = "team".into();
    let holder = server.create_job(holder).await;
    server.wait_status(&holder, "Running").await;
    let mut waiting = job("waiting", 1, 1, "true");
    waiting["ResourceId"] = "team".into();
    let waiting = server.create_job(waiting).await;
    server.wait_status(&waiting, "Queuing").await;
    let bigger = json!({"JobSpecs": [{"Type": "Worker", "PodCount": 1,
        "ResourceConfig": {"CPU": "1", "Memory": "256Mi", "GPU": "2"}}]});
    let (status, error) = server
        .call("PUT", &format!("/api/v1/jobs/{waiting}"), Some(bigger))
        .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["Message"].as_str().unwrap().contains("in quota team"),
        "{error}"
    );
    server.stop_job(&waiting).await;
    server.stop_job(&holder).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpu_type_must_name_the_pools_gpu_model() {
    let server = server().await;
    let mut a10 = job("a10", 1, 1, "echo $CUDA_VISIBLE_DEVICES");
    a10["JobSpecs"][0]["ResourceConfig"]["GPUType"] = json!("A10");
    let job_id = server.create_job(a10.clone()).await;
    server.wait_status(&job_id, "Succeeded").await;
    // A100 is not an A10; a pod without GPUs takes none, whatever its type.
    let mut a100 = a10.clone();
    a100["JobSpecs"][0]["ResourceConfig"]["GPUType"] = json!("A100-80G");
    let err = server
        .error(
            "POST",
            "/api/v1/jobs",
            Some(a100.clone()),
            400,
            "InvalidParameter",
        )
        .await;
    let message = err["Message"].as_str().unwrap();
    assert!(
        message.contains("JobSpecs[0].ResourceConfig.GPUType")
            && message.contains("NVIDIA A10")
            && message.contains("A100-80G"),
        "{message}"
    );
    a100["JobSpecs"][0]["ResourceConfig"]["GPU"] = json!("0");
    server.create_job(a100).await;
}

/// AssignNodeSpec on the local runtime: the one node is this host; a rule that names another
/// node, or avoids this one, could never run and is refused at CreateJob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_nodes_must_include_this_host() {
    let server = server().await;
    let mut here = job("here", 1, 0, "true");
    let node = {
        let probe = server.create_job(job("probe", 1, 0, "true")).await;
        let done = server.wait_status(&probe, "Succeeded").await;
        done["Pods"][0]["NodeName"].as_str().unwrap().to_string()
    };
    here["JobSpecs"][0]["AssignNodeSpec"] = json!({"EnableAssignNode": true, "NodeNames": node});
    let job_id = server.create_job(here.clone()).await;
    server.wait_status(&job_id, "Succeeded").await;
    for (only, never, says) in [
        ("elsewhere", "", "no node elsewhere here"),
        ("", node.as_str(), "allows none of this server's nodes"),
    ] {
        let mut body = here.clone();
        body["JobSpecs"][0]["AssignNodeSpec"] =
            json!({"EnableAssignNode": true, "NodeNames": only, "AntiAffinityNodeNames": never});
        let err = server
            .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
            .await;
        assert!(err["Message"].as_str().unwrap().contains(says), "{err}");
    }
}

/// ListJobs' NumericRangeField (RequestGPU, RequestCPU, RequestMemory, the job's totals) and
/// EnableAssignNode filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_listed_by_their_requests_and_assigned_nodes() {
    let server = server().await;
    let mut ids = Vec::new();
    for (name, cpu, gpu) in [("g0", 1, 0), ("g1", 1, 1), ("g2", 2, 2)] {
        ids.push(server.create_job(job(name, cpu, gpu, "true")).await);
    }
    let names = |listed: &Value| -> Vec<String> {
        let mut names: Vec<String> = listed["Jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["DisplayName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let list = |query: &str| {
        let path = format!("/api/v1/jobs?{query}");
        let server = &server;
        async move { server.ok("GET", &path, None).await }
    };
    let one_gpu = list("NumericRangeField=RequestGPU&NumericRangeMin=1&NumericRangeMax=1").await;
    assert_eq!(names(&one_gpu), ["g1"]);
    let two_cpus = list("NumericRangeField=RequestCPU&NumericRangeMin=2").await;
    assert_eq!(names(&two_cpus), ["g2"]);
    let memory = list("NumericRangeField=RequestMemory&NumericRangeMax=1").await;
    assert_eq!(names(&memory), ["g0", "g1", "g2"], "1 GiB each");
    // AssignNodeSpec on: only the job that asked for a node.
    let node = {
        let done = server.wait_status(&ids[0], "Succeeded").await;
        done["Pods"][0]["NodeName"].as_str().unwrap().to_string()
    };
    let mut placed = job("placed", 1, 0, "true");
    placed["JobSpecs"][0]["AssignNodeSpec"] = json!({"EnableAssignNode": true, "NodeNames": node});
    server.create_job(placed).await;
    assert_eq!(names(&list("EnableAssignNode=true").await), ["placed"]);
    assert_eq!(names(&list("EnableAssignNode=false").await).len(), 3);
    server
        .error(
            "GET",
            "/api/v1/jobs?NumericRangeMin=1",
            None,
            400,
            "InvalidParameter",
        )
        .await;
    server
        .error(
            "GET",
            "/api/v1/jobs?NumericRangeField=Priority&NumericRangeMin=1",
            None,
            400,
            "InvalidParameter",
        )
        .await;
}
