//! Pod metrics: each sample as taken (`metric_samples`), added as it is recorded to its bucket of
//! every rollup (`metric_buckets`, a row per job and bucket: [`buckets`]; core's
//! `metrics::resolutions` says which are kept how long and which answer a window). Rows past
//! their resolution's span are deleted a chunk at a time ([`Store::prune_metrics`]), and a job's
//! with the job.

pub(crate) mod buckets;

use std::collections::{BTreeMap, HashSet};

use opendlc_core::metrics::{
    self, bucket, MetricType, PodIds, PodSample, Read, Resolution, SeriesPoint, ROLLUPS,
};
use opendlc_core::time::Millis;
use rusqlite::{params, OptionalExtension, ToSql, Transaction};

use crate::{Result, Store, StoreError};
use buckets::{Bucket, Sums};

/// Rows deleted per transaction, by [`Store::delete_job`] and by the sampler's pruning: a few
/// milliseconds of the writer each, so that an API request waiting to write waits no longer.
pub const DELETE_CHUNK: usize = 2_000;

/// Which pod a sample belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampledPod {
    pub job_id: String,
    pub pod_id: String,
    pub pod_uid: String,
}

/// A pod that is running now: where, and the pid of its command (leader of its session) there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningPod {
    pub pod: SampledPod,
    pub node_name: Option<String>,
    pub pid: Option<u32>,
}

fn column(metric: MetricType) -> &'static str {
    match metric {
        MetricType::GpuCoreUsage => "gpu_core",
        MetricType::GpuMemoryUsage => "gpu_memory",
        MetricType::CpuCoreUsage => "cpu",
        MetricType::MemoryUsage => "memory",
        MetricType::NetworkInputRate => "net_in",
        MetricType::NetworkOutputRate => "net_out",
        MetricType::DiskReadRate => "disk_read",
        MetricType::DiskWriteRate => "disk_write",
    }
}

