//! A week of metrics: one finished 100-pod job that ran for 7 days (the default retention),
//! sampled every 5 s (the default interval): 12 million samples. Then GetJobMetrics over the
//! whole run, the rows kept per pod, the database's size, and a DeleteJob of that job while
//! other clients create and read jobs.
//!
//! A first server makes the data directory (keys, administrator) and stops; the job, its pods
//! and their events are then written straight into its database through the store, as the
//! engine records them, and its samples in time order, ten minutes of them (12,000 rows) per
//! write, as the sampler records them; after each write, what is no longer kept at that time is
//! pruned, as the sampler does. A second server starts on it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use opendlc_core::metrics::PodSample;
use opendlc_core::time::{format_wire, now_millis, Millis};
use opendlc_core::{JobStatus, Pod, PodStatus};
use opendlc_store::{Admission, PodEnd, SampledPod, Store, Transition, DELETE_CHUNK};

use crate::api;
use crate::client::Conn;
use crate::report::Measure;
use crate::server::Server;
use crate::stats::{ms, Summary};

const NAME: &str = "metrics";
const PODS: u32 = 100;
const INTERVAL_MS: Millis = 5_000;
const DAY_MS: Millis = 24 * 3600 * 1000;
/// The server's default retention.
const RETENTION_MS: Millis = 7 * DAY_MS;
/// Samples written per transaction: ten minutes of every pod.
const BATCH_MS: Millis = 10 * 60 * 1000;
/// Events of the job besides its pods' starts and ends (a chatty job's restarts, notes, …).
const EXTRA_EVENTS: usize = 1_000;
/// GetJobMetrics calls timed per shape, after warm-ups; fewer when a call takes seconds.
const CALLS: usize = 30;
const CALL_BUDGET: Duration = Duration::from_secs(20);
/// How long the create and get clients run before the DeleteJob is sent.
const BASELINE: Duration = Duration::from_secs(2);
/// GetJobMetrics over the whole run, p99.
const TARGET_MS: f64 = 50.0;

/// `days`: how long the job ran (7; shorter for a quick run).
pub async fn run(program: &Path, days: u32) -> anyhow::Result<Vec<Measure>> {
    let run_ms = Millis::from(days) * DAY_MS;
    let first = Server::start(program).await?;
    let data_dir = first.stop_keeping_data().await?;
    let db = data_dir.path().join("opendlc.db");
    // The job ended a minute ago.
    let end = now_millis() - 60_000;
    let start = end - run_ms;
    let seeding = Instant::now();
    let seeded = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || seed(&db, start, end))
            .await?
            .context("seeding the store")?
    };
    let seeding = seeding.elapsed();

    let server = Server::start_in(program, &[], data_dir).await?;
    let (rows, db_bytes) = {
        let (db, job_id) = (db.clone(), seeded.job_id.clone());
        tokio::task::spawn_blocking(move || storage(&db, &job_id)).await??
    };
    let mut measures = vec![
        Measure::info(NAME, "samples seeded", seeded.samples as f64, "rows"),
        Measure::info(NAME, "seeding", seeding.as_secs_f64(), "s"),
        Measure::info(
            NAME,
            "pruning transactions",
            seeded.prunes.count as f64,
            "tx",
        ),
        Measure::info(NAME, "pruning transaction p99", ms(seeded.prunes.p99), "ms"),
        Measure::info(NAME, "pruning transaction max", ms(seeded.prunes.max), "ms"),
        Measure::info(NAME, "metric rows kept per pod", rows / PODS as f64, "rows"),
        Measure::info(NAME, "database size", db_bytes as f64 / 1048576.0, "MiB"),
    ];

    let mut conn = Conn::open(server.addr).await?;
    let window = format!(
        "StartTime={}&EndTime={}",
        format_wire(start),
        format_wire(end)
    )
    .replace(':', "%3A");
    // The console's plot asks for about 150 points across the window, in whole seconds.
    let console_step = (run_ms as u64 / 1000).div_ceil(150);
    // The target holds for what a plot of the window reads; the default step is 2,016 points
    // per pod over a week, 7 MB of JSON, reported as a figure.
    let shapes = [
        ("TimeStep 1h", "&TimeStep=1h".to_string(), Some(TARGET_MS)),
        (
            "the console's TimeStep",
            format!("&TimeStep={console_step}s"),
            Some(TARGET_MS),
        ),
        ("default TimeStep (5m)", String::new(), Some(TARGET_MS)),
    ];
    for (step_name, step, target) in shapes {
        let shape = format!(
            "{days} day{}, {step_name}",
            if days == 1 { "" } else { "s" }
        );
        let path = format!(
            "/api/v1/jobs/{}/metrics?MetricType=CpuCoreUsage&{window}{step}",
            seeded.job_id
        );
        let (latency, points) = time_metrics(&mut conn, &path).await?;
        measures.push(Measure::info(
            NAME,
            format!("{shape}: points per pod"),
            points,
            "points",
        ));
        measures.push(Measure::info(
            NAME,
            format!("{shape} p50"),
            ms(latency.p50),
            "ms",
        ));
        let p99 = Measure::info(NAME, format!("{shape} p99"), ms(latency.p99), "ms");
        measures.push(match target {
            Some(limit) => p99.at_most(limit),
            None => p99,
        });
    }
    measures.extend(delete_under_load(&server, &seeded.job_id).await?);
    api::stop_all(server.addr).await?;
    server.kill().await?;
    Ok(measures)
}

