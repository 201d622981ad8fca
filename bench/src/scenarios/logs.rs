//! GetPodLogs tail: a job writes a large log (about 100-byte lines) and exits; then the last
//! 2,000 lines are asked for again and again. A tail must cost the same on 1 GiB as on 1 MiB.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::Ctx;
use crate::api;
use crate::client::Conn;
use crate::report::Measure;
use crate::stats::{ms, Summary};

const NAME: &str = "logs";
const TAIL_LINES: usize = 2000;
/// Text bytes of each line the job prints (99 digits and the newline).
const LINE_BYTES: u64 = 100;
/// Bytes the pod's log adds to each line: a 27-byte timestamp, a space, a stream tag, a space.
const RECORD_HEADER_BYTES: u64 = 30;

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Measure>> {
    let mut conn = Conn::open(ctx.addr).await?;
    let lines = ctx.log_bytes.div_ceil(LINE_BYTES + RECORD_HEADER_BYTES);
    let command = format!("yes $(printf %099d 0) | head -n {lines}");
    let job_id = api::create_job(
        &mut conn,
        api::job_body("bench-logs", &command, "1", "64Mi"),
    )
    .await?;
    eprintln!(
        "  logs: job {job_id} writes {lines} lines (about {} MiB on disk)",
        ctx.log_bytes >> 20
    );
    let start = Instant::now();
    api::wait_for(
        &mut conn,
        &job_id,
        "Succeeded",
        Duration::from_millis(500),
        Duration::from_secs(1800),
    )
    .await?;
    let write_time = start.elapsed();
    let size = log_size(&ctx.data_dir.join("jobs").join(&job_id).join("pods"))?;
    if size < ctx.log_bytes {
        bail!(
            "the pod's log is {size} bytes on disk, less than the {} asked for",
            ctx.log_bytes
        );
    }

    let path = format!("/api/v1/jobs/{job_id}/pods/{job_id}-worker-0/logs?MaxLines={TAIL_LINES}");
    let mut latencies = Vec::with_capacity(ctx.log_calls);
    for _ in 0..ctx.log_calls {
        let sent = Instant::now();
        let reply = conn.get(&path).await?;
        latencies.push(sent.elapsed());
        // Checked after the clock stops: parsing the answer is the client's cost, not the server's.
        let got = reply.json().context("GetPodLogs")?["Logs"]
            .as_array()
            .map_or(0, Vec::len);
        if got != TAIL_LINES {
            bail!("GetPodLogs returned {got} lines, not {TAIL_LINES}");
        }
    }
    let s = Summary::of(latencies);
    Ok(vec![
        Measure::info(
            NAME,
            "log size on disk",
            size as f64 / (1u64 << 20) as f64,
            "MiB",
        ),
        Measure::info(
            NAME,
            "log written in (incl. job start/end)",
            write_time.as_secs_f64(),
            "s",
        ),
        Measure::info(NAME, "tail calls", s.count as f64, "calls"),
        Measure::info(NAME, "tail 2000 lines p50", ms(s.p50), "ms").at_most(10.0),
        Measure::info(NAME, "tail 2000 lines p99", ms(s.p99), "ms").at_most(10.0),
        Measure::info(NAME, "tail 2000 lines max", ms(s.max), "ms"),
    ])
}

/// The total size of `pods/*/log` (one pod, one incarnation: one file).
fn log_size(pods_dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(pods_dir)
        .with_context(|| format!("failed to list {}", pods_dir.display()))?
    {
        if let Ok(meta) = std::fs::metadata(entry?.path().join("log")) {
            total += meta.len();
        }
    }
    Ok(total)
}
