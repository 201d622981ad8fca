//! Job types get their framework's contract: a TFJob's pods find each other through TF_CONFIG;
//! an XGBoostJob's pods get the Rabit tracker variables and train through its collective.

mod common;

use std::time::Duration;

use common::TestServer;
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
    let script = server.data_dir.path().join("train_xgb.py");
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
