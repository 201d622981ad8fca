//! submit → Running: one one-pod job at a time, timed from sending CreateJob to the first
//! GetJob that answers `Running`, polling GetJob back to back on the same connection.

use std::time::{Duration, Instant};

use anyhow::bail;

use super::Ctx;
use crate::api::{self, FINISHED};
use crate::client::Conn;
use crate::report::Measure;
use crate::stats::{ms, Summary};

const NAME: &str = "submit";
const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Measure>> {
    let mut conn = Conn::open(ctx.addr).await?;
    let body = api::job_body("bench-submit", "sleep 600", "0.01", "16Mi");
    let mut latencies = Vec::with_capacity(ctx.submit_jobs);
    let (mut polls, mut poll_time) = (0u32, Duration::ZERO);
    for i in 0..ctx.submit_jobs {
        let start = Instant::now();
        let job_id = api::create_job(&mut conn, body.clone()).await?;
        loop {
            let sent = Instant::now();
            let status = api::job_status(&mut conn, &job_id).await?;
            polls += 1;
            poll_time += sent.elapsed();
            if status == "Running" {
                break;
            }
            if FINISHED.contains(&status.as_str()) {
                bail!("job {job_id} ended {status} before it was seen Running");
            }
            if start.elapsed() > TIMEOUT {
                bail!("job {job_id} is still {status} {TIMEOUT:?} after CreateJob");
            }
        }
        latencies.push(start.elapsed());
        // Stopped in the background by the server; the next submit does not wait for it.
        api::stop_job(&mut conn, &job_id).await?;
        if (i + 1) % 50 == 0 {
            eprintln!("  submit: {} of {} jobs", i + 1, ctx.submit_jobs);
        }
    }
    let s = Summary::of(latencies);
    Ok(vec![
        Measure::info(NAME, "jobs (sequential)", s.count as f64, "jobs"),
        Measure::info(NAME, "submit->Running p50", ms(s.p50), "ms").at_most(20.0),
        Measure::info(NAME, "submit->Running p90", ms(s.p90), "ms"),
        Measure::info(NAME, "submit->Running p99", ms(s.p99), "ms").at_most(100.0),
        Measure::info(NAME, "submit->Running max", ms(s.max), "ms"),
        Measure::info(
            NAME,
            "GetJob polls per job",
            f64::from(polls) / s.count as f64,
            "polls",
        ),
        Measure::info(
            NAME,
            "poll granularity (mean GetJob)",
            ms(poll_time / polls),
            "ms",
        ),
    ])
}
