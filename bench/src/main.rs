//! `opendlc-bench`: starts the real `opendlc serve` as a separate process on a fresh data
//! directory, measures it against the speed targets, and prints (and optionally writes as
//! JSON) one row per figure. Exit status: 0 every target met, 1 the benchmark failed to run,
//! 2 a target was missed.

mod api;
mod client;
mod machine;
mod report;
mod scenarios;
mod server;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde_json::json;

use crate::report::Measure;
use crate::scenarios::Ctx;
use crate::server::Server;

/// Benchmarks a real opendlc server: submit→Running latency, CreateJob and GetJob throughput,
/// GetPodLogs tails of a large log. Progress goes to stderr, the results table to stdout.
#[derive(Parser)]
#[command(name = "opendlc-bench", version, about)]
struct Args {
    /// The opendlc binary to benchmark (`cargo build --release -p opendlc` builds it).
    #[arg(
        long,
        env = "OPENDLC_BENCH_SERVER",
        default_value = "target/release/opendlc"
    )]
    server: PathBuf,
    /// Which scenario to run. `scale` and `metrics` (a 100-pod job's week of samples; --quick:
    /// a day) run servers of their own, and only when asked for by name.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// A short run: 30 submits, 2 s of load, a 64 MiB log.
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// submit: jobs to submit one after the other [default: 200, --quick 30].
    #[arg(long)]
    jobs: Option<usize>,
    /// create, get: concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// create, get: seconds of load [default: 5, --quick 2].
    #[arg(long)]
    duration: Option<u64>,
    /// logs: size of the log on disk, in MiB [default: 1024, --quick 64].
    #[arg(long)]
    log_mib: Option<u64>,
    /// logs: GetPodLogs calls to time.
    #[arg(long, default_value_t = 200)]
    log_calls: usize,
    /// admit: jobs to admit end to end [default: 10000, --quick 1000].
    #[arg(long)]
    admit_jobs: Option<usize>,
    /// e2e: jobs to run to their end [default: 10000, --quick 1000].
    #[arg(long)]
    e2e_jobs: Option<usize>,
    /// e2e: concurrent clients creating them.
    #[arg(long, default_value_t = 50)]
    e2e_clients: usize,
    /// start: milliseconds between one job's first instruction and the next CreateJob (0: back
    /// to back; a pause shows a submit on a quiet host, whose kernel caches have cooled).
    #[arg(long, default_value_t = 0)]
    start_pause_ms: u64,
    /// e2e: jobs created per second by all the clients together, paced (0: each client creates
    /// its next job as soon as the last is acknowledged).
    #[arg(long, default_value_t = 0.0)]
    e2e_rate: f64,
    /// Threads of the load generator (it shares the machine's cores with the server).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// scale: finished jobs to store before timing the server [default: 1000000, --quick
    /// 100000]. Not part of `all`: it runs servers of its own.
    #[arg(long)]
    scale_jobs: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    All,
    Submit,
    Start,
    Create,
    Get,
    Logs,
    Sched,
    Admit,
    E2e,
    Scale,
    Metrics,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()
        .expect("failed to start the async runtime");
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("opendlc-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen scenarios; true if every target was met.
async fn run(args: Args) -> anyhow::Result<bool> {
    let speed = tokio::task::spawn_blocking(machine::Speed::measure)
        .await?
        .context("measuring the machine")?;
    // Beside the figures, to compare them with another machine's.
    eprintln!("{}", speed.line());
    if matches!(args.scenario, Scenario::Scale | Scenario::Metrics) {
        let pressure_before = cpu_pressure();
        let measures = if args.scenario == Scenario::Scale {
            let jobs = args
                .scale_jobs
                .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
            eprintln!("scale: {jobs} finished jobs stored, then the server timed");
            scenarios::scale::run(&args.server, jobs).await?
        } else {
            eprintln!("metrics: a 100-pod job's week of samples stored, then the server timed");
            scenarios::metrics::run(&args.server, if args.quick { 1 } else { 7 }).await?
        };
        print!("{}", report::table(&measures));
        if let (Some(before), Some(after)) = (pressure_before, cpu_pressure()) {
            println!("CPU pressure (some avg10): {before:.2}% before, {after:.2}% after");
        }
        return Ok(measures.iter().all(|m| m.passed() != Some(false)));
    }
    let server = Server::start(&args.server).await?;
    let pressure_before = cpu_pressure();
    let pool = server.pool.clone();
    eprintln!(
        "server {} at http://{} (pool: {pool})",
        args.server.display(),
        server.addr
    );
    let ctx = Ctx {
        addr: server.addr,
        data_dir: server.data_path(),
        pool_memory_mib: server.pool_memory_mib,
        submit_jobs: args.jobs.unwrap_or(if args.quick { 30 } else { 200 }),
        connections: args.connections.max(1),
        duration: Duration::from_secs(args.duration.unwrap_or(if args.quick { 2 } else { 5 })),
        log_bytes: args.log_mib.unwrap_or(if args.quick { 64 } else { 1024 }) << 20,
        log_calls: args.log_calls.max(1),
        admit_jobs: args
            .admit_jobs
            .unwrap_or(if args.quick { 1_000 } else { 10_000 }),
        e2e_jobs: args
            .e2e_jobs
            .unwrap_or(if args.quick { 1_000 } else { 10_000 })
            .max(2),
        e2e_clients: args.e2e_clients,
        e2e_rate: args.e2e_rate,
        start_pause: Duration::from_millis(args.start_pause_ms),
    };
    let measured = run_scenarios(&ctx, args.scenario).await;
    // Whatever happened, no pod outlives the benchmark: stop every job, then the server.
    let stopped = api::stop_all(server.addr).await;
    let killed = server.kill().await;
    let pressure_after = cpu_pressure();
    let measures = measured?;
    stopped.context("failed to stop the benchmark's jobs")?;
    killed.context("failed to stop the server")?;

    print!("{}", report::table(&measures));
    if let (Some(before), Some(after)) = (pressure_before, pressure_after) {
        // Other work on the machine steals the cores the server needs: say so next to the figures.
        eprintln!("CPU pressure (some, avg10) before/after: {before:.1}% / {after:.1}%");
    }
    let all_passed = measures.iter().all(|m| m.passed() != Some(false));
    if let Some(path) = &args.json {
        let document = json!({
            "date": chrono::Utc::now().to_rfc3339(),
            "server": args.server,
            "pool": pool,
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "quick": args.quick,
            "cpu_pressure_avg10": {"before": pressure_before, "after": pressure_after},
            "machine": speed.json(),
            "settings": {
                "submit_jobs": ctx.submit_jobs,
                "connections": ctx.connections,
                "duration_s": ctx.duration.as_secs(),
                "log_bytes": ctx.log_bytes,
                "log_calls": ctx.log_calls,
                "client_threads": args.client_threads,
            },
            "results": report::to_json(&measures),
            "all_passed": all_passed,
        });
        std::fs::write(path, serde_json::to_string_pretty(&document)? + "\n")
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(all_passed)
}

async fn run_scenarios(ctx: &Ctx, which: Scenario) -> anyhow::Result<Vec<Measure>> {
    let mut measures = Vec::new();
    let chosen = |s: Scenario| which == Scenario::All || which == s;
    if chosen(Scenario::Submit) {
        eprintln!(
            "submit: {} one-pod jobs, one after the other",
            ctx.submit_jobs
        );
        measures.extend(scenarios::submit::run(ctx).await.context("submit")?);
        api::stop_all(ctx.addr).await?;
    }
    if chosen(Scenario::Start) {
        eprintln!(
            "start: {} one-pod jobs, submit to the command's first instruction",
            ctx.submit_jobs
        );
        measures.extend(scenarios::start::run(ctx).await.context("start")?);
        api::stop_all(ctx.addr).await?;
    }
    if chosen(Scenario::Create) {
        eprintln!(
            "create: {} connections for {:?}, behind a blocker",
            ctx.connections, ctx.duration
        );
        measures.extend(scenarios::create::run(ctx).await.context("create")?);
        eprintln!("  create: stopping the queued jobs");
        api::stop_all(ctx.addr).await?;
    }
    if chosen(Scenario::Get) {
        eprintln!(
            "get: {} connections for {:?}",
            ctx.connections, ctx.duration
        );
        measures.extend(scenarios::get::run(ctx).await.context("get")?);
        api::stop_all(ctx.addr).await?;
    }
    if chosen(Scenario::Sched) {
        eprintln!("sched: one decision over 100,000 queued jobs, 1,000 hosts' capacity");
        measures.extend(scenarios::sched::run());
    }
    if chosen(Scenario::Admit) {
        eprintln!("admit: {} one-pod jobs, end to end", ctx.admit_jobs);
        measures.extend(scenarios::admit::run(ctx).await.context("admit")?);
        api::stop_all(ctx.addr).await?;
    }
    if chosen(Scenario::E2e) {
        let pace = match ctx.e2e_rate {
            r if r > 0.0 => format!(" at {r} jobs/s"),
            _ => String::new(),
        };
        eprintln!(
            "e2e: {} one-pod jobs from {} clients{pace}, created → final",
            ctx.e2e_jobs, ctx.e2e_clients
        );
        measures.extend(scenarios::e2e::run(ctx).await.context("e2e")?);
        api::stop_all(ctx.addr).await?;
    }
    if chosen(Scenario::Logs) {
        eprintln!(
            "logs: a {} MiB log, {} tails",
            ctx.log_bytes >> 20,
            ctx.log_calls
        );
        measures.extend(scenarios::logs::run(ctx).await.context("logs")?);
        api::stop_all(ctx.addr).await?;
    }
    Ok(measures)
}

/// `/proc/pressure/cpu`'s `some avg10`: the share of the last 10 s in which some runnable task
/// waited for a CPU. Near 0 on an otherwise idle machine.
fn cpu_pressure() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let some = text.lines().find(|l| l.starts_with("some"))?;
    some.split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}
