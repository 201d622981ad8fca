//! Job types get their framework's contract: a TFJob's pods find each other through TF_CONFIG;
//! an XGBoostJob's pods get the Rabit tracker variables and train through its collective.

mod common;

use std::time::Duration;

use common::{path_with, python_with, TestServer};
use serde_json::json;

const TF_SCRIPT: &str = r#"
import json, os, socket, time
c = json.loads(os.environ["TF_CONFIG"])
me = c["task"]
host, port = c["cluster"][me["type"]][me["index"]].rsplit(":", 1)
if me["type"] == "chief":
    others = [a for t, addrs in c["cluster"].items() if t != "chief" for a in addrs]
    for a in others:
        h, p = a.rsplit(":", 1)
        for _ in range(200):
            try:
                s = socket.create_connection((h, int(p))); print("reached", s.recv(64).decode()); s.close(); break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("could not reach " + a)
else:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port))); s.listen(1)
    conn, _ = s.accept(); conn.sendall(("%s-%d" % (me["type"], me["index"])).encode()); conn.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tf_pods_rendezvous_through_tf_config() {
    let server = TestServer::start().await;
    let specs: Vec<_> = [("Chief", 1), ("Worker", 2), ("PS", 1)]
        .iter()
        .map(|(role, count)| json!({"Type": role, "PodCount": count, "ResourceConfig": {"CPU": "0.2", "Memory": "128Mi"}}))
        .collect();
    let body = json!({
        "DisplayName": "tf-rdzv",
        "JobType": "TFJob",
        "SuccessPolicy": "ChiefWorker",
        "JobSpecs": specs,
        "UserCommand": format!("python3 -c '{TF_SCRIPT}'"),
    });
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let mut reached = server.logs(&job_id, &format!("{job_id}-chief-0"), "").await;
    reached.sort();
    assert_eq!(
        reached,
        ["reached ps-0", "reached worker-0", "reached worker-1"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xgboost_pods_get_the_tracker_variables() {
    let server = TestServer::start().await;
    let body = json!({
        "DisplayName": "xgb",
        "JobType": "XGBoostJob",
        "JobSpecs": [{"Type": "Master", "PodCount": 1}, {"Type": "Worker", "PodCount": 1}],
        "UserCommand": "echo $DMLC_TRACKER_URI:$DMLC_TRACKER_PORT $DMLC_TASK_ID/$DMLC_NUM_WORKER $DMLC_ROLE $MASTER_PORT",
    });
    let job_id = server.create_job(body).await;
    server.wait_status(&job_id, "Succeeded").await;
    let line = &server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await[0];
    let fields: Vec<&str> = line.split(' ').collect();
    assert!(fields[0].starts_with("127.0.0.1:"), "{line}");
    assert_eq!(
        fields[0].rsplit(':').next(),
        Some(fields[3]),
        "the tracker is on MASTER_PORT: {line}"
    );
    assert_eq!((fields[1], fields[2]), ("1/2", "worker"));
}

/// Rank 0 runs the tracker on DMLC_TRACKER_URI:DMLC_TRACKER_PORT (MASTER_PORT); every rank
/// joins the collective from the contract's variables and trains.
const XGB_SCRIPT: &str = r#"
import os
import numpy as np
import xgboost as xgb
from xgboost import collective
from xgboost.tracker import RabitTracker

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
uri, port = os.environ["DMLC_TRACKER_URI"], int(os.environ["DMLC_TRACKER_PORT"])
tracker = None
if rank == 0:
    tracker = RabitTracker(host_ip=uri, n_workers=world, port=port)
    tracker.start()
args = {"dmlc_tracker_uri": uri, "dmlc_tracker_port": port, "dmlc_task_id": os.environ["DMLC_TASK_ID"]}
with collective.CommunicatorContext(**args):
    rng = np.random.default_rng(rank)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "tree_method": "hist"},
                        xgb.DMatrix(X, label=y), num_boost_round=5)
    print(f"rank {collective.get_rank()} of {collective.get_world_size()} trained "
          f"{booster.num_boosted_rounds()} rounds", flush=True)
if tracker is not None:
    tracker.wait_for()
"#;

/// A Python with xgboost: OPENDLC_TEST_PYTHON (scripts/test.sh points it at the test venv).
fn python_with_xgboost() -> Option<String> {
    let python = std::env::var("OPENDLC_TEST_PYTHON").ok()?;
    let ok = std::process::Command::new(&python)
        .args(["-c", "import xgboost"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xgboost_job_trains_through_its_collective() {
    let Some(python) = python_with_xgboost() else {
        eprintln!(
            "no python with xgboost (set OPENDLC_TEST_PYTHON; scripts/test.sh does): skipped"
        );
        return;
    };
    let server = TestServer::start().await;
    let script = server.scratch().join("train_xgb.py");
    std::fs::write(&script, XGB_SCRIPT).unwrap();
    let body = json!({
        "DisplayName": "xgb-train",
        "JobType": "XGBoostJob",
        "JobSpecs": [{"Type": "Master", "PodCount": 1, "ResourceConfig": {"CPU": "0.5", "Memory": "512Mi"}},
                     {"Type": "Worker", "PodCount": 1, "ResourceConfig": {"CPU": "0.5", "Memory": "512Mi"}}],
        "UserCommand": format!("{python} {}", script.display()),
    });
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(90), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    for (pod, rank) in [("master-0", 0), ("worker-0", 1)] {
        let logs = server
            .logs(&job_id, &format!("{job_id}-{pod}"), "")
            .await
            .join("\n");
        assert!(
            logs.contains(&format!("rank {rank} of 2 trained 5 rounds")),
            "{pod}: {logs}"
        );
    }
}

/// A program on PATH, or None with the reason printed (the test then skips).
fn program(name: &str, install: &str) -> Option<String> {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if found.is_none() {
        eprintln!("{name} is not installed ({install}): skipped");
    }
    found
}

fn mpi_job(name: &str, workers: u32, command: &str) -> serde_json::Value {
    let small = json!({"CPU": "0.2", "Memory": "256Mi"});
    json!({
        "DisplayName": name,
        "JobType": "MPIJob",
        "JobSpecs": [{"Type": "Launcher", "PodCount": 1, "ResourceConfig": small},
                     {"Type": "Worker", "PodCount": workers, "ResourceConfig": small}],
        "UserCommand": command,
    })
}

/// mpirun in the Launcher starts one rank per Worker slot inside the Worker pods: each rank's
/// output is in its Worker's log, not the Launcher's; the Launcher's exit decides the job and
/// the Workers, which served it, end with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mpi_launcher_starts_its_ranks_in_the_worker_pods() {
    if program("mpirun", "scripts/frameworks-env.sh installs openmpi-bin").is_none() {
        return;
    }
    let server = TestServer::start().await;
    let hello = r#"echo rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE on $(hostname) in group $(ps -o pgid= $$)"#;
    let body = mpi_job(
        "mpi-hello",
        2,
        &format!("cat $OMPI_MCA_orte_default_hostfile && mpirun -np 2 sh -c '{hello}'"),
    );
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(60), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    let launcher = server
        .logs(&job_id, &format!("{job_id}-launcher-0"), "")
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job} {launcher:?}");
    let launcher = server
        .logs(&job_id, &format!("{job_id}-launcher-0"), "")
        .await;
    // The hostfile, and no rank output (mpirun may add warnings of its own, such as losing
    // a race to set a daemon's process group).
    assert_eq!(
        launcher[..2.min(launcher.len())],
        [
            format!("{job_id}-worker-0 slots=1"),
            format!("{job_id}-worker-1 slots=1")
        ],
        "the hostfile first: {launcher:?}"
    );
    assert!(
        launcher.iter().all(|l| !l.starts_with("rank ")),
        "no rank output in the launcher: {launcher:?}"
    );
    for (index, pod) in job["Pods"].as_array().unwrap().iter().enumerate() {
        assert_eq!(pod["Status"], "Succeeded", "{index}: {pod}");
    }
    for worker in 0..2 {
        let pod = &job["Pods"][worker + 1];
        let logs = server
            .logs(&job_id, pod["PodId"].as_str().unwrap(), "")
            .await;
        let line = logs
            .iter()
            .find(|l| l.starts_with("rank "))
            .unwrap_or_else(|| panic!("worker {worker}: {logs:?}"));
        assert!(
            line.starts_with(&format!("rank {worker} of 2 on ")),
            "{line}"
        );
        // The rank runs in the Worker pod's process group (the pod's command is its leader).
        let group = line.rsplit(' ').next().unwrap();
        let pod_pid = pod_pid(&server, &job_id, pod);
        assert_eq!(group, pod_pid.to_string(), "{line}");
    }
}

/// The pid of a pod's command, from the pod's `started.json`.
fn pod_pid(server: &TestServer, job_id: &str, pod: &serde_json::Value) -> u64 {
    let dir = server
        .data_dir
        .path()
        .join("jobs")
        .join(job_id)
        .join("pods")
        .join(pod["PodUid"].as_str().unwrap());
    let started: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("started.json")).unwrap()).unwrap();
    started["pgid"].as_u64().unwrap()
}