impl Store {
    /// Current pod incarnations whose command runs (status Running), on every node.
    pub fn running_pods(&self) -> Result<Vec<RunningPod>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT job_id, pod_id, pod_uid, node_name, pid FROM pods
                 WHERE status = 'Running' AND current = 1",
            )?;
            let pods = stmt
                .query_map([], |r| {
                    Ok(RunningPod {
                        pod: SampledPod {
                            job_id: r.get(0)?,
                            pod_id: r.get(1)?,
                            pod_uid: r.get(2)?,
                        },
                        node_name: r.get(3)?,
                        pid: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(pods)
        })
    }

    /// The time of the newest sample of a pod incarnation still kept as taken (an hour).
    pub fn last_sample_time(&self, pod: &SampledPod) -> Result<Option<Millis>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT MAX(time) FROM metric_samples WHERE job_id = ?1 AND pod_uid = ?2",
            )?;
            Ok(stmt.query_row(params![pod.job_id, pod.pod_uid], |r| r.get(0))?)
        })
    }

    /// Records samples, each with its time, and adds them to their buckets of every rollup, in
    /// one transaction. A pod whose job was deleted meanwhile is skipped, not an error.
    pub fn insert_samples(&self, samples: &[(Millis, SampledPod, PodSample)]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let jobs = existing_jobs(tx, samples.iter().map(|(_, pod, _)| pod.job_id.as_str()))?;
            let samples: Vec<_> = samples
                .iter()
                .filter(|(_, pod, _)| jobs.contains(pod.job_id.as_str()))
                .collect();
            let mut stmt = tx.prepare_cached(
                "INSERT INTO metric_samples (job_id, pod_id, pod_uid, time, cpu, memory, disk_read,
                     disk_write, net_in, net_out, gpu_core, gpu_memory)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for (at, pod, s) in &samples {
                stmt.execute(params![
                    pod.job_id,
                    pod.pod_id,
                    pod.pod_uid,
                    at,
                    s.cpu,
                    s.memory,
                    s.disk_read,
                    s.disk_write,
                    s.net_in,
                    s.net_out,
                    s.gpu_core,
                    s.gpu_memory,
                ])?;
            }
            // A write per job and bucket, not per sample: a round of the sampler holds a sample
            // of each of a job's pods, and a batch (a shim's file read after a restart) can
            // hold many of one pod.
            let mut sums: BTreeMap<(&str, Millis, Millis), BTreeMap<&str, Sums>> = BTreeMap::new();
            for (at, pod, sample) in &samples {
                for rollup in ROLLUPS {
                    let key = (&*pod.job_id, rollup.step, bucket(*at, rollup.step));
                    let pod_sums = sums.entry(key).or_default().entry(&pod.pod_id).or_default();
                    for (metric, (sum, count)) in MetricType::ALL.into_iter().zip(pod_sums) {
                        if let Some(value) = metric.of(sample) {
                            *sum += value;
                            *count += 1;
                        }
                    }
                }
            }
            for ((job_id, step, time), pods) in sums {
                let mut bucket = stored_bucket(tx, job_id, step, time)?.unwrap_or_default();
                for (pod_id, sums) in pods {
                    bucket.add(pod_id, &sums);
                }
                store_bucket(tx, job_id, step, time, &bucket)?;
            }
            Ok(())
        })
    }

    /// The stored points of one series of a job, per `reads` (see core's
    /// `metrics::reads`), oldest first: samples in which the host could not measure the series
    /// are left out, and so are buckets that hold none it measured.
    ///
    /// A read of more than [`SPLIT_AT`] time steps (a week at 5 minutes: 200,000 rows of a
    /// 100-pod job, ~40 ms of SQLite here) is read in two halves at once, on two connections.
    pub fn metric_series(
        &self,
        job_id: &str,
        metric: MetricType,
        reads: &[Read],
    ) -> Result<Vec<SeriesPoint>> {
        let mut points = Vec::new();
        for read in reads {
            // Samples are kept an hour: never that many.
            let step = match read.resolution {
                Resolution::Buckets(step) => step.max(1),
                Resolution::Samples => Millis::MAX,
            };
            if read.until.saturating_sub(read.from) / step <= SPLIT_AT {
                append(
                    &mut points,
                    self.read(|conn| read_points(conn, job_id, metric, read))?,
                );
                continue;
            }
            // Halves without overflow: a read may run from the beginning of time to its end.
            let middle = bucket(read.from / 2 + read.until / 2, step);
            let (early, late) = (
                Read {
                    until: middle,
                    ..*read
                },
                Read {
                    from: middle,
                    ..*read
                },
            );
            let (early, late) = std::thread::scope(|scope| {
                let late =
                    scope.spawn(|| self.read(|conn| read_points(conn, job_id, metric, &late)));
                let early = self.read(|conn| read_points(conn, job_id, metric, &early));
                (early, late.join())
            });
            append(&mut points, early?);
            match late {
                Ok(late) => append(&mut points, late?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(points)
    }

    /// Deletes, in one transaction, up to `limit` samples and buckets no longer kept at `now`
    /// (core's `metrics::kept_from`; samples are kept `retention` ms at most), oldest
    /// resolution first. Returns how many: less than `limit` once nothing is left to delete.
    pub fn prune_metrics(&self, now: Millis, retention: Millis, limit: usize) -> Result<usize> {
        self.write(|tx| {
            let mut deleted = tx
                .prepare_cached(
                    "DELETE FROM metric_samples WHERE rowid IN
                       (SELECT rowid FROM metric_samples WHERE time < ?1 LIMIT ?2)",
                )?
                .execute(params![
                    metrics::kept_from(Resolution::Samples, now, retention),
                    limit
                ])?;
            for rollup in ROLLUPS {
                if deleted >= limit {
                    break;
                }
                let before = metrics::kept_from(Resolution::Buckets(rollup.step), now, retention);
                deleted += tx
                    .prepare_cached(
                        "DELETE FROM metric_buckets WHERE rowid IN
                           (SELECT rowid FROM metric_buckets WHERE step = ?1 AND time < ?2 LIMIT ?3)",
                    )?
                    .execute(params![rollup.step, before, limit - deleted])?;
            }
            Ok(deleted)
        })
    }

    /// Deletes a job's samples and buckets, [`DELETE_CHUNK`] rows per transaction: a long run's
    /// are hundreds of thousands of rows, which one transaction would hold the writer for
    /// seconds to delete.
    pub(crate) fn delete_job_metrics(&self, job_id: &str) -> Result<()> {
        for sql in [
            "DELETE FROM metric_samples WHERE rowid IN
               (SELECT rowid FROM metric_samples WHERE job_id = ?1 LIMIT ?2)",
            "DELETE FROM metric_buckets WHERE rowid IN
               (SELECT rowid FROM metric_buckets WHERE job_id = ?1 LIMIT ?2)",
        ] {
            loop {
                let chunk = params![job_id, DELETE_CHUNK];
                let deleted = self.write(|tx| Ok(tx.prepare_cached(sql)?.execute(chunk)?))?;
                if deleted < DELETE_CHUNK {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Which of `job_ids` are jobs still recorded.
fn existing_jobs<'a>(
    tx: &Transaction<'_>,
    job_ids: impl Iterator<Item = &'a str>,
) -> Result<HashSet<&'a str>> {
    let mut stmt = tx.prepare_cached("SELECT 1 FROM jobs WHERE job_id = ?1")?;
    let mut existing = HashSet::new();
    for job_id in job_ids.collect::<HashSet<_>>() {
        if stmt.exists([job_id])? {
            existing.insert(job_id);
        }
    }
    Ok(existing)
}

/// How many time steps one read may span before [`Store::metric_series`] splits it.
pub const SPLIT_AT: Millis = 1_000;

/// `more` after `points`; taken whole where `points` is empty (most reads are one, or its
/// first half): a week of a big job's points is megabytes to copy.
fn append(points: &mut Vec<SeriesPoint>, mut more: Vec<SeriesPoint>) {
    if points.is_empty() {
        *points = more;
    } else {
        points.append(&mut more);
    }
}

/// The points of one read, oldest first, each pod's id allocated once.
fn read_points(
    conn: &rusqlite::Connection,
    job_id: &str,
    metric: MetricType,
    read: &Read,
) -> Result<Vec<SeriesPoint>> {
    let col = column(metric);
    let mut pod_ids = PodIds::default();
    let mut points = Vec::new();
    match read.resolution {
        Resolution::Samples => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT pod_id, time, {col} FROM metric_samples
                 WHERE job_id = ?1 AND time >= ?2 AND time < ?3 AND {col} IS NOT NULL
                 ORDER BY time, pod_id"
            ))?;
            let mut rows = stmt.query(params![job_id, read.from, read.until])?;
            while let Some(row) = rows.next()? {
                points.push(SeriesPoint {
                    pod_id: pod_ids.get(row.get_ref(0)?.as_str().map_err(corrupt)?),
                    time: row.get(1)?,
                    sum: row.get(2)?,
                    samples: 1,
                });
            }
        }
        Resolution::Buckets(step) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT time, pods, {col} FROM metric_buckets
                 WHERE job_id = ?1 AND step = ?2 AND time >= ?3 AND time < ?4
                   AND {col} IS NOT NULL
                 ORDER BY time"
            ))?;
            let mut rows = stmt.query(params![job_id, step, read.from, read.until])?;
            // The pods of the last row, and their ids: most buckets have the same pods.
            let (mut pods_of_last, mut ids) = (String::new(), Vec::new());
            while let Some(row) = rows.next()? {
                let time: Millis = row.get(0)?;
                let pods = row.get_ref(1)?.as_str().map_err(corrupt)?;
                if pods != pods_of_last {
                    ids = buckets::pod_ids(pods).map(|id| pod_ids.get(id)).collect();
                    pods_of_last = pods.to_string();
                }
                let column = row.get_ref(2)?.as_blob().map_err(corrupt)?;
                for (i, sum, samples) in buckets::entries(column, ids.len())? {
                    if samples > 0 {
                        points.push(SeriesPoint {
                            pod_id: ids[i].clone(),
                            time,
                            sum,
                            samples,
                        });
                    }
                }
            }
        }
    }
    Ok(points)
}

