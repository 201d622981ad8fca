//! A long history: N (1,000,000) finished jobs stored, then the server's start, its memory,
//! ListJobs in every shape the SDK and the console use, and GetJob.
//!
//! A first server makes the data directory (keys, administrator) and stops; the jobs are then
//! written straight into its database through the store (as CreateJob would record them, in
//! batches of 10,000: going through the API would run a million pods); a second server starts
//! on it. Jobs: five users (the benchmark's key is user 1, an administrator; users 2–5 are
//! members of the default workspace, and user 2's key asks as a member), five job types,
//! finished (Succeeded 70%, Failed 20%, Stopped 10%), a quarter PUBLIC, created over the last
//! 180 days, each with a realistic request (~1 KB). Each query is timed 30 times after 3
//! warm-ups. Last, the CLI deletes ~2,000 of them while other clients read and create
//! ([`cleanup_under_load`]).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use opendlc_core::identity::{WorkspaceRole, DEFAULT_WORKSPACE_ID};
use opendlc_core::{Job, JobStatus, JobType};
use opendlc_store::{AccessKeyRecord, Store};

use crate::client::Conn;
use crate::report::Measure;
use crate::server::Server;
use crate::stats::{ms, Summary};

const NAME: &str = "scale";
const BATCH: usize = 10_000;
const CALLS: usize = 30;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// The key of user 2, a member of the default workspace (not an administrator).
const MEMBER_KEY: &str = "bench-member";

pub async fn run(program: &Path, jobs: usize) -> anyhow::Result<Vec<Measure>> {
    let first = Server::start(program).await?;
    let data_dir = first.stop_keeping_data().await?;
    let db = data_dir.path().join("opendlc.db");
    let seeded = Instant::now();
    let ids = tokio::task::spawn_blocking(move || seed(&db, jobs))
        .await?
        .context("seeding the store")?;
    let seeded = seeded.elapsed();

    let start = Instant::now();
    let server = Server::start_in(program, &[], data_dir).await?;
    let started = start.elapsed();
    // Settled: what it holds once it serves.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_mib = server.pid().and_then(rss_mib).unwrap_or(f64::NAN);

    let mut measures = vec![
        Measure::info(NAME, "jobs stored", jobs as f64, "jobs"),
        Measure::info(NAME, "seeding", seeded.as_secs_f64(), "s"),
        Measure::info(NAME, "server start", started.as_secs_f64(), "s").at_most(2.0),
        Measure::info(NAME, "idle RSS", rss_mib, "MiB").at_most(50.0),
    ];
    let mut admin = Conn::open(server.addr).await?;
    let mut member = Conn::open_as(server.addr, MEMBER_KEY, MEMBER_KEY).await?;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(200);
    let since = long_ago
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
        .replace(':', "%3A");
    let queries: [(&str, String); 15] = [
        ("ListJobs default", String::new()),
        ("ListJobs Status", "Status=Failed".into()),
        ("ListJobs JobType", "JobType=TFJob".into()),
        ("ListJobs DisplayName", "DisplayName=resnet".into()),
        ("ListJobs SortBy DisplayName", "SortBy=DisplayName".into()),
        ("ListJobs SortBy Priority", "SortBy=Priority".into()),
        (
            "ListJobs Tags",
            "Tags=%7B%22team%22%3A%22vision%22%7D".into(),
        ),
        ("ListJobs all users", "ShowOwn=false".into()),
        (
            "ListJobs 180 days, page 1000",
            format!("ShowOwn=false&StartTime={since}&PageNumber=1000"),
        ),
        (
            "ListJobs 180 days, DisplayName",
            format!("ShowOwn=false&StartTime={since}&DisplayName=bert-7"),
        ),
        // The name a fifth of all jobs have (200,000 matches).
        (
            "ListJobs 180 days, a common DisplayName",
            format!("ShowOwn=false&StartTime={since}&DisplayName=resnet"),
        ),
        // A member sees their own jobs and the workspace's PUBLIC ones: user 2 owns every
        // bert job, user 1 the resnet ones (a quarter of them PUBLIC).
        ("ListJobs all users, a member", "ShowOwn=false".into()),
        (
            "ListJobs 180 days, DisplayName, a member",
            format!("ShowOwn=false&StartTime={since}&DisplayName=bert-7"),
        ),
        (
            "ListJobs 180 days, another's DisplayName, a member",
            format!("ShowOwn=false&StartTime={since}&DisplayName=resnet-7"),
        ),
        (
            "ListJobs 180 days, a common DisplayName, a member",
            format!("ShowOwn=false&StartTime={since}&DisplayName=resnet"),
        ),
    ];
    for (metric, query) in queries {
        let path = format!("/api/v1/jobs?{query}");
        let conn = if metric.ends_with(", a member") {
            &mut member
        } else {
            &mut admin
        };
        let latency = time(conn, &path, CALLS).await?;
        measures.push(Measure::info(
            NAME,
            format!("{metric} p50"),
            ms(latency.p50),
            "ms",
        ));
        measures.push(
            Measure::info(NAME, format!("{metric} p99"), ms(latency.p99), "ms").at_most(20.0),
        );
    }
    let mut samples = Vec::with_capacity(200);
    for i in 0..200 {
        let id = &ids[(i * 7919) % ids.len()];
        let sent = Instant::now();
        admin.get(&format!("/api/v1/jobs/{id}")).await?.json()?;
        samples.push(sent.elapsed());
    }
    let get = Summary::of(samples);
    measures.push(Measure::info(NAME, "GetJob p50", ms(get.p50), "ms"));
    measures.push(Measure::info(NAME, "GetJob p99", ms(get.p99), "ms").at_most(2.0));
    measures.extend(cleanup_under_load(program, &server).await?);
    server.kill().await?;
    Ok(measures)
}

