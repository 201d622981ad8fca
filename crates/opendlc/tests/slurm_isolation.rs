//! Tenants on a Slurm cluster: the server submits each job as its owner's account (`sbatch
//! --uid`), so Slurm runs every pod as that account, and file modes keep the other users' jobs
//! and the server's data from it (docs/SECURITY.md). Needs a server running as root (the only
//! way to submit for other users) and the cluster of scripts/slurm-env.sh; elsewhere it says so
//! and passes.

mod common;
mod slurm_support;

use std::time::Duration;

use serde_json::{json, Value};
use slurm_support::{available, finished, lock_cluster, server};

fn job(name: &str, command: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": 1,
                      "ResourceConfig": {"CPU": "1", "Memory": "256Mi"}}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_slurm_run_as_their_owners_account_and_reach_nothing_of_others() {
    let test = "pods_on_slurm_run_as_their_owners_account_and_reach_nothing_of_others";
    if !available(test) {
        return;
    }
    if !common::is_root() {
        eprintln!("skipping {test}: only a server running as root submits for other users");
        return;
    }
    let _lock = lock_cluster();
    let server = server().await;
    let (alice, bob) = (server.add_user("alice"), server.add_user("bob"));
    let data = server.data_dir.path().canonicalize().unwrap();
    let secret = server
        .create_job_as(
            &alice,
            job("alice", "echo alice-secret > secret.txt; exec sleep 600"),
        )
        .await;
    let alice_work = data.join("jobs").join(&secret).join("work");
    let secret_file = alice_work.join("secret.txt");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !secret_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's pod never wrote its file"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let probe = format!(
        r#"try() {{ if "$@" >/dev/null 2>&1; then echo "ALLOWED: $*"; else echo "denied: $*"; fi; }}
echo "uid=$(id -u) user=$(id -un) home=$HOME"
try cat {work}/secret.txt
try ls {work}
try ls {data}/jobs
try ls {data}
try cat {data}/opendlc.db
try cat {data}/token-key
try cat /etc/shadow
try kill -0 {server}
echo mine > mine.txt && echo "own work dir writable""#,
        work = alice_work.display(),
        data = data.display(),
        server = std::process::id(),
    );
    let snoop = server.create_job_as(&bob, job("bob", &probe)).await;
    let done = finished(&server, &snoop, Duration::from_secs(90)).await;
    server.stop_job(&secret).await;
    let stopped = finished(&server, &secret, Duration::from_secs(60)).await;
    assert_eq!(stopped["Status"], "Stopped", "{stopped}");
    let seen = server
        .logs(&snoop, &format!("{snoop}-worker-0"), "")
        .await
        .join("\n");
    assert_eq!(done["Status"], "Succeeded", "{done}\n{seen}");

    let bob_uid = opendlc_server::DEFAULT_UID_BASE + 3; // admin 1, alice 2, bob 3
    let bob_home = data.join("jobs").join(&snoop).join("work");
    assert!(
        seen.contains(&format!(
            "uid={bob_uid} user=opendlc-3 home={}",
            bob_home.display()
        )),
        "{seen}"
    );
    assert!(!seen.contains("ALLOWED"), "{seen}");
    assert_eq!(seen.matches("denied:").count(), 8, "{seen}");
    assert!(seen.contains("own work dir writable"), "{seen}");
    // Slurm knows the job as Bob's.
    let owner = std::process::Command::new("squeue")
        .args(["-h", "-t", "all", "-n", &snoop, "-o", "%u"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&owner.stdout).trim(),
        "opendlc-3",
        "{owner:?}"
    );
}
