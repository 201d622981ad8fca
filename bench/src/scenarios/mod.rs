//! The scenarios, one file each, and the closed-loop load they share.

pub mod admit;
pub mod create;
pub mod e2e;
pub mod get;
pub mod logs;
pub mod metrics;
pub mod scale;
pub mod sched;
pub mod start;
pub mod submit;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::api;
use crate::client::Conn;
use crate::stats::Summary;

/// Left free by a blocker job: more than the banner's rounding of the pool (0.05 GiB), far less
/// than the half pool each job queued behind it asks for.
const BLOCKER_SLACK_MIB: u64 = 256;

/// Starts a job that holds all of the pool's memory but a sliver and waits until it runs, so
/// that jobs created after it queue (strict FIFO); returns its JobId.
pub async fn start_blocker(conn: &mut Conn, pool_memory_mib: u64) -> anyhow::Result<String> {
    let memory = format!("{}Mi", pool_memory_mib.saturating_sub(BLOCKER_SLACK_MIB));
    let blocker = api::create_job(
        conn,
        api::job_body("bench-blocker", "sleep 600", "0.01", &memory),
    )
    .await?;
    api::wait_for(
        conn,
        &blocker,
        "Running",
        Duration::from_millis(10),
        Duration::from_secs(30),
    )
    .await?;
    Ok(blocker)
}

/// `request` (a CreateJob body) as CreateJob records it, with `job_id`, on a pool it fits.
pub fn stored_job(job_id: &str, request: serde_json::Value) -> anyhow::Result<opendlc_core::Job> {
    let request: opendlc_api::CreateJobRequest = serde_json::from_value(request)?;
    let quotas = Default::default();
    let ctx = opendlc_core::submission::SubmitContext {
        job_id: job_id.into(),
        user_id: "1",
        now: 0,
        pool: opendlc_core::Resources::new(1_000_000, 1 << 30, 0),
        quotas: &quotas,
        gpu_types: &[],
        on_slurm: false,
        prices: None,
    };
    Ok(opendlc_core::submission::validate_create(&request, &ctx)?)
}

/// What every scenario gets: where the server is and how hard to push it.
pub struct Ctx {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub pool_memory_mib: u64,
    /// submit: how many jobs, one after the other.
    pub submit_jobs: usize,
    /// create, get: concurrent connections.
    pub connections: usize,
    /// create, get: how long to keep them busy.
    pub duration: Duration,
    /// logs: the size of the log on disk.
    pub log_bytes: u64,
    /// logs: how many GetPodLogs calls to time.
    pub log_calls: usize,
    /// admit: how many jobs to admit end to end.
    pub admit_jobs: usize,
    /// e2e: how many jobs to run end to end, and from how many concurrent clients.
    pub e2e_jobs: usize,
    pub e2e_clients: usize,
    /// e2e: jobs created per second in all, paced; 0: as fast as they are acknowledged.
    pub e2e_rate: f64,
    /// start: the pause before each CreateJob after the first.
    pub start_pause: Duration,
}

/// The prefix of the benchmark's job names.
pub const NAME_PREFIX: &str = "bench-";

/// One request, sent again and again.
#[derive(Clone)]
pub enum Call {
    Get(String),
    Post(String, Bytes),
}

pub struct Load {
    /// Requests answered with a 2xx.
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub latency: Summary,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// Closed loop: `connections` tasks, each on its own kept-alive connection, send `call` back to
/// back (the next as soon as the previous is answered) for `duration`.
pub async fn closed_loop(
    addr: SocketAddr,
    call: Call,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut errors, mut first_error) = (0, None);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let reply = match &call {
                        Call::Get(path) => conn.get(path).await?,
                        Call::Post(path, body) => conn.post(path, body.clone()).await?,
                    };
                    if reply.status.is_success() {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                        first_error.get_or_insert_with(|| {
                            format!("{}: {}", reply.status, String::from_utf8_lossy(&reply.body))
                        });
                    }
                }
                anyhow::Ok((latencies, errors, first_error))
            })
        })
        .collect();
    let (mut latencies, mut errors, mut first_error) = (Vec::new(), 0, None);
    for task in tasks {
        let (l, e, f) = task.await??;
        latencies.extend(l);
        errors += e;
        first_error = first_error.or(f);
    }
    let elapsed = start.elapsed();
    if latencies.is_empty() {
        anyhow::bail!("no request succeeded: {}", first_error.unwrap_or_default());
    }
    Ok(Load {
        ok: latencies.len() as u64,
        errors,
        first_error,
        elapsed,
        latency: Summary::of(latencies),
    })
}