/// `calls` GetJob/ListJobs round trips of `path`, after three to warm up.
async fn time(conn: &mut Conn, path: &str, calls: usize) -> anyhow::Result<Summary> {
    for _ in 0..3 {
        conn.get(path).await?.json()?;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let sent = Instant::now();
        let reply = conn.get(path).await?.json()?;
        samples.push(sent.elapsed());
        anyhow::ensure!(reply["Jobs"].is_array(), "{path}: {reply}");
    }
    Ok(Summary::of(samples))
}

/// The CLI's bulk delete, `opendlc cleanup --status Succeeded --name resnet-7- --delete` (the
/// administrator's ~2,000 jobs of that name, of any age: listed a page at a time, then one
/// DeleteJob after the other), while three other clients each make a request every
/// 20 ms: GetJob of a job that stays, the default ListJobs, and CreateJob (a pod running
/// `true`). None of them may stall behind the deletes.
async fn cleanup_under_load(program: &Path, server: &Server) -> anyhow::Result<Vec<Measure>> {
    const PACE: Duration = Duration::from_millis(20);
    let mut reader = Conn::open(server.addr).await?;
    let kept = reader
        .get("/api/v1/jobs?Status=Failed&ShowOwn=false&PageSize=1")
        .await?
        .json()?;
    let kept = kept["Jobs"][0]["JobId"]
        .as_str()
        .context("no Failed job to read during the clean-up")?
        .to_string();
    let mut lister = Conn::open(server.addr).await?;
    let mut creator = Conn::open(server.addr).await?;
    let cli = tokio::process::Command::new(program)
        .args(["cleanup", "--status", "Succeeded", "--name", "resnet-7-"])
        .args(["--delete", "--endpoint", &server.addr.to_string()])
        .env("OPENDLC_ACCESS_KEY_ID", crate::client::KEY_ID)
        .env("OPENDLC_ACCESS_KEY_SECRET", crate::client::KEY_SECRET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting `opendlc cleanup`")?;
    let began = Instant::now();
    let done = AtomicBool::new(false);
    let body = crate::api::job_body("bench-cleanup", "true", "0.01", "16Mi");
    let kept_path = format!("/api/v1/jobs/{kept}");
    let (cleaned, get, list, create) = tokio::join!(
        async {
            let output = cli.wait_with_output().await;
            done.store(true, Ordering::Relaxed);
            output
        },
        paced(&mut reader, &kept_path, None, &done, PACE),
        paced(&mut lister, "/api/v1/jobs", None, &done, PACE),
        paced(&mut creator, "/api/v1/jobs", Some(body), &done, PACE),
    );
    let took = began.elapsed();
    let cleaned = cleaned?;
    anyhow::ensure!(
        cleaned.status.success(),
        "opendlc cleanup: {}",
        cleaned.status
    );
    let deleted = String::from_utf8_lossy(&cleaned.stdout).lines().count();
    let left = reader
        .get("/api/v1/jobs?Status=Succeeded&DisplayName=resnet-7-&StartTime=1970-01-01T00%3A00%3A00Z&PageSize=1")
        .await?
        .json()?;
    anyhow::ensure!(
        deleted > 0 && left["TotalCount"] == 0,
        "the clean-up deleted {deleted} jobs and left {}",
        left["TotalCount"]
    );
    let (get, list, create) = (Summary::of(get?), Summary::of(list?), Summary::of(create?));
    Ok(vec![
        Measure::info(NAME, "cleanup: jobs deleted", deleted as f64, "jobs"),
        Measure::info(NAME, "cleanup: took", took.as_secs_f64(), "s"),
        Measure::info(NAME, "cleanup: GetJob p99", ms(get.p99), "ms").at_most(10.0),
        Measure::info(NAME, "cleanup: ListJobs default p99", ms(list.p99), "ms").at_most(20.0),
        Measure::info(NAME, "cleanup: CreateJob p99", ms(create.p99), "ms").at_most(50.0),
        Measure::info(NAME, "cleanup: CreateJob max", ms(create.max), "ms"),
    ])
}

/// Sends a request every `pace` until `done` (GET `path`, or POST `body` to it); the latency of
/// each (each must succeed).
async fn paced(
    conn: &mut Conn,
    path: &str,
    body: Option<bytes::Bytes>,
    done: &AtomicBool,
    pace: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let mut every = tokio::time::interval(pace);
    let mut samples = Vec::new();
    while !done.load(Ordering::Relaxed) {
        every.tick().await;
        let sent = Instant::now();
        let reply = match &body {
            None => conn.get(path).await?,
            Some(body) => conn.post(path, body.clone()).await?,
        };
        samples.push(sent.elapsed());
        anyhow::ensure!(reply.status.is_success(), "{path}: {}", reply.status);
    }
    Ok(samples)
}

/// Writes users 2–5 (members) and `n` finished jobs into the store at `db`; returns the
/// jobs' ids.
fn seed(db: &Path, n: usize) -> anyhow::Result<Vec<String>> {
    let store = Store::open(db)?;
    let template = template()?;
    let now = opendlc_core::time::now_millis();
    for user in 2..=5 {
        let made = store.create_user(&format!("member-{user}"), false, now)?;
        anyhow::ensure!(made.user_id == user.to_string(), "user {user} is {made:?}");
        store.set_member(
            DEFAULT_WORKSPACE_ID,
            &made.user_id,
            WorkspaceRole::Member,
            now,
        )?;
    }
    store.put_access_key(&AccessKeyRecord {
        access_key_id: MEMBER_KEY.into(),
        user_id: "2".into(),
        secret: MEMBER_KEY.into(),
        created: now,
        revoked: None,
        job_id: None,
    })?;
    let models = ["resnet", "bert", "llama", "yolo", "gpt"];
    let types = [
        JobType::PyTorchJob,
        JobType::TFJob,
        JobType::MPIJob,
        JobType::XGBoostJob,
        JobType::RayJob,
    ];
    let mut ids = Vec::with_capacity(n);
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..n {
        let mut job = template.clone();
        job.job_id = format!("dlc{i:013}");
        job.display_name = format!("{}-{}-{i}", models[i % 5], i % 97);
        job.job_type = types[(i / 5) % 5];
        job.user_id = (1 + i % 5).to_string();
        job.priority = 1 + (i % 9) as u8;
        job.status = match i % 10 {
            0..=6 => JobStatus::Succeeded,
            7 | 8 => JobStatus::Failed,
            _ => JobStatus::Stopped,
        };
        if i % 3 == 0 {
            job.tags.insert("team".into(), "vision".into());
        }
        if i % 4 == 0 {
            job.accessibility = "PUBLIC".into();
            job.request.accessibility = Some(job.accessibility.clone());
        }
        // Newest last, as they were created: spread over 180 days.
        let created = now - 180 * DAY_MS + (i as i64 * 180 * DAY_MS / n as i64);
        job.times.created = created;
        job.times.submitted = Some(created + 50);
        job.times.running = Some(created + 200);
        job.times.finished = Some(created + 600_000);
        ids.push(job.job_id.clone());
        batch.push(job);
        if batch.len() == BATCH {
            store.insert_jobs(&batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.insert_jobs(&batch)?;
    }
    Ok(ids)
}

/// A job as CreateJob records it, with a request of a realistic size.
fn template() -> anyhow::Result<Job> {
    super::stored_job(
        "dlc0000000000000",
        serde_json::json!({
            "DisplayName": "template",
            "JobType": "PyTorchJob",
            "UserCommand": "python -m torch.distributed.run --nproc_per_node=8 train.py --model resnet50 --epochs 90 --batch-size 256 --lr 0.1 --data /mnt/data/imagenet --output /mnt/output/run",
            "JobSpecs": [
                {"Type": "Master", "PodCount": 1, "Image": "registry.example.com/team/pytorch:2.3-cuda12.1", "ResourceConfig": {"CPU": "8", "Memory": "32Gi"}},
                {"Type": "Worker", "PodCount": 3, "Image": "registry.example.com/team/pytorch:2.3-cuda12.1", "ResourceConfig": {"CPU": "8", "Memory": "32Gi"}},
            ],
            "Envs": {"NCCL_DEBUG": "INFO", "OMP_NUM_THREADS": "8", "PYTHONUNBUFFERED": "1", "WANDB_PROJECT": "imagenet"},
            "Settings": {"Tags": {"owner": "ann", "project": "imagenet"}},
        }),
    )
}

/// The process's resident memory (VmRSS), in MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
