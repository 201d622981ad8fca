//! CreateJob throughput: a "blocker" job holds nearly all the pool's memory, so every job
//! created after it queues (strict FIFO: the head of the queue blocks the rest). Concurrent
//! connections then send CreateJob back to back; each of those jobs asks for half the pool, so
//! at most one could start even if the blocker ended.

use anyhow::bail;

use super::{closed_loop, Call, Ctx};
use crate::api;
use crate::client::Conn;
use crate::report::Measure;
use crate::stats::ms;

const NAME: &str = "create";

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Measure>> {
    let mut conn = Conn::open(ctx.addr).await?;
    super::start_blocker(&mut conn, ctx.pool_memory_mib).await?;

    let queued_memory = format!("{}Mi", ctx.pool_memory_mib / 2);
    let body = api::job_body("bench-create", "sleep 600", "0.01", &queued_memory);
    let load = closed_loop(
        ctx.addr,
        Call::Post("/api/v1/jobs".into(), body),
        ctx.connections,
        ctx.duration,
    )
    .await?;
    if let Some(e) = &load.first_error {
        eprintln!("  create: {} requests failed; the first: {e}", load.errors);
    }
    // The point of the blocker: every job just created must be waiting, none running.
    let queued = api::count_jobs(&mut conn, &["Creating", "Queuing"]).await?;
    let running = api::count_jobs(&mut conn, &["EnvPreparing", "Running"]).await?;
    if running != 1 {
        bail!("{running} jobs are running besides the blocker; the queue did not hold");
    }
    Ok(vec![
        Measure::info(NAME, "connections", ctx.connections as f64, "conns"),
        Measure::info(NAME, "CreateJob throughput", load.per_second(), "jobs/s").at_least(2_000.0),
        Measure::info(NAME, "CreateJob latency p50", ms(load.latency.p50), "ms"),
        Measure::info(NAME, "CreateJob latency p99", ms(load.latency.p99), "ms"),
        Measure::info(NAME, "jobs created", load.ok as f64, "jobs"),
        Measure::info(NAME, "jobs waiting after the run", queued as f64, "jobs"),
        Measure::info(NAME, "errors", load.errors as f64, "req"),
    ])
}