/// A column not of the type its table gives it.
fn corrupt(e: rusqlite::types::FromSqlError) -> StoreError {
    StoreError::Corrupt(format!("a metric row: {e}"))
}

/// The columns of `metric_buckets` that hold the series, in the order of `MetricType::ALL`.
fn series_columns() -> String {
    MetricType::ALL.map(column).join(", ")
}

/// A job's bucket of the rollup of `step` that starts at `time`, if it has one.
fn stored_bucket(
    tx: &Transaction<'_>,
    job_id: &str,
    step: Millis,
    time: Millis,
) -> Result<Option<Bucket>> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT pods, {} FROM metric_buckets WHERE job_id = ?1 AND step = ?2 AND time = ?3",
        series_columns()
    ))?;
    let row = stmt
        .query_row(params![job_id, step, time], |row| {
            let pods: String = row.get(0)?;
            let mut series: [Option<Vec<u8>>; MetricType::ALL.len()] = Default::default();
            for (s, column) in series.iter_mut().enumerate() {
                *column = row.get(1 + s)?;
            }
            Ok((pods, series))
        })
        .optional()?;
    row.map(|(pods, series)| Bucket::decode(&pods, series.each_ref().map(|c| c.as_deref())))
        .transpose()
}

/// Stores a job's bucket of the rollup of `step` that starts at `time`, replacing what it held.
fn store_bucket(
    tx: &Transaction<'_>,
    job_id: &str,
    step: Millis,
    time: Millis,
    bucket: &Bucket,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO metric_buckets (job_id, step, time, pods, {})
         VALUES (?1, ?2, ?3, ?4, {})
         ON CONFLICT (job_id, step, time) DO UPDATE SET pods = excluded.pods, {}",
        series_columns(),
        (5..5 + MetricType::ALL.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        MetricType::ALL
            .map(|m| format!("{0} = excluded.{0}", column(m)))
            .join(", ")
    ))?;
    let (pods, series) = bucket.columns();
    let key: [&dyn ToSql; 4] = [&job_id, &step, &time, &pods];
    let series = series.iter().map(|s| s as &dyn ToSql);
    stmt.execute(rusqlite::params_from_iter(key.into_iter().chain(series)))?;
    Ok(())
}

