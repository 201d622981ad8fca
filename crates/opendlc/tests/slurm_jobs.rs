//! Jobs on a real Slurm cluster (scripts/slurm-env.sh: munge, slurmctld, two slurmd on this
//! host): a gang spread over both nodes with a real rendezvous, a TFJob, metrics, stop, restarts, and a
//! job waiting for resources with Slurm's reason. Skipped, with the reason printed, when no
//! cluster is up.

mod common;
mod slurm_support;

use std::time::Duration;

use common::{path_with, python_with, pytorch_job};
use serde_json::{json, Value};
use slurm_support::{available, finished, lock_cluster, server, whole_node_job};

/// Rank 0 listens on MASTER_ADDR:MASTER_PORT, every other rank connects and says hello.
const RENDEZVOUS: &str = r#"
import os, socket, time
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
node = os.environ.get("SLURMD_NODENAME", "?")
if rank == 0:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(world)
    got = []
    for _ in range(world - 1):
        c, _ = s.accept(); got.append(c.recv(64).decode()); c.close()
    print("master on", node, "heard", ",".join(sorted(got)))
else:
    for _ in range(400):
        try:
            c = socket.create_connection((addr, port)); break
        except OSError:
            time.sleep(0.05)
    else:
        raise SystemExit("no master at %s:%d" % (addr, port))
    c.sendall(("rank%d@%s" % (rank, node)).encode()); c.close()
    print("worker on", node)
"#;