/// Real MPI traffic between ranks in different Worker pods (mpi4py's allreduce), and a failed
/// Launcher fails the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mpi_ranks_in_different_workers_allreduce() {
    if program("mpirun", "scripts/frameworks-env.sh installs openmpi-bin").is_none() {
        return;
    }
    let python = "/usr/bin/python3";
    let has_mpi4py = std::process::Command::new(python)
        .args(["-c", "import mpi4py"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_mpi4py {
        eprintln!(
            "{python} has no mpi4py (scripts/frameworks-env.sh installs python3-mpi4py): skipped"
        );
        return;
    }
    let server = TestServer::start().await;
    let script = server.scratch().join("allreduce.py");
    std::fs::write(
        &script,
        "from mpi4py import MPI\nc = MPI.COMM_WORLD\n\
         print('rank', c.Get_rank(), 'sum', c.allreduce(c.Get_rank() + 1), flush=True)\n",
    )
    .unwrap();
    let command = format!("mpirun -np 2 {python} {} && exit 3", script.display());
    let job_id = server
        .create_job(mpi_job("mpi-allreduce", 2, &command))
        .await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(60), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Failed", "{job}");
    assert!(
        job["ReasonMessage"]
            .as_str()
            .unwrap()
            .contains("launcher-0 exited with code 3"),
        "{job}"
    );
    for worker in 0..2 {
        let logs = server
            .logs(&job_id, &format!("{job_id}-worker-{worker}"), "")
            .await;
        assert!(
            logs.contains(&format!("rank {worker} sum 3")),
            "worker {worker}: {logs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mpi_job_needs_a_launcher_and_a_ray_job_a_head() {
    let server = TestServer::start().await;
    for (job_type, needed) in [("MPIJob", "Launcher"), ("RayJob", "Head")] {
        let body = json!({
            "DisplayName": "no-driver",
            "JobType": job_type,
            "JobSpecs": [{"Type": "Worker", "PodCount": 2}],
            "UserCommand": "true",
        });
        let err = server
            .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
            .await;
        let message = err["Message"].as_str().unwrap();
        assert!(
            message.contains("JobSpecs") && message.contains(&format!("needs one {needed}")),
            "{message}"
        );
    }
}

/// The driver runs one task pinned to each node the cluster has (not a spread, which Ray
/// places as its view of the nodes' load allows): the worker serves tasks once it has joined.
const RAY_DRIVER: &str = r#"
import os, sys, time, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
ray.init()
@ray.remote(num_cpus=1)
def node():
    return ray.get_runtime_context().get_node_id()
alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
pinned = [node.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote() for n in alive]
used = set(ray.get(pinned))
print(f"RAY_ADDRESS={os.environ['RAY_ADDRESS']} alive={len(alive)} used={len(used)}", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.2)
"#;

/// The Head starts a Ray head, the Worker joins it, the UserCommand runs as the driver with
/// RAY_ADDRESS set and uses both nodes; GetRayDashboard links to the head's dashboard while the
/// job runs; the driver's exit decides the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ray_job_runs_its_command_on_a_head_its_workers_joined() {
    let Some(python) = python_with("ray") else {
        return;
    };
    let server = TestServer::start().await;
    let script = server.scratch().join("driver.py");
    std::fs::write(&script, RAY_DRIVER).unwrap();
    let done = server.scratch().join("done");
    let node = json!({"CPU": "1", "Memory": "2Gi"});
    let body = json!({
        "DisplayName": "ray",
        "JobType": "RayJob",
        "JobSpecs": [{"Type": "Head", "PodCount": 1, "ResourceConfig": node},
                     {"Type": "Worker", "PodCount": 1, "ResourceConfig": node}],
        "Envs": {"PATH": path_with(&python), "RAY_USAGE_STATS_ENABLED": "0"},
        "UserCommand": format!("python {} {}", script.display(), done.display()),
    });
    let job_id = server.create_job(body).await;
    let head = format!("{job_id}-head-0");
    // The job may queue behind other tests' jobs: its pods exist once it is admitted.
    server
        .wait_job(&job_id, Duration::from_secs(120), |j| {
            j["Pods"].as_array().is_some_and(|p| !p.is_empty())
        })
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let line = loop {
        let logs = server.logs(&job_id, &head, "").await;
        if let Some(line) = logs.iter().find(|l| l.starts_with("RAY_ADDRESS=")) {
            break line.clone();
        }
        let job = server.get_job(&job_id).await;
        assert!(
            std::time::Instant::now() < deadline && job["Status"] != "Failed",
            "{job}\n{logs:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(line.starts_with("RAY_ADDRESS=127.0.0.1:"), "{line}");
    if !line.ends_with("alive=2 used=2") {
        // What the Worker did instead of joining.
        let worker = server
            .logs(&job_id, &format!("{job_id}-worker-0"), "")
            .await;
        let job = server.get_job(&job_id).await;
        panic!("{line}\nworker: {worker:?}\n{job}");
    }

    let dashboard = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/rayDashboard"), None)
        .await;
    // The link goes through the server, with a token for the job; without it, no entry.
    let url = dashboard["url"].as_str().unwrap();
    let prefix = format!("{}/raydashboard/{job_id}/", server.base);
    assert!(url.starts_with(&format!("{prefix}?token=")), "{dashboard}");
    let page = reqwest::get(url).await.unwrap();
    assert!(page.status().is_success(), "{url}: {}", page.status());
    let cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(page.text().await.unwrap().contains("<html"), "{url}");
    let refused = reqwest::get(&prefix).await.unwrap();
    assert_eq!(refused.status(), 401);
    let token = cookie.split(';').next().unwrap();
    let with_cookie = reqwest::Client::new()
        .get(&prefix)
        .header("cookie", token)
        .send()
        .await
        .unwrap();
    assert!(
        with_cookie.status().is_success(),
        "{}",
        with_cookie.status()
    );

    std::fs::write(&done, "").unwrap();
    let job = server
        .wait_job(&job_id, Duration::from_secs(60), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let err = server
        .error(
            "GET",
            &format!("/api/v1/jobs/{job_id}/rayDashboard"),
            None,
            400,
            "IncorrectStatus",
        )
        .await;
    assert!(
        err["Message"].as_str().unwrap().contains("Succeeded"),
        "{err}"
    );
}

const TORCH_ALLREDUCE: &str = r#"
import os, sys, torch, torch.distributed as dist
dist.init_process_group("gloo")
t = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(t)
# One write per line: the pod's two processes share its stdout (print writes the newline apart).
sys.stdout.write(f"rank {dist.get_rank()} of {dist.get_world_size()} local {os.environ['LOCAL_RANK']} sum {int(t.item())}\n")
sys.stdout.flush()
dist.destroy_process_group()
"#;

/// A PyTorchJob whose pods run a bare `torchrun` (its flags come from the PET_* variables, two
/// processes per pod here): the four ranks of two pods all-reduce over gloo on CPU. Needs torch
/// in the frameworks venv (scripts/frameworks-env.sh installs it unless OPENDLC_WITH_TORCH=0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pytorch_job_all_reduces_across_its_pods_with_torchrun() {
    let Some(python) = python_with("torch") else {
        eprintln!("(scripts/frameworks-env.sh installs PyTorch unless OPENDLC_WITH_TORCH=0)");
        return;
    };
    let server = TestServer::start().await;
    let script = server.scratch().join("allreduce.py");
    std::fs::write(&script, TORCH_ALLREDUCE).unwrap();
    let pod = json!({"CPU": "1", "Memory": "2Gi"});
    let body = json!({
        "DisplayName": "torch-allreduce",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Master", "PodCount": 1, "ResourceConfig": pod},
                     {"Type": "Worker", "PodCount": 1, "ResourceConfig": pod}],
        "Envs": {"PATH": path_with(&python)},
        "UserCommand": format!("torchrun --nproc-per-node=2 {}", script.display()),
    });
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(180), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    for (pod, ranks) in [("master-0", [0, 1]), ("worker-0", [2, 3])] {
        let mut logs: Vec<String> = server
            .logs(&job_id, &format!("{job_id}-{pod}"), "")
            .await
            .into_iter()
            .filter(|l| l.starts_with("rank "))
            .collect();
        logs.sort();
        let expected: Vec<String> = ranks
            .iter()
            .map(|r| format!("rank {r} of 4 local {} sum 10", r % 2))
            .collect();
        assert_eq!(logs, expected, "{pod}");
    }
}

/// Builds a pure-Python wheel `<name>-0.1-py3-none-any.whl` in `dir` whose module `name` has
/// `VALUE = "<name>"`, so installing it needs no network.
fn wheel(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let script = r#"
import sys, zipfile
out, name = sys.argv[1], sys.argv[2]
info = f"{name}-0.1.dist-info"
files = {
    f"{name}/__init__.py": f"VALUE = {name!r}\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
files[f"{info}/RECORD"] = "".join(f"{p},,\n" for p in files) + f"{info}/RECORD,,\n"
with zipfile.ZipFile(out, "w") as z:
    for p, text in files.items():
        z.writestr(p, text)
"#;
    let path = dir.join(format!("{name}-0.1-py3-none-any.whl"));
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .arg(name)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

/// ThirdpartyLibs and ThirdpartyLibDir's requirements.txt are installed into the job's venv
/// before the command, pip's output in the pod log, while the job is EnvPreparing; the two
/// pods share one install.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirdparty_libs_are_installed_before_the_command() {
    if program("python3", "a Python 3 interpreter").is_none() {
        return;
    }
    let server = TestServer::start().await;
    let wheels = server.scratch().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let first = wheel(&wheels, "opendlc_first");
    let second = wheel(&wheels, "opendlc_second");
    let lib_dir = server.scratch().join("code");
    std::fs::create_dir_all(&lib_dir).unwrap();
    std::fs::write(
        lib_dir.join("requirements.txt"),
        format!("{}\n", second.display()),
    )
    .unwrap();
    let body = json!({
        "DisplayName": "libs",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 2}],
        "ThirdpartyLibs": [first.display().to_string()],
        "ThirdpartyLibDir": format!("file://{}", lib_dir.display()),
        "UserCommand": "python3 -c 'import opendlc_first, opendlc_second; print(opendlc_first.VALUE, opendlc_second.VALUE)'",
    });
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(120), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let mut installs = 0;
    for pod in ["worker-0", "worker-1"] {
        let logs = server.logs(&job_id, &format!("{job_id}-{pod}"), "").await;
        assert!(
            logs.contains(&"opendlc_first opendlc_second".to_string()),
            "{pod}: {logs:?}"
        );
        if logs
            .iter()
            .any(|l| l.starts_with("Successfully installed "))
        {
            installs += 1;
        }
    }
    assert_eq!(installs, 1, "one pod installs, the other reuses the venv");
    // Running begins once both pods have their environment.
    let history = job["StatusHistory"].as_array().unwrap();
    let preparing = history
        .iter()
        .find(|h| h["Status"] == "EnvPreparing")
        .unwrap();
    let env_dir = server
        .data_dir
        .path()
        .join("jobs")
        .join(&job_id)
        .join("env");
    let installed = std::fs::metadata(env_dir.join("venv/.opendlc-ready"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let installed = opendlc_core::time::format_wire(installed);
    assert!(
        preparing["EndTime"].as_str().unwrap() >= installed.as_str(),
        "EnvPreparing ended before the install: {preparing} vs {installed}"
    );
}

/// A failed install fails the job with a reason; pip's complaint is in the pod log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_install_fails_the_job() {
    if program("python3", "a Python 3 interpreter").is_none() {
        return;
    }
    let server = TestServer::start().await;
    let missing = server.scratch().join("missing-0.1-py3-none-any.whl");
    let body = json!({
        "DisplayName": "libs-fail",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1}],
        "ThirdpartyLibs": [missing.display().to_string()],
        "UserCommand": "echo never",
    });
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(120), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Failed", "{job}");
    let reason = job["ReasonMessage"].as_str().unwrap();
    assert!(
        reason.contains("ThirdpartyLibs could not be installed: pip install exited with code 1"),
        "{reason}"
    );
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert!(!logs.contains(&"never".to_string()), "{logs:?}");
    assert!(
        logs.iter()
            .any(|l| l.contains("missing-0.1-py3-none-any.whl")),
        "{logs:?}"
    );
}

/// Writes `script` as the program `name` in a directory of the server's scratch; returns the
/// directory, to put on the pods' PATH.
fn stand_in(server: &TestServer, name: &str, script: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = server.scratch().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let program = bin.join(name);
    std::fs::write(&program, script).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// A DataJuicerJob with `CommandType: config` runs Data-Juicer's `dj-process` on its config
/// (here given inline, so written to a file first). A stand-in `dj-process` shows what it was
/// given: Data-Juicer itself is too big for the test environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_juicer_job_runs_dj_process_on_its_config() {
    let server = TestServer::start().await;
    let bin = stand_in(
        &server,
        "dj-process",
        "#!/bin/sh\necho \"dj-process $*\"\ncat \"$2\"\n",
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let job = |name: &str, pods: u32, path: &str| {
        json!({
            "DisplayName": name,
            "JobType": "DataJuicerJob",
            "JobSpecs": [{"Type": "Worker", "PodCount": pods, "EcsSpec": "ecs.c6.large"}],
            "Envs": {"PATH": path},
            "UserCommand": "project_name: demo\nnp: 1",
            "Settings": {"DataJuicerConfig": {"CommandType": "config", "ExecutionMode": "standalone"}},
        })
    };
    let job_id = server.create_job(job("dj", 1, &path)).await;
    let done = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(done["Status"], "Succeeded", "{done}");
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert!(
        logs[0].starts_with("dj-process --config ") && logs[0].ends_with("data-juicer.yaml"),
        "{logs:?}"
    );
    assert_eq!(logs[1..], ["project_name: demo", "np: 1"]);
    // Standalone, it runs on no Ray cluster: no Ray dashboard.
    let err = server
        .error(
            "GET",
            &format!("/api/v1/jobs/{job_id}/rayDashboard"),
            None,
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("distributed DataJuicerJob"),
        "{err}"
    );

    // Standalone is one pod.
    let err = server
        .error(
            "POST",
            "/api/v1/jobs",
            Some(job("two", 2, &path)),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        err["Message"].as_str().unwrap().contains("standalone"),
        "{err}"
    );

    // Without Data-Juicer, the pod fails at once, saying what is missing.
    let job_id = server.create_job(job("none", 1, "/usr/bin:/bin")).await;
    let failed = server.wait_status(&job_id, "Failed").await;
    let pod = &failed["Pods"][0];
    let text = failed.to_string();
    assert!(
        text.contains("dj-process") && text.contains("not on the pods' PATH"),
        "{pod}\n{failed}"
    );
}

/// A Ray head that does not start fails its job, and its pod's log says why: the errors its
/// processes logged are copied there before its files are removed. A stand-in `ray` fails the
/// way a raylet that cannot bind its port does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ray_head_that_does_not_start_fails_its_job_saying_why() {
    let server = TestServer::start().await;
    let bin = stand_in(
        &server,
        "ray",
        r#"#!/bin/sh
for arg; do case $arg in --temp-dir=*) dir=${arg#--temp-dir=};; esac; done
mkdir -p "$dir/session_1/logs" && ln -s session_1 "$dir/session_latest"
logs=$dir/session_1/logs
echo '[2026-12-04 12:27:00,817 I 1 1] (raylet) main.cc:1: starting' > "$logs/raylet.out"
echo '[2026-12-04 12:27:00,818 C 1 1] (raylet) grpc_server.cc:1: Check failed: port 41000 in use' >> "$logs/raylet.out"
echo '[2026-12-04 12:27:00,818 E 1 1] (raylet) main.cc:2: the raylet exits' >> "$logs/raylet.out"
echo 'Address already in use' > "$logs/raylet.err"
: > "$logs/dashboard.err"
echo 'Exception: The current node timed out during startup.'
exit 1
"#,
    );
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let job_id = server
        .create_job(json!({
            "DisplayName": "ray-fails",
            "JobType": "RayJob",
            "JobSpecs": [{"Type": "Head", "PodCount": 1, "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}}],
            "Envs": {"PATH": path},
            "UserCommand": "echo never",
        }))
        .await;
    server.wait_status(&job_id, "Failed").await;
    let logs = server.logs(&job_id, &format!("{job_id}-head-0"), "").await;
    let at = logs
        .iter()
        .position(|l| {
            l.starts_with("opendlc: the Ray head did not start (ray start exited with 1)")
        })
        .unwrap_or_else(|| panic!("{logs:?}"));
    assert_eq!(
        logs[at + 1..],
        [
            "[2026-12-04 12:27:00,818 C 1 1] (raylet) grpc_server.cc:1: Check failed: port 41000 in use",
            "[2026-12-04 12:27:00,818 E 1 1] (raylet) main.cc:2: the raylet exits",
            "== raylet.err",
            "Address already in use",
        ],
        "{logs:?}"
    );
    assert!(!logs.contains(&"never".to_string()), "{logs:?}");
}

/// A RayJob where `ray` is not installed fails at once with a reason that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ray_job_without_ray_fails_saying_so() {
    let server = TestServer::start().await;
    let node = json!({"CPU": "1", "Memory": "1Gi"});
    let job_id = server
        .create_job(json!({
            "DisplayName": "no-ray",
            "JobType": "RayJob",
            "JobSpecs": [{"Type": "Head", "PodCount": 1, "ResourceConfig": node}],
            "Envs": {"PATH": "/usr/bin:/bin"},
            "UserCommand": "python3 -c 'import ray'",
        }))
        .await;
    let failed = server.wait_status(&job_id, "Failed").await;
    let text = failed.to_string();
    assert!(
        text.contains("a RayJob needs Ray") && text.contains("`ray` is not on the pods' PATH"),
        "{failed}"
    );
}

/// DataSources and the CodeSource appear at their MountPaths: a data source registered in
/// sources.yaml (read-only), one given by its local path, and the registered repository checked
/// out at the job's branch. Nobody else on the host sees the mounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_sees_its_data_and_code_at_their_mount_paths() {
    if program("git", "git").is_none() {
        return;
    }
    let server = TestServer::start().await;
    let root = server.scratch();
    let (data, scratch, repo, mnt) = (
        root.join("imagenet"),
        root.join("scratch"),
        root.join("demo.git"),
        root.join("mnt"),
    );
    for dir in [&data, &scratch, &repo] {
        std::fs::create_dir_all(dir).unwrap();
    }
    // The pod writes there as its owner (not root): a directory its owner may write to.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::write(data.join("labels.txt"), "cat dog\n").unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("train.py"), "print('from main')\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "main"]);
    git(&["checkout", "-qb", "exp"]);
    std::fs::write(repo.join("train.py"), "print('from exp')\n").unwrap();
    git(&["commit", "-qam", "exp"]);
    // Beside the scratch root the test server declares.
    append(
        &server.data_dir.path().join("sources.yaml"),
        &format!(
            "code_sources:\n  code-demo:\n    repo: {}\ndata_sources:\n  d-imagenet:\n    uri: {}\n  \
             d-labels:\n    uri: {}\n    mount_path: {}\n",
            repo.display(),
            data.display(),
            data.display(),
            mnt.join("labels").display(),
        ),
    );
    let at = |name: &str| mnt.join(name).display().to_string();
    let body = json!({
        "DisplayName": "sources",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1}],
        "DataSources": [
            {"DataSourceId": "d-imagenet", "MountPath": at("data"), "MountAccess": "RO"},
            {"Uri": format!("file://{}", scratch.display()), "MountPath": at("scratch")},
            // Without a MountPath: where sources.yaml says.
            {"DataSourceId": "d-labels"},
        ],
        "CodeSource": {"CodeSourceId": "code-demo", "Branch": "exp", "MountPath": at("code")},
        "UserCommand": format!(
            "cat {data}/labels.txt; cat {labels}/labels.txt; cat {code}/train.py; \
             echo out > {scratch}/result; \
             touch {data}/new 2>/dev/null && echo writable || echo read-only",
            data = at("data"), code = at("code"), scratch = at("scratch"), labels = at("labels")
        ),
    });
    let job_id = server.create_job(body).await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(60), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}\n{logs:?}");
    // As root, a private mount namespace; otherwise symbolic links (mounts.rs).
    let root_user = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").unwrap().uid() == 0
    };
    let expected = [
        "cat dog",
        "cat dog",
        "print('from exp')",
        if root_user { "read-only" } else { "writable" },
    ];
    // The checkout is logged first, by the pod that makes it.
    assert!(
        logs[0].starts_with("opendlc: checking out ") && logs[0].contains(" at exp into "),
        "{logs:?}"
    );
    assert_eq!(logs[1..], expected, "{logs:?}");
    // What the pod wrote went to the source; with a private mount namespace (root), the mount
    // points stay empty directories for everyone else.
    assert_eq!(
        std::fs::read_to_string(scratch.join("result")).unwrap(),
        "out\n"
    );
    if root_user {
        assert_eq!(std::fs::read_dir(mnt.join("data")).unwrap().count(), 0);
    }
    assert!(!data.join("new").exists());

    // A source the server does not know is refused at CreateJob, naming the field.
    let err = server
        .error(
            "POST",
            "/api/v1/jobs",
            Some(json!({
                "DisplayName": "unknown-source",
                "JobType": "PyTorchJob",
                "JobSpecs": [{"Type": "Worker", "PodCount": 1}],
                "DataSources": [{"DataSourceId": "d-nowhere", "MountPath": at("x")}],
                "UserCommand": "true",
            })),
            400,
            "InvalidParameter",
        )
        .await;
    let message = err["Message"].as_str().unwrap();
    assert!(
        message.contains("DataSources[0].DataSourceId") && message.contains("d-nowhere"),
        "{err}"
    );
}

