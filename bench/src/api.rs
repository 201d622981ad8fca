//! The few PAI-DLC operations the benchmark needs, on a [`Conn`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use serde_json::json;

use crate::client::Conn;

/// Statuses a job never leaves.
pub const FINISHED: [&str; 3] = ["Succeeded", "Failed", "Stopped"];

/// A CreateJob body: one worker pod running `command` with the given requests.
pub fn job_body(name: &str, command: &str, cpu: &str, memory: &str) -> Bytes {
    let body = json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "ResourceConfig": {"CPU": cpu, "Memory": memory}}],
    });
    Bytes::from(body.to_string())
}

/// CreateJob; returns the JobId.
pub async fn create_job(conn: &mut Conn, body: Bytes) -> anyhow::Result<String> {
    let reply = conn
        .post("/api/v1/jobs", body)
        .await?
        .json()
        .context("CreateJob")?;
    match reply["JobId"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => bail!("CreateJob answered without a JobId: {reply}"),
    }
}

/// GetJob's `Status`.
pub async fn job_status(conn: &mut Conn, job_id: &str) -> anyhow::Result<String> {
    let reply = conn
        .get(&format!("/api/v1/jobs/{job_id}"))
        .await?
        .json()
        .context("GetJob")?;
    match reply["Status"].as_str() {
        Some(status) => Ok(status.to_string()),
        None => bail!("GetJob answered without a Status: {reply}"),
    }
}

pub async fn stop_job(conn: &mut Conn, job_id: &str) -> anyhow::Result<()> {
    conn.post(&format!("/api/v1/jobs/{job_id}/stop"), Bytes::new())
        .await?
        .json()
        .with_context(|| format!("StopJob {job_id}"))?;
    Ok(())
}

/// Polls GetJob every `interval` until the job is `wanted`; fails if it finishes otherwise or
/// `timeout` passes.
pub async fn wait_for(
    conn: &mut Conn,
    job_id: &str,
    wanted: &str,
    interval: Duration,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let status = job_status(conn, job_id).await?;
        if status == wanted {
            return Ok(());
        }
        if FINISHED.contains(&status.as_str()) {
            bail!("job {job_id} ended {status} while waiting for it to be {wanted}");
        }
        if start.elapsed() > timeout {
            bail!("job {job_id} is still {status} after {timeout:?} (waiting for {wanted})");
        }
        tokio::time::sleep(interval).await;
    }
}

/// ListJobs restricted to `statuses` (all users): the first page of up to 100 ids and the total.
pub async fn list_jobs(conn: &mut Conn, statuses: &[&str]) -> anyhow::Result<(Vec<String>, u64)> {
    list_page(conn, statuses, 100).await
}

/// How many jobs (all users) are in one of `statuses`: ListJobs' TotalCount, with a page of
/// one job. A poll that waits for a count reads no more than it needs: a page of 100 jobs
/// every 50 ms was a tenth of the server's CPU in the e2e scenario.
pub async fn count_jobs(conn: &mut Conn, statuses: &[&str]) -> anyhow::Result<u64> {
    Ok(list_page(conn, statuses, 1).await?.1)
}

async fn list_page(
    conn: &mut Conn,
    statuses: &[&str],
    page_size: u32,
) -> anyhow::Result<(Vec<String>, u64)> {
    let path = format!(
        "/api/v1/jobs?PageSize={page_size}&ShowOwn=False&Status={}",
        statuses.join(",")
    );
    let reply = conn.get(&path).await?.json().context("ListJobs")?;
    let ids = reply["Jobs"]
        .as_array()
        .map(|jobs| {
            jobs.iter()
                .filter_map(|j| j["JobId"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Ok((ids, reply["TotalCount"].as_u64().unwrap_or(0)))
}

/// Stops every job whose status is one of `statuses`, a page at a time, with `parallel`
/// connections. Returns how many were stopped.
pub async fn stop_jobs_in(
    addr: SocketAddr,
    statuses: &[&str],
    parallel: usize,
) -> anyhow::Result<u64> {
    let mut conns = Vec::new();
    for _ in 0..parallel.max(1) {
        conns.push(Conn::open(addr).await?);
    }
    let mut stopped = HashSet::new();
    loop {
        let (ids, _) = list_jobs(&mut conns[0], statuses).await?;
        if ids.is_empty() {
            return Ok(stopped.len() as u64);
        }
        if let Some(id) = ids.iter().find(|id| stopped.contains(*id)) {
            bail!("StopJob did not stop job {id}");
        }
        stopped.extend(ids.iter().cloned());
        let mut batches = vec![Vec::new(); conns.len()];
        for (i, id) in ids.into_iter().enumerate() {
            batches[i % conns.len()].push(id);
        }
        let tasks: Vec<_> = conns
            .drain(..)
            .zip(batches)
            .map(|(mut conn, ids)| {
                tokio::spawn(async move {
                    for id in ids {
                        // A job may finish between the listing and the stop: that is fine.
                        let _ = stop_job(&mut conn, &id).await;
                    }
                    conn
                })
            })
            .collect();
        for task in tasks {
            conns.push(task.await?);
        }
    }
}

/// Stops every job still waiting or running and waits until none is left stopping, so that
/// the next scenario starts on an empty pool and no pod outlives the benchmark.
pub async fn stop_all(addr: SocketAddr) -> anyhow::Result<()> {
    // Queued ones first, so that none of them starts when a running one frees its resources.
    stop_jobs_in(addr, &["Creating", "Queuing"], 8).await?;
    stop_jobs_in(addr, &["Creating", "Queuing", "EnvPreparing", "Running"], 8).await?;
    let mut conn = Conn::open(addr).await?;
    let start = Instant::now();
    loop {
        let left = count_jobs(
            &mut conn,
            &["Creating", "Queuing", "EnvPreparing", "Running", "Stopping"],
        )
        .await?;
        if left == 0 {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("{left} jobs are still not stopped a minute after StopJob");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
