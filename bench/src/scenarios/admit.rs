//! Admitting 10,000 one-pod jobs end to end: 16 connections create them as fast as the server
//! takes them (each runs `true`, asking for 0.01 CPU and 16 MiB), and the clock stops when
//! none is left waiting (Creating or Queuing) — every job was admitted and its pod started.
//! The admission rate is the figure: jobs per second from the first CreateJob to the last
//! admission.

use std::time::{Duration, Instant};

use anyhow::bail;

use super::{Ctx, NAME_PREFIX};
use crate::api;
use crate::client::Conn;
use crate::report::Measure;

const NAME: &str = "admit";
const GIVE_UP: Duration = Duration::from_secs(600);

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Measure>> {
    let total = ctx.admit_jobs;
    let body = api::job_body(&format!("{NAME_PREFIX}admit"), "true", "0.01", "16Mi");
    let start = Instant::now();
    let per_conn = total.div_ceil(ctx.connections);
    let mut tasks = Vec::new();
    for c in 0..ctx.connections {
        let n = per_conn.min(total.saturating_sub(c * per_conn));
        let body = body.clone();
        let addr = ctx.addr;
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            for _ in 0..n {
                api::create_job(&mut conn, body.clone()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let created_in = start.elapsed();
    let mut conn = Conn::open(ctx.addr).await?;
    loop {
        let waiting = api::count_jobs(&mut conn, &["Creating", "Queuing"]).await?;
        if waiting == 0 {
            break;
        }
        if start.elapsed() > GIVE_UP {
            bail!("{waiting} of {total} jobs still waiting after {GIVE_UP:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admitted_in = start.elapsed();
    Ok(vec![
        Measure::info(NAME, "jobs", total as f64, "jobs"),
        Measure::info(NAME, "all created in", created_in.as_secs_f64(), "s"),
        Measure::info(NAME, "all admitted in", admitted_in.as_secs_f64(), "s"),
        Measure::info(
            NAME,
            "admission rate",
            total as f64 / admitted_in.as_secs_f64(),
            "jobs/s",
        ),
    ])
}