/// What [`seed`] wrote.
struct Seeded {
    job_id: String,
    samples: usize,
    /// How long the transactions that pruned what was no longer kept took.
    prunes: Summary,
}

/// Writes a 100-pod job that ran from `start` to `end` and ended Succeeded, with its pods'
/// events, [`EXTRA_EVENTS`] more, and a sample of every pod every 5 s.
fn seed(db: &Path, start: Millis, end: Millis) -> anyhow::Result<Seeded> {
    let store = Store::open(db)?;
    let mut job = job()?;
    job.times.created = start - 2_000;
    let job_id = job.job_id.clone();
    store.insert_job(&job)?;
    store.transition(&job_id, &Transition::new(JobStatus::Queuing, start - 2_000))?;
    let pods: Vec<Pod> = opendlc_core::env_contract::plan_job(&job)
        .into_iter()
        .map(|plan| Pod::pending(&job_id, plan.pod_id, plan.role, plan.index, start - 1_000))
        .collect();
    anyhow::ensure!(pods.len() == PODS as usize, "{} pods planned", pods.len());
    let admission = Admission {
        job_id: &job_id,
        ports: &[],
        pods: &pods,
    };
    store.admit_all(
        &[admission],
        &Transition::new(JobStatus::EnvPreparing, start - 1_000),
    )?;
    for (i, pod) in pods.iter().enumerate() {
        store.pod_started(pod, 10_000 + i as u32, "127.0.0.1", "bench", start, None)?;
    }
    store.transition(&job_id, &Transition::new(JobStatus::Running, start))?;
    for i in 0..EXTRA_EVENTS {
        store.add_event(&job_id, &format!("bench note {i}"))?;
    }

    let sampled: Vec<SampledPod> = pods
        .iter()
        .map(|p| SampledPod {
            job_id: job_id.clone(),
            pod_id: p.pod_id.clone(),
            pod_uid: p.pod_uid.clone(),
        })
        .collect();
    let mut samples = 0;
    let mut prunes = Vec::new();
    let mut batch = Vec::new();
    let mut batch_start = start;
    while batch_start < end {
        let batch_end = (batch_start + BATCH_MS).min(end);
        batch.clear();
        let mut at = batch_start;
        while at < batch_end {
            for (i, pod) in sampled.iter().enumerate() {
                batch.push((at, pod.clone(), sample(at - start, i)));
            }
            at += INTERVAL_MS;
        }
        store.insert_samples(&batch)?;
        samples += batch.len();
        batch_start = batch_end;
        loop {
            let began = Instant::now();
            let pruned = store.prune_metrics(batch_end, RETENTION_MS, DELETE_CHUNK)?;
            prunes.push(began.elapsed());
            if pruned < DELETE_CHUNK {
                break;
            }
        }
    }

    let ended = PodEnd {
        status: PodStatus::Succeeded,
        exit_code: Some(0),
        exit_signal: None,
        reason: None,
        at: end,
    };
    for pod in &pods {
        store.pod_ended(pod, &ended, &format!("Pod {} succeeded", pod.pod_id))?;
    }
    store.transition(&job_id, &Transition::new(JobStatus::Succeeded, end))?;
    Ok(Seeded {
        job_id,
        samples,
        prunes: Summary::of(prunes),
    })
}

/// A pod's sample `since` ms into the run: every series measured (a GPU host), values that move
/// with time and differ between pods; the first sample has no rates, as on a real host.
fn sample(since: Millis, pod: usize) -> PodSample {
    let phase = (since / INTERVAL_MS) as f64 / 97.0 + pod as f64;
    let wave = 0.5 + 0.5 * phase.sin();
    let rate = |scale: f64| (since > 0).then_some(scale * wave);
    PodSample {
        cpu: rate(800.0),
        memory: Some(4e9 + 2e9 * wave),
        disk_read: rate(5e7),
        disk_write: rate(2e7),
        net_in: rate(1e8),
        net_out: rate(1e8),
        gpu_core: Some(100.0 * wave),
        gpu_memory: Some(3e10 * wave),
    }
}

