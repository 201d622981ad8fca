//! GetJob throughput: concurrent connections asking for one running job, back to back.

use std::time::Duration;

use super::{closed_loop, Call, Ctx};
use crate::api;
use crate::client::Conn;
use crate::report::Measure;
use crate::stats::ms;

const NAME: &str = "get";

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Measure>> {
    let mut conn = Conn::open(ctx.addr).await?;
    let job_id = api::create_job(
        &mut conn,
        api::job_body("bench-get", "sleep 600", "0.01", "16Mi"),
    )
    .await?;
    api::wait_for(
        &mut conn,
        &job_id,
        "Running",
        Duration::from_millis(10),
        Duration::from_secs(30),
    )
    .await?;
    let load = closed_loop(
        ctx.addr,
        Call::Get(format!("/api/v1/jobs/{job_id}")),
        ctx.connections,
        ctx.duration,
    )
    .await?;
    if let Some(e) = &load.first_error {
        eprintln!("  get: {} requests failed; the first: {e}", load.errors);
    }
    Ok(vec![
        Measure::info(NAME, "connections", ctx.connections as f64, "conns"),
        Measure::info(NAME, "GetJob throughput", load.per_second(), "req/s").at_least(10_000.0),
        Measure::info(NAME, "GetJob latency p50", ms(load.latency.p50), "ms"),
        Measure::info(NAME, "GetJob latency p99", ms(load.latency.p99), "ms"),
        Measure::info(NAME, "errors", load.errors as f64, "req"),
    ])
}
