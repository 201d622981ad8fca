//! submit → the command's first instruction: one one-pod job at a time whose command is
//! `exec date +%s%N`; the latency is the time that command prints (the host's clock, as the
//! load generator's) minus the time just before CreateJob was sent. Unlike `submit`, nothing
//! here depends on when the status changes: it is what a user's command sees. (It includes
//! the start of `date` itself, a few hundred microseconds.) The pod asks for one CPU.
//!
//! `--start-pause-ms` waits between jobs: back to back, the kernel's state stays warm from one
//! start to the next (a cgroup move that waits for an RCU grace period after a quiet spell
//! did not wait at all), which a user submitting now and then does not see.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};

use super::Ctx;
use crate::api;
use crate::client::Conn;
use crate::report::Measure;
use crate::stats::{ms, Summary};

const NAME: &str = "start";
const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Measure>> {
    let mut conn = Conn::open(ctx.addr).await?;
    // A whole CPU: the pod is held to its request (a CFS quota), and a pod of 0.01 CPU gets 1 ms
    // of it per 100 ms period, which the start of a shell can use up.
    let body = api::job_body("bench-start", "exec date +%s%N", "1", "64Mi");
    let mut latencies = Vec::with_capacity(ctx.submit_jobs);
    for i in 0..ctx.submit_jobs {
        if i > 0 {
            tokio::time::sleep(ctx.start_pause).await;
        }
        let sent_at = SystemTime::now();
        let start = Instant::now();
        let job_id = api::create_job(&mut conn, body.clone()).await?;
        let path = format!("/api/v1/jobs/{job_id}/pods/{job_id}-worker-0/logs?MaxLines=1");
        let printed: u128 = loop {
            let reply = conn.get(&path).await?;
            if reply.status.is_success() {
                let logs = reply.json().context("GetPodLogs")?;
                if let Some(line) = logs["Logs"].as_array().and_then(|l| l.first()) {
                    let text = line.as_str().unwrap_or_default().trim();
                    break text
                        .parse()
                        .with_context(|| format!("job {job_id} printed {text:?}"))?;
                }
            }
            if start.elapsed() > TIMEOUT {
                bail!("job {job_id} printed nothing {TIMEOUT:?} after CreateJob");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let sent_ns = sent_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let waited = printed.saturating_sub(sent_ns);
        latencies.push(Duration::from_nanos(
            u64::try_from(waited).unwrap_or(u64::MAX),
        ));
        if (i + 1) % 50 == 0 {
            eprintln!("  start: {} of {} jobs", i + 1, ctx.submit_jobs);
        }
    }
    let s = Summary::of(latencies);
    Ok(vec![
        Measure::info(NAME, "jobs (sequential)", s.count as f64, "jobs"),
        Measure::info(NAME, "pause between jobs", ms(ctx.start_pause), "ms"),
        Measure::info(NAME, "submit->first instruction p50", ms(s.p50), "ms").at_most(5.0),
        Measure::info(NAME, "submit->first instruction p90", ms(s.p90), "ms"),
        Measure::info(NAME, "submit->first instruction p99", ms(s.p99), "ms").at_most(25.0),
        Measure::info(NAME, "submit->first instruction max", ms(s.max), "ms"),
    ])
}
