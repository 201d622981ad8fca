//! The whole path under a busy team's load: `clients` connections create `jobs` one-pod jobs
//! running `true` as fast as the server takes them (each asks for 0.01 CPU and 16 MiB), and the
//! clock stops when every one of them is final (Succeeded, Failed or Stopped). Meanwhile one more
//! connection reads a job with GetJob back to back, as a user watching it would.
//!
//! Figures: jobs per second from the first CreateJob to the last final status (the target:
//! 500), CreateJob latency percentiles under the load (p99 ≤ 50 ms), GetJob's while the jobs are
//! admitted (p99 ≤ 10 ms), and how many jobs did not succeed (none should).
//!
//! The watcher reads every [`WATCH_EVERY`], a poll loop far busier than any console: read back
//! to back, it was a load of its own (a tenth of the machine's CPU), not a user watching. It runs
//! on a thread of its own, as a user's console or CLI is a process of its own: on the clients'
//! thread, each answer waited its turn behind the fifty clients' before it was timed.
//!
//! With a rate (`--e2e-rate`), the clients together create that many jobs per second, each
//! client on a schedule of its own, and a CreateJob's latency runs from when it was due (a
//! client held up by a slow answer counts the wait of the calls it sends late).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::{Ctx, NAME_PREFIX};
use crate::api;
use crate::client::Conn;
use crate::report::Measure;
use crate::stats::{ms, Summary};

const NAME: &str = "e2e";
const GIVE_UP: Duration = Duration::from_secs(900);
/// How often the watcher reads its job (100 GetJob a second).
const WATCH_EVERY: Duration = Duration::from_millis(10);
/// Statuses a job passes through before it is final.
const UNFINISHED: [&str; 6] = [
    "Creating",
    "Queuing",
    "EnvPreparing",
    "Running",
    "Restarting",
    "Stopping",
];

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Measure>> {
    let (total, clients) = (ctx.e2e_jobs, ctx.e2e_clients.max(1));
    let body = api::job_body(&format!("{NAME_PREFIX}e2e"), "true", "0.01", "16Mi");
    // The job the watcher reads: created first, like any other.
    let watched = {
        let mut conn = Conn::open(ctx.addr).await?;
        api::create_job(&mut conn, body.clone()).await?
    };
    let creating = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (addr, creating, path) = (
            ctx.addr,
            creating.clone(),
            format!("/api/v1/jobs/{watched}"),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let mut conn = Conn::open(addr).await?;
                let mut latencies = Vec::new();
                let mut every = tokio::time::interval(WATCH_EVERY);
                // A read held up by the server is followed by the next at once, not by a burst.
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while creating.load(Ordering::Relaxed) {
                    every.tick().await;
                    let sent = Instant::now();
                    let reply = conn.get(&path).await?;
                    if !reply.status.is_success() {
                        bail!("GetJob answered {}", reply.status);
                    }
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
    };
    let start = Instant::now();
    let per_client = (total - 1).div_ceil(clients);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let n = per_client.min((total - 1).saturating_sub(c * per_client));
        let (body, addr) = (body.clone(), ctx.addr);
        // Each client's calls are due every `clients / rate` seconds, the clients spread over
        // that interval.
        let every =
            (ctx.e2e_rate > 0.0).then(|| Duration::from_secs_f64(clients as f64 / ctx.e2e_rate));
        let first = every.map(|every| start + every.mul_f64(c as f64 / clients as f64));
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut latencies = Vec::with_capacity(n);
            for i in 0..n {
                let sent = match (first, every) {
                    (Some(first), Some(every)) => {
                        let due = first + every * i as u32;
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    _ => Instant::now(),
                };
                api::create_job(&mut conn, body.clone()).await?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut create_latencies = Vec::new();
    for task in tasks {
        create_latencies.extend(task.await??);
    }
    let created_in = start.elapsed();
    let mut conn = Conn::open(ctx.addr).await?;
    let mut admitted = false;
    loop {
        if !admitted {
            let waiting = api::count_jobs(&mut conn, &["Creating", "Queuing"]).await?;
            if waiting == 0 {
                admitted = true;
                creating.store(false, Ordering::Relaxed);
            }
        }
        let unfinished = api::count_jobs(&mut conn, &UNFINISHED).await?;
        if unfinished == 0 {
            break;
        }
        if start.elapsed() > GIVE_UP {
            bail!("{unfinished} of {total} jobs still unfinished after {GIVE_UP:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished_in = start.elapsed();
    creating.store(false, Ordering::Relaxed);
    let get_latencies = tokio::task::spawn_blocking(move || watcher.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the watcher's thread panicked"))??;
    let succeeded = api::count_jobs(&mut conn, &["Succeeded"]).await?;
    let create = Summary::of(create_latencies);
    let mut measures = vec![
        Measure::info(NAME, "jobs", total as f64, "jobs"),
        Measure::info(NAME, "clients", clients as f64, "connections"),
        Measure::info(NAME, "all created in", created_in.as_secs_f64(), "s"),
        Measure::info(NAME, "all final in", finished_in.as_secs_f64(), "s"),
        Measure::info(
            NAME,
            "throughput (created → final)",
            total as f64 / finished_in.as_secs_f64(),
            "jobs/s",
        )
        .at_least(500.0),
        Measure::info(
            NAME,
            "not succeeded",
            (total as u64).saturating_sub(succeeded) as f64,
            "jobs",
        )
        .at_most(0.0),
        Measure::info(NAME, "CreateJob p50", ms(create.p50), "ms"),
        Measure::info(NAME, "CreateJob p99", ms(create.p99), "ms").at_most(50.0),
        Measure::info(NAME, "CreateJob max", ms(create.max), "ms"),
    ];
    if ctx.e2e_rate > 0.0 {
        measures.insert(
            2,
            Measure::info(NAME, "creation paced at", ctx.e2e_rate, "jobs/s"),
        );
    }
    if !get_latencies.is_empty() {
        let get = Summary::of(get_latencies);
        measures.push(Measure::info(
            NAME,
            "GetJob p50 while admitting",
            ms(get.p50),
            "ms",
        ));
        measures.push(
            Measure::info(NAME, "GetJob p99 while admitting", ms(get.p99), "ms").at_most(10.0),
        );
    }
    Ok(measures)
}
