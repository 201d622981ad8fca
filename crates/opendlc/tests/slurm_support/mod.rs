//! The Slurm tests' shared parts: whether a cluster is there (scripts/slurm-env.sh starts one),
//! a server on the Slurm runtime, and one cluster-wide lock so that tests in parallel processes
//! do not take each other's CPUs.

#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::common::TestServer;

/// The cluster from `scripts/slurm-env.sh` (SLURM_CONF in the environment), if it answers;
/// otherwise prints why the test is skipped.
pub fn available(test: &str) -> bool {
    if std::env::var_os("SLURM_CONF").is_none() {
        eprintln!(
            "skipping {test}: no Slurm cluster (run `eval \"$(scripts/slurm-env.sh start)\"`)"
        );
        return false;
    }
    let idle = std::process::Command::new("sinfo")
        .args(["-h", "-N", "-o", "%N"])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).lines().count() >= 2);
    match idle {
        Ok(true) => true,
        _ => {
            eprintln!(
                "skipping {test}: the Slurm cluster in SLURM_CONF does not answer with two nodes"
            );
            false
        }
    }
}

/// Held for a whole test: the cluster has 8 CPUs and some tests fill it.
pub struct ClusterLock(std::fs::File);

impl Drop for ClusterLock {
    /// A test that failed midway leaves its Slurm jobs behind, holding CPUs the next tests
    /// need: cancel them before the next test takes the cluster.
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Pods run as their owners' accounts under a root server: every job of the test
            // partition, whoever it runs as.
            let mut scancel = std::process::Command::new("scancel");
            match std::env::var("OPENDLC_SLURM_PARTITION") {
                Ok(partition) => scancel.args(["--partition", &partition]),
                Err(_) => scancel.args(["--user", &whoami()]),
            };
            let _ = scancel.status();
        }
    }
}

fn whoami() -> String {
    let user = std::process::Command::new("id").arg("-un").output();
    user.map(|u| String::from_utf8_lossy(&u.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn lock_cluster() -> ClusterLock {
    let dir = std::env::var("OPENDLC_SLURM_STATE").unwrap_or_else(|_| "/tmp".into());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{dir}/opendlc-tests.lock"))
        .expect("lock file");
    // SAFETY: flock on a descriptor we own; released when the file is closed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock failed");
    ClusterLock(file)
}

pub fn config() -> opendlc_runtime::slurm::SlurmConfig {
    opendlc_runtime::slurm::SlurmConfig {
        shim_program: crate::common::shim_program(),
        partition: std::env::var("OPENDLC_SLURM_PARTITION").ok(),
        account: None,
        qos: None,
        resources: Default::default(),
        file_poll: Duration::from_millis(50),
        state_poll: Duration::from_millis(300),
        // Set by the server from --metrics-interval.
        sample_every: None,
    }
}

pub async fn server() -> TestServer {
    TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.slurm = Some(config());
        c.metrics.interval = Duration::from_millis(200);
    })
    .await
}

/// Every non-terminal status a job passes through, then the terminal one.
pub async fn finished(server: &TestServer, job_id: &str, timeout: Duration) -> serde_json::Value {
    server
        .wait_job(job_id, timeout, |j| {
            ["Succeeded", "Failed", "Stopped"].contains(&j["Status"].as_str().unwrap_or_default())
        })
        .await
}

/// A job of `pods` pods that take a whole test node each (4 CPUs) and sleep: two fill the
/// cluster, and the next one waits.
pub fn whole_node_job(name: &str, pods: u32) -> serde_json::Value {
    serde_json::json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": pods, "ResourceConfig": {"CPU": "4", "Memory": "1Gi"}}],
        "UserCommand": "sleep 60",
    })
}