/// A job as CreateJob records it: 100 workers.
fn job() -> anyhow::Result<opendlc_core::Job> {
    super::stored_job(
        "dlcbenchmetrics0",
        serde_json::json!({
            "DisplayName": "bench-metrics-week",
            "JobType": "PyTorchJob",
            "UserCommand": "python train.py",
            "JobSpecs": [
                {"Type": "Worker", "PodCount": PODS, "Image": "registry.example.com/team/pytorch:2.3", "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}},
            ],
        }),
    )
}

/// The metric rows the job holds (every `metric_*` table) and the database's size on disk
/// (with its write-ahead log).
fn storage(db: &Path, job_id: &str) -> anyhow::Result<(f64, u64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'metric%'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut rows = 0i64;
    for table in tables {
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE job_id = ?1"),
            [job_id],
            |r| r.get(0),
        )?;
        rows += n;
    }
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    Ok((rows as f64, size(db) + size(Path::new(&wal))))
}

/// Times GetJobMetrics at `path`: up to [`CALLS`] calls (at least 3, fewer past
/// [`CALL_BUDGET`]) after one to warm up. Returns the latencies and the points per pod.
async fn time_metrics(conn: &mut Conn, path: &str) -> anyhow::Result<(Summary, f64)> {
    let reply = conn.get(path).await?.json()?;
    let pods = reply["PodMetrics"]
        .as_array()
        .with_context(|| format!("{path}: {reply}"))?;
    anyhow::ensure!(pods.len() == PODS as usize, "{} pods answered", pods.len());
    let points: usize = pods
        .iter()
        .map(|p| p["Metrics"].as_array().map_or(0, Vec::len))
        .sum();
    let began = Instant::now();
    let mut samples = Vec::with_capacity(CALLS);
    while samples.len() < CALLS && (samples.len() < 3 || began.elapsed() < CALL_BUDGET) {
        let sent = Instant::now();
        let reply = conn.get(path).await?;
        samples.push(sent.elapsed());
        anyhow::ensure!(reply.status.is_success(), "{path}: {}", reply.status);
    }
    Ok((Summary::of(samples), points as f64 / PODS as f64))
}

/// Latencies of one client's requests, each with when it was sent.
type Timed = Vec<(Instant, Duration)>;

/// DeleteJob of the seeded job while one client creates jobs (they queue behind a blocker, as
/// in the create scenario) and another reads one with GetJob, both back to back: how long the
/// delete takes, and what the others see while it runs against before it.
async fn delete_under_load(server: &Server, job_id: &str) -> anyhow::Result<Vec<Measure>> {
    let mut conn = Conn::open(server.addr).await?;
    let blocker = super::start_blocker(&mut conn, server.pool_memory_mib).await?;
    let running = Arc::new(AtomicBool::new(true));
    let queued = api::job_body(
        "bench-metrics-create",
        "sleep 600",
        "0.01",
        &format!("{}Mi", server.pool_memory_mib / 2),
    );
    let creator = {
        let (addr, running) = (server.addr, running.clone());
        tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut timed = Timed::new();
            while running.load(Ordering::Relaxed) {
                let sent = Instant::now();
                api::create_job(&mut conn, queued.clone()).await?;
                timed.push((sent, sent.elapsed()));
            }
            anyhow::Ok(timed)
        })
    };
    let reader = {
        let (addr, running, path) = (
            server.addr,
            running.clone(),
            format!("/api/v1/jobs/{blocker}"),
        );
        tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut timed = Timed::new();
            while running.load(Ordering::Relaxed) {
                let sent = Instant::now();
                conn.get(&path).await?.json()?;
                timed.push((sent, sent.elapsed()));
            }
            anyhow::Ok(timed)
        })
    };
    tokio::time::sleep(BASELINE).await;
    let sent = Instant::now();
    let reply = conn.delete(&format!("/api/v1/jobs/{job_id}")).await?;
    let deleted_in = sent.elapsed();
    running.store(false, Ordering::Relaxed);
    reply.json().context("DeleteJob")?;
    let (created, read) = (creator.await??, reader.await??);

    let mut measures = vec![Measure::info(
        NAME,
        "DeleteJob of the job",
        ms(deleted_in),
        "ms",
    )];
    // The targets for the API's tail under load.
    for (what, timed, limit) in [("CreateJob", created, 50.0), ("GetJob", read, 10.0)] {
        let (before, during): (Timed, Timed) = timed.into_iter().partition(|(at, _)| *at < sent);
        for (when, part, target) in [
            ("before", before, None),
            ("during the delete", during, Some(limit)),
        ] {
            if part.is_empty() {
                continue;
            }
            let latency = Summary::of(part.into_iter().map(|(_, d)| d).collect());
            let p99 = Measure::info(NAME, format!("{what} p99 {when}"), ms(latency.p99), "ms");
            measures.push(match target {
                Some(limit) => p99.at_most(limit),
                None => p99,
            });
            measures.push(Measure::info(
                NAME,
                format!("{what} max {when}"),
                ms(latency.max),
                "ms",
            ));
        }
    }
    Ok(measures)
}
