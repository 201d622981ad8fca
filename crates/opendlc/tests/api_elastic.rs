//! Elastic training (`ElasticSpec`, `AutoScalingSpec`): a PyTorchJob starts with the Workers
//! that fit, grows when capacity frees, and its pods get torchrun's elastic rendezvous; with
//! PyTorch installed, a real torchrun job keeps training across a scale-up.

mod common;

use std::time::Duration;

use common::{path_with, python_with, TestServer};
use serde_json::{json, Value};

/// A pool of 3 CPUs, not overcommitted.
const CAPACITY: &str = "pool: {cpu: 3, memory: 8Gi}\ncpu_overcommit: 1\n";

async fn server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capacity.yaml");
    std::fs::write(&file, CAPACITY).unwrap();
    TestServer::start_with(dir, |c| c.capacity_file = Some(file)).await
}

fn job(name: &str, workers: u32, command: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": workers, "Image": "local",
                      "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}}],
    })
}

fn replicas(job: &Value) -> (i64, i64) {
    let status = &job["JobReplicaStatuses"][0];
    (
        status["Active"].as_i64().unwrap_or_default(),
        status["EstimatedPodCount"].as_i64().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elastic_job_starts_with_the_workers_that_fit_and_grows_when_a_blocker_ends() {
    let server = server().await;
    let blocker = server.create_job(job("blocker", 2, "sleep 600")).await;
    server.wait_status(&blocker, "Running").await;
    let mut body = job(
        "elastic",
        3,
        r#"echo "nnodes=$PET_NNODES backend=$PET_RDZV_BACKEND $PET_RDZV_CONF"; sleep 600"#,
    );
    body["JobSpecs"][0]["AutoScalingSpec"] = json!({"MinReplicas": 1, "MaxReplicas": 3});
    let elastic = server.create_job(body).await;
    let running = server.wait_status(&elastic, "Running").await;
    assert_eq!(replicas(&running), (1, 3), "one of three runs: {running}");
    assert_eq!(running["ElasticSpec"]["MinParallelism"], 1);
    assert_eq!(running["ElasticSpec"]["MaxParallelism"], 3);

    server.stop_job(&blocker).await;
    let grown = server
        .wait_job(&elastic, Duration::from_secs(20), |j| replicas(j) == (3, 3))
        .await;
    assert_eq!(grown["Status"], "Running");
    let events = server.events(&elastic).await;
    let joined = events
        .iter()
        .filter(|e| e.contains(" joins: the job grows to"))
        .count();
    assert_eq!(joined, 2, "{events:?}");
    for (pod, host) in [("worker-0", "true"), ("worker-2", "false")] {
        // A pod runs once its command started; what it prints comes a moment later.
        let pod_id = format!("{elastic}-{pod}");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let logs = loop {
            let logs = server.logs(&elastic, &pod_id, "").await;
            if !logs.is_empty() || std::time::Instant::now() > deadline {
                break logs;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            logs,
            [format!(
                "nnodes=1:3 backend=c10d is_host={host},last_call_timeout=5"
            )],
            "{pod}"
        );
    }
    // UpdateJob: down to 2, the named pod leaving; the job runs on.
    let mut specs = grown["JobSpecs"].clone();
    specs[0]["PodCount"] = json!(2);
    specs[0]["AutoScalingSpec"]["PodsToDelete"] = json!([format!("{elastic}-worker-1")]);
    server
        .ok(
            "PUT",
            &format!("/api/v1/jobs/{elastic}"),
            Some(json!({"JobSpecs": specs})),
        )
        .await;
    let shrunk = server
        .wait_job(&elastic, Duration::from_secs(20), |j| replicas(j) == (2, 2))
        .await;
    assert_eq!(shrunk["Status"], "Running", "{shrunk}");
    let running: Vec<&str> = shrunk["Pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PodId"].as_str().unwrap())
        .collect();
    assert!(
        !running.contains(&format!("{elastic}-worker-1").as_str()),
        "{running:?}"
    );
    server.stop_job(&elastic).await;
    server.wait_status(&elastic, "Stopped").await;
}

const TORCH_ELASTIC: &str = r#"
import os, sys, time, torch, torch.distributed as dist
dist.init_process_group("gloo")
world = dist.get_world_size()
# The step survives re-forming the world: rank 0 keeps it in the shared working directory.
step = torch.tensor([int(open("step").read()) if os.path.exists("step") else 0])
dist.broadcast(step, 0)
step = int(step.item())
at_two = 0
while True:
    t = torch.tensor([1.0])
    dist.all_reduce(t)
    step += 1
    at_two += int(t.item()) == 2
    if dist.get_rank() == 0:
        # Whole or not at all: torchrun may stop this process at any instruction.
        with open("step.tmp", "w") as f:
            f.write(str(step))
        os.replace("step.tmp", "step")
        sys.stdout.write(f"step {step} world {int(t.item())}\n")
        sys.stdout.flush()
    if at_two >= 3:
        break
    time.sleep(0.2)
dist.destroy_process_group()
"#;

/// With PyTorch in the frameworks venv: a bare `torchrun` elastic job (gloo, CPU) starts with
/// one worker while a blocker holds the rest, keeps training, and goes on at two workers once
/// the blocker ends and the job grows — the steps continue across the resize.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torchrun_elastic_job_keeps_training_across_a_scale_up() {
    let Some(python) = python_with("torch") else {
        eprintln!("(scripts/frameworks-env.sh installs PyTorch unless OPENDLC_WITH_TORCH=0)");
        return;
    };
    let server = server().await;
    let blocker = server.create_job(job("blocker", 2, "sleep 600")).await;
    server.wait_status(&blocker, "Running").await;
    let script = server.scratch().join("elastic.py");
    std::fs::write(&script, TORCH_ELASTIC).unwrap();
    let mut body = job(
        "torch-elastic",
        2,
        &format!("torchrun {}", script.display()),
    );
    body["Envs"] = json!({"PATH": path_with(&python)});
    body["ElasticSpec"] =
        json!({"EnableElasticTraining": true, "MinParallelism": 1, "MaxParallelism": 2});
    let elastic = server.create_job(body).await;
    server.wait_status(&elastic, "Running").await;
    let master = format!("{elastic}-worker-0");
    // It trains alone first.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let logs = server.logs(&elastic, &master, "").await;
        if logs.iter().any(|l| l.contains(" world 1")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never trained alone: {logs:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop_job(&blocker).await;
    let job = server
        .wait_job(&elastic, Duration::from_secs(180), |j| {
            ["Succeeded", "Failed", "Stopped"].contains(&j["Status"].as_str().unwrap_or_default())
        })
        .await;
    let logs = server.logs(&elastic, &master, "").await;
    let joined = server
        .logs(&elastic, &format!("{elastic}-worker-1"), "")
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job} {logs:?} {joined:?}");
    let steps: Vec<(u32, u32)> = logs
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("step ")?;
            let (step, world) = rest.split_once(" world ")?;
            Some((step.parse().ok()?, world.parse().ok()?))
        })
        .collect();
    let first_at_two = steps
        .iter()
        .position(|(_, w)| *w == 2)
        .expect("never at two");
    assert!(
        first_at_two > 0 && steps[..first_at_two].iter().all(|(_, w)| *w == 1),
        "{steps:?}"
    );
    // Training went on from where it was: the steps only ever go up.
    assert!(steps.windows(2).all(|w| w[1].0 > w[0].0), "{steps:?}");
}