/// `LocalMountSpecs` mounts a granted host directory into the pods of its role alone;
/// paths outside the granted roots and Block devices are refused, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_sees_its_local_mounts_and_only_its_own() {
    let server = TestServer::start().await;
    let local = server.scratch().join("nvme");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("cache.bin"), "warm\n").unwrap();
    let target = server.scratch().join("mnt-local").display().to_string();
    let body = |local_path: &str, mode: &str| {
        json!({
            "DisplayName": "local-mounts",
            "JobType": "PyTorchJob",
            "JobSpecs": [
                {"Type": "Master", "PodCount": 1,
                 "LocalMountSpecs": [{"LocalPath": local_path, "MountPath": target, "MountMode": mode}]},
                {"Type": "Worker", "PodCount": 1},
            ],
            "UserCommand": format!("cat {target}/cache.bin 2>/dev/null || echo none"),
        })
    };
    let job_id = server
        .create_job(body(&local.display().to_string(), "Filesystem"))
        .await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["Status"] == "Succeeded" || j["Status"] == "Failed"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let master = server
        .logs(&job_id, &format!("{job_id}-master-0"), "")
        .await;
    assert_eq!(master, ["warm"]);
    // Without a private view (not root), a mount is a symbolic link every pod could follow;
    // with one, the worker's view has nothing there.
    if common::is_root() {
        let worker = server
            .logs(&job_id, &format!("{job_id}-worker-0"), "")
            .await;
        assert_eq!(worker, ["none"]);
    }

    for (local_path, mode, code, field) in [
        (
            "/etc",
            "Filesystem",
            "InvalidParameter",
            "JobSpecs[0].LocalMountSpecs[0].LocalPath",
        ),
        (
            "",
            "Filesystem",
            "MissingParameter",
            "JobSpecs[0].LocalMountSpecs[0].LocalPath",
        ),
        (
            "/dev/sda",
            "Block",
            "InvalidParameter",
            "JobSpecs[0].LocalMountSpecs[0].MountMode",
        ),
    ] {
        let err = server
            .error(
                "POST",
                "/api/v1/jobs",
                Some(body(local_path, mode)),
                400,
                code,
            )
            .await;
        assert!(err["Message"].as_str().unwrap().contains(field), "{err}");
    }
}

fn append(path: &std::path::Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}