/// Migration 18: makes `metric_buckets` and packs every row of `metric_rollups` (a row per pod
/// and bucket, a sum and a count column per series) into it, then drops `metric_rollups`.
pub(crate) fn pack_rollups(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(&format!(
        "CREATE TABLE metric_buckets (
             job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
             step   INTEGER NOT NULL,
             time   INTEGER NOT NULL,
             pods   TEXT NOT NULL,
             {},
             PRIMARY KEY (job_id, step, time)
         );
         CREATE INDEX metric_buckets_by_age ON metric_buckets (step, time);",
        MetricType::ALL
            .map(|m| format!("{} BLOB", column(m)))
            .join(",\n")
    ))?;
    let sums_and_counts = MetricType::ALL
        .map(|m| format!("{0}_sum, {0}_count", column(m)))
        .join(", ");
    let mut stmt = tx.prepare(&format!(
        "SELECT job_id, step, time, pod_id, {sums_and_counts} FROM metric_rollups
         ORDER BY job_id, step, time, pod_id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut packing: Option<((String, Millis, Millis), Bucket)> = None;
    while let Some(row) = rows.next()? {
        let key: (String, Millis, Millis) = (row.get(0)?, row.get(1)?, row.get(2)?);
        let pod_id = row.get_ref(3)?.as_str().map_err(corrupt)?;
        let mut sums = Sums::default();
        for (s, (sum, count)) in sums.iter_mut().enumerate() {
            *sum = row.get(4 + 2 * s)?;
            *count = row.get(5 + 2 * s)?;
        }
        match &mut packing {
            Some((packed, bucket)) if *packed == key => bucket.add(pod_id, &sums),
            _ => {
                if let Some(((job_id, step, time), bucket)) = packing.take() {
                    store_bucket(tx, &job_id, step, time, &bucket)?;
                }
                let mut bucket = Bucket::default();
                bucket.add(pod_id, &sums);
                packing = Some((key, bucket));
            }
        }
    }
    if let Some(((job_id, step, time), bucket)) = packing {
        store_bucket(tx, &job_id, step, time, &bucket)?;
    }
    drop(rows);
    drop(stmt);
    tx.execute_batch("DROP TABLE metric_rollups;")?;
    Ok(())
}