fn pods(job: &Value) -> Vec<Value> {
    job["Pods"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pytorch_gang_spreads_over_both_nodes_and_meets() {
    if !available("a_pytorch_gang_spreads_over_both_nodes_and_meets") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let body = pytorch_job(
        "slurm-ddp",
        &[("Master", 1), ("Worker", 1)],
        &format!("python3 -c '{RENDEZVOUS}'"),
    );
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let mut nodes: Vec<String> = pods(&job)
        .iter()
        .map(|p| p["NodeName"].as_str().unwrap_or_default().to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2"], "{job}");
    let master = server
        .logs(&job_id, &format!("{job_id}-master-0"), "")
        .await;
    let master_node = pods(&job)
        .iter()
        .find(|p| p["Type"] == "Master")
        .map(|p| p["NodeName"].as_str().unwrap().to_string())
        .unwrap();
    let worker_node = if master_node == "n1" { "n2" } else { "n1" };
    assert_eq!(
        master,
        [format!("master on {master_node} heard rank1@{worker_node}")]
    );
    let events = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/events"), None)
        .await;
    let text = events.to_string();
    assert!(text.contains("Submitted to Slurm as job"), "{text}");
}

const TF_SCRIPT: &str = r#"
import json, os, socket, time
c = json.loads(os.environ["TF_CONFIG"])
me = c["task"]
host, port = c["cluster"][me["type"]][me["index"]].rsplit(":", 1)
if me["type"] == "chief":
    for a in c["cluster"]["worker"]:
        h, p = a.rsplit(":", 1)
        for _ in range(400):
            try:
                s = socket.create_connection((h, int(p))); print("reached", s.recv(64).decode(), "at", h); s.close(); break
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
async fn a_tfjob_with_roles_of_different_shapes_runs_as_one_heterogeneous_job() {
    if !available("a_tfjob_with_roles_of_different_shapes_runs_as_one_heterogeneous_job") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let body = json!({
        "DisplayName": "slurm-tf",
        "JobType": "TFJob",
        "SuccessPolicy": "ChiefWorker",
        "JobSpecs": [
            {"Type": "Chief", "PodCount": 1, "ResourceConfig": {"CPU": "1", "Memory": "256Mi"}},
            {"Type": "Worker", "PodCount": 2, "ResourceConfig": {"CPU": "2", "Memory": "512Mi"}},
        ],
        "UserCommand": format!("python3 -c '{TF_SCRIPT}'"),
    });
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let mut reached = server.logs(&job_id, &format!("{job_id}-chief-0"), "").await;
    reached.sort();
    // Each worker at its own node's address (TF_CONFIG filled in once Slurm placed the gang).
    let ip = |pod_id: String| {
        pods(&job)
            .iter()
            .find(|p| p["PodId"] == pod_id.as_str())
            .map(|p| p["Ip"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(
        reached,
        [
            format!("reached worker-0 at {}", ip(format!("{job_id}-worker-0"))),
            format!("reached worker-1 at {}", ip(format!("{job_id}-worker-1"))),
        ]
    );
    // Two shapes: one heterogeneous Slurm job with two components.
    let script = std::fs::read_dir(
        server
            .data_dir
            .path()
            .join("jobs")
            .join(&job_id)
            .join("slurm"),
    )
    .unwrap()
    .next()
    .unwrap()
    .unwrap()
    .path()
    .join("batch.sh");
    let script = std::fs::read_to_string(script).unwrap();
    assert_eq!(script.matches("#SBATCH hetjob").count(), 1, "{script}");
}

/// The job's pods answer to their names on Slurm too (`<PodId>`, `<role>-<index>`), each at its
/// node's address, through an /etc/hosts of the pod's own: pods run as their owner, in a user
/// namespace of their own that maps the owner to itself (what they write stays the owner's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_names_resolve_to_their_nodes() {
    if !available("pod_names_resolve_to_their_nodes") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let body = pytorch_job(
        "slurm-names",
        &[("Master", 1), ("Worker", 1)],
        "getent hosts $JOB_NAME-master-0 master-0 $JOB_NAME-worker-0 worker-0; \
         echo uid $(id -u) $(touch owned-$RANK && stat -c %u owned-$RANK)",
    );
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let ip = |pod_id: &str| {
        pods(&job)
            .iter()
            .find(|p| p["PodId"] == pod_id)
            .map(|p| p["Ip"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (master, worker) = (format!("{job_id}-master-0"), format!("{job_id}-worker-0"));
    let expected = vec![
        format!("{} {master}", ip(&master)),
        format!("{} master-0", ip(&master)),
        format!("{} {worker}", ip(&worker)),
        format!("{} worker-0", ip(&worker)),
    ];
    for pod in [&master, &worker] {
        let lines = server.logs(&job_id, pod, "").await;
        let (names, last) = lines.split_at(lines.len().saturating_sub(1));
        let names: Vec<String> = names
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(names, expected, "{pod}: {lines:?}");
        let ids: Vec<&str> = last[0].split(' ').collect();
        assert_eq!(ids[0], "uid", "{pod}: {lines:?}");
        assert_eq!(ids[1], ids[2], "{pod}: {lines:?}");
    }
}

/// Burns one core for ~2.5 s while holding 200 MB.
const BURN: &str = "python3 -c \"import time\nx = bytearray(200 * 1024 * 1024)\nt = time.time()\nwhile time.time() - t < 2.5: pass\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_slurm_nodes_have_their_own_metrics() {
    if !available("pods_on_slurm_nodes_have_their_own_metrics") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let body = pytorch_job("slurm-metrics", &[("Master", 1), ("Worker", 1)], BURN);
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    // The server cannot see processes on Slurm's nodes: each shim sampled its own pod into
    // metrics.jsonl, which the server read back while the pod ran.
    for metric in ["CpuCoreUsage", "MemoryUsage"] {
        let body = server
            .ok(
                "GET",
                &format!("/api/v1/jobs/{job_id}/metrics?MetricType={metric}&TimeStep=1s"),
                None,
            )
            .await;
        let series = body["PodMetrics"].as_array().cloned().unwrap_or_default();
        assert_eq!(series.len(), 2, "one series per pod: {body}");
        for pod in series {
            let peak = pod["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Value"].as_f64().unwrap())
                .fold(0.0, f64::max);
            match metric {
                // A busy loop gets up to one core: all of it on an idle machine, its share on
                // a loaded one (what else runs decides how much); an idle pod shows ~0.
                "CpuCoreUsage" => assert!(
                    peak > 1.0 && peak < 150.0,
                    "a busy loop shows, up to one core: {pod}"
                ),
                _ => assert!(peak > 150e6 && peak < 1e9, "200 MB are resident: {pod}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_running_job_ends_its_slurm_job() {
    if !available("stopping_a_running_job_ends_its_slurm_job") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let body = pytorch_job(
        "slurm-stop",
        &[("Master", 1), ("Worker", 1)],
        "trap 'echo got TERM; exit 143' TERM; echo up; while :; do sleep 0.1; done",
    );
    let job_id = server.create_job(body).await;
    server
        .wait_job(&job_id, Duration::from_secs(30), |j| {
            j["Status"] == "Running"
        })
        .await;
    server.stop_job(&job_id).await;
    let job = finished(&server, &job_id, Duration::from_secs(30)).await;
    assert_eq!(job["Status"], "Stopped", "{job}");
    for pod in pods(&job) {
        assert_eq!(pod["Status"], "Failed", "{pod}");
    }
    let logs = server
        .logs(&job_id, &format!("{job_id}-master-0"), "")
        .await;
    // The pod's process group got the SIGTERM (sh may report its `sleep` as Terminated).
    assert_eq!(logs[0], "up", "{logs:?}");
    assert!(logs.iter().any(|l| l == "got TERM"), "{logs:?}");
    // The Slurm job is over too.
    let record: Value = serde_json::from_slice(
        &std::fs::read(
            server
                .data_dir
                .path()
                .join("jobs")
                .join(&job_id)
                .join("pods")
                .join(pods(&job)[0]["PodUid"].as_str().unwrap())
                .join("slurm.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let id = record["slurm_job_id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let out = std::process::Command::new("squeue")
            .args(["-h", "-j", id, "-o", "%T"])
            .output()
            .unwrap();
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if state.is_empty() || !state.contains("RUNNING") && !state.contains("COMPLETING") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Slurm job {id} is still {state}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pod_restarts_the_gang_as_a_new_slurm_job() {
    if !available("a_failing_pod_restarts_the_gang_as_a_new_slurm_job") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let command = r#"if [ "$RANK" = 1 ] && [ ! -e failed-once ]; then touch failed-once; exit 1; fi; echo ok"#;
    let mut body = pytorch_job("slurm-restart", &[("Master", 1), ("Worker", 1)], command);
    for spec in body["JobSpecs"].as_array_mut().unwrap() {
        spec["RestartPolicy"] = json!("OnFailure");
    }
    body["Settings"] = json!({"ErrorMonitoringArgs": "--max-num-of-job-restart=2"});
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    assert_eq!(job["RestartTimes"], "1/2");
    let events = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/events"), None)
        .await
        .to_string();
    assert_eq!(
        events.matches("Submitted to Slurm as job").count(),
        2,
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_for_resources_shows_slurms_reason() {
    if !available("a_job_waiting_for_resources_shows_slurms_reason") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    // Fills both nodes (4 CPUs each).
    let filler = server.create_job(whole_node_job("slurm-fill", 2)).await;
    server
        .wait_job(&filler, Duration::from_secs(30), |j| {
            j["Status"] == "Running"
        })
        .await;
    let waiting = server.create_job(whole_node_job("slurm-wait", 1)).await;
    let job = server
        .wait_job(&waiting, Duration::from_secs(30), |j| {
            j["ReasonMessage"]
                .as_str()
                .is_some_and(|m| m.contains("is pending: Resources"))
        })
        .await;
    assert_eq!(job["Status"], "EnvPreparing", "{job}");
    assert_eq!(job["ReasonCode"], "SlurmJobPending", "{job}");
    server.stop_job(&filler).await;
    let job = server
        .wait_job(&waiting, Duration::from_secs(30), |j| {
            j["Status"] == "Running"
        })
        .await;
    assert_eq!(job["Pods"][0]["Status"], "Running", "{job}");
    server.stop_job(&waiting).await;
    let job = finished(&server, &waiting, Duration::from_secs(30)).await;
    assert_eq!(job["Status"], "Stopped");
}

/// PAI's SlurmJob: its UserCommand runs in a Slurm allocation with its JobSpecs' resources.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slurm_job_runs_its_command_in_an_allocation() {
    if !available("a_slurm_job_runs_its_command_in_an_allocation") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let body = json!({
        "DisplayName": "slurm-job",
        "JobType": "SlurmJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1,
                      "ResourceConfig": {"CPU": "2", "Memory": "1Gi"}}],
        "UserCommand": "echo job $SLURM_JOB_ID on $SLURMD_NODENAME with $SLURM_CPUS_PER_TASK cpus",
    });
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    let node = pods(&job)[0]["NodeName"].as_str().unwrap().to_string();
    assert!(
        logs.len() == 1
            && logs[0].starts_with("job ")
            && logs[0].ends_with(&format!("on {node} with 2 cpus")),
        "{logs:?}"
    );
}

/// An MPIJob on Slurm: the Launcher's `mpirun` starts one rank in each Worker pod, wherever
/// Slurm placed them, and their output is in the Workers' logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mpi_job_runs_its_ranks_in_the_worker_pods() {
    if !available("an_mpi_job_runs_its_ranks_in_the_worker_pods") {
        return;
    }
    if std::process::Command::new("mpirun")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: no mpirun (scripts/frameworks-env.sh installs openmpi-bin)");
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let small = json!({"CPU": "1", "Memory": "256Mi"});
    // With mpi4py the ranks also talk to each other (an allreduce over the nodes' network).
    let has_mpi4py = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import mpi4py"])
        .output()
        .is_ok_and(|o| o.status.success());
    let rank = if has_mpi4py {
        r#"/usr/bin/python3 -c "from mpi4py import MPI; import os; c = MPI.COMM_WORLD; print('rank', c.Get_rank(), 'of', c.Get_size(), 'on', os.environ['SLURMD_NODENAME'], 'sum', c.allreduce(c.Get_rank() + 1), flush=True)""#
    } else {
        r#"sh -c 'echo rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE on $SLURMD_NODENAME'"#
    };
    let body = json!({
        "DisplayName": "slurm-mpi",
        "JobType": "MPIJob",
        "JobSpecs": [{"Type": "Launcher", "PodCount": 1, "ResourceConfig": small},
                     {"Type": "Worker", "PodCount": 2, "ResourceConfig": small}],
        "UserCommand": format!("mpirun -np 2 {rank}"),
    });
    let job_id = server.create_job(body).await;
    let job = finished(&server, &job_id, Duration::from_secs(90)).await;
    if job["Status"] != "Succeeded" {
        let mut logs = String::new();
        for pod in pods(&job) {
            let pod = pod["PodId"].as_str().unwrap();
            let lines = server.logs(&job_id, pod, "").await;
            logs += &format!("\n{pod}: {lines:?}");
        }
        panic!("{job}{logs}");
    }
    for (worker, pod) in pods(&job)
        .iter()
        .filter(|p| p["Type"] == "Worker")
        .enumerate()
    {
        let logs = server
            .logs(&job_id, pod["PodId"].as_str().unwrap(), "")
            .await;
        let node = pod["NodeName"].as_str().unwrap();
        let line = format!("rank {worker} of 2 on {node}");
        let line = if has_mpi4py {
            format!("{line} sum 3")
        } else {
            line
        };
        assert!(logs.contains(&line), "worker {worker} on {node}: {logs:?}");
        // Its remote shell listened on TCP at its node's address (pods on several nodes cannot
        // share a Unix socket), with the job's secret.
        let mpi = server
            .data_dir
            .path()
            .join("jobs")
            .join(&job_id)
            .join("mpi");
        let id = pod["PodId"].as_str().unwrap();
        let published = std::fs::read_to_string(mpi.join(format!("{id}.addr"))).unwrap();
        let ip = pod["Ip"].as_str().unwrap();
        assert!(published.starts_with(&format!("\"{ip}:")), "{published}");
        assert!(!mpi.join(format!("{id}.sock")).exists());
    }
}

/// The driver: the addresses the Ray nodes joined with, and the Slurm nodes its tasks ran on.
const RAY_DRIVER: &str = r#"
import os, time, ray
ray.init()
@ray.remote(num_cpus=3)  # a whole node each: two at a time run on different nodes
def where():
    time.sleep(0.5)
    return os.environ["SLURMD_NODENAME"]
ran = sorted(set(ray.get([where.remote() for _ in range(4)])))
joined = sorted(n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"])
print("joined", " ".join(joined), "ran", " ".join(ran), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ray_job_spans_both_nodes() {
    if !available("a_ray_job_spans_both_nodes") {
        return;
    }
    let Some(python) = python_with("ray") else {
        return;
    };
    let _lock = lock_cluster();
    let server = server().await;
    let script = server.scratch().join("driver.py");
    std::fs::write(&script, RAY_DRIVER).unwrap();
    // 3 of a node's 4 CPUs each: the two pods cannot share a node.
    let node = json!({"CPU": "3", "Memory": "2Gi"});
    let body = json!({
        "DisplayName": "slurm-ray",
        "JobType": "RayJob",
        "JobSpecs": [{"Type": "Head", "PodCount": 1, "ResourceConfig": node},
                     {"Type": "Worker", "PodCount": 1, "ResourceConfig": node}],
        "Envs": {"PATH": path_with(&python), "RAY_USAGE_STATS_ENABLED": "0"},
        "UserCommand": format!("python {} && sleep 30", script.display()),
    });
    let job_id = server.create_job(body).await;
    let head = format!("{job_id}-head-0");
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let line = loop {
        let job = server.get_job(&job_id).await;
        if !pods(&job).is_empty() {
            let logs = server.logs(&job_id, &head, "").await;
            if let Some(line) = logs.iter().find(|l| l.starts_with("joined ")) {
                break line.clone();
            }
            assert!(
                std::time::Instant::now() < deadline && job["Status"] != "Failed",
                "{job}\n{logs:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The tasks ran on both nodes, one Ray node each. (Both test nodes are at 127.0.0.1, which
    // Ray reports under the host's own address: the per-pod address is checked by the TFJob
    // and MPI tests and the unit tests of slurm::addresses.)
    let (joined, ran) = line.split_once(" ran ").unwrap();
    assert_eq!(ran, "n1 n2", "{line}");
    assert_eq!(
        joined.trim_start_matches("joined ").split(' ').count(),
        2,
        "{line}"
    );
    // GetRayDashboard: the server proxies the head's dashboard on the head's node.
    let dashboard = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/rayDashboard"), None)
        .await;
    let url = dashboard["url"].as_str().unwrap();
    let page = reqwest::get(url).await.unwrap();
    assert!(page.status().is_success(), "{url}: {}", page.status());
    // Stopped, the pods leave at once: no grace period waited out (30 s).
    let stopped = std::time::Instant::now();
    server.stop_job(&job_id).await;
    let job = finished(&server, &job_id, Duration::from_secs(60)).await;
    assert_eq!(job["Status"], "Stopped", "{job}");
    assert!(stopped.elapsed() < Duration::from_secs(15), "{job}");
}

/// AssignNodeSpec on Slurm: a job's pods run only where its NodeNames allow and never where
/// its AntiAffinityNodeNames forbid; a node Slurm does not have is refused at CreateJob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_nodes_are_where_the_pods_run() {
    if !available("assigned_nodes_are_where_the_pods_run") {
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    for (only, never, node) in [("n2", "", "n2"), ("", "n2", "n1"), ("n1,n2", "n1", "n2")] {
        let mut body = pytorch_job("placed", &[("Worker", 1)], "true");
        body["JobSpecs"][0]["AssignNodeSpec"] = json!({
            "EnableAssignNode": true, "NodeNames": only, "AntiAffinityNodeNames": never,
        });
        let job_id = server.create_job(body).await;
        let job = finished(&server, &job_id, Duration::from_secs(60)).await;
        assert_eq!(job["Status"], "Succeeded", "{job}");
        for pod in pods(&job) {
            assert_eq!(pod["NodeName"], node, "{only}/{never}: {pod}");
        }
    }
    let mut body = pytorch_job("nowhere", &[("Worker", 1)], "true");
    body["JobSpecs"][0]["AssignNodeSpec"] = json!({"EnableAssignNode": true, "NodeNames": "n9"});
    let err = server
        .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
        .await;
    assert!(
        err["Message"].as_str().unwrap().contains("no node n9 here"),
        "{err}"
    );
}
