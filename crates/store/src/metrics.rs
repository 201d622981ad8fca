//! Pod metrics: each sample as taken (`metric_samples`), added as it is recorded to its bucket of
//! every rollup (`metric_rollups`; core's `metrics::resolutions` says which are kept how long and
//! which answer a window). Rows past their resolution's span are deleted a chunk at a time
//! ([`Store::prune_metrics`]), and a job's with the job.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use opendlc_core::metrics::{
    self, bucket, MetricType, PodIds, PodSample, Read, Resolution, SeriesPoint, ROLLUPS,
};
use opendlc_core::time::Millis;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Transaction};

use crate::{Result, Store};

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

/// Adds a bucket's sums and counts (in the order of `MetricType::ALL`) to its row, creating it.
static ADD_TO_BUCKET: LazyLock<String> = LazyLock::new(|| {
    let series: Vec<&str> = MetricType::ALL.into_iter().map(column).collect();
    let columns: Vec<String> = series
        .iter()
        .map(|c| format!("{c}_sum, {c}_count"))
        .collect();
    let values: Vec<String> = (5..5 + 2 * series.len()).map(|i| format!("?{i}")).collect();
    let sums: Vec<String> = series
        .iter()
        .map(|c| {
            format!(
                "{c}_sum = {c}_sum + excluded.{c}_sum, {c}_count = {c}_count + excluded.{c}_count"
            )
        })
        .collect();
    format!(
        "INSERT INTO metric_rollups (job_id, step, time, pod_id, {}) VALUES (?1, ?2, ?3, ?4, {})
         ON CONFLICT (job_id, step, time, pod_id) DO UPDATE SET {}",
        columns.join(", "),
        values.join(", "),
        sums.join(", ")
    )
});

/// The sum and count of each series (in the order of `MetricType::ALL`) in one bucket.
type Sums = [(f64, i64); MetricType::ALL.len()];

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
            // A write per bucket, not per sample: a batch (a shim's file read after a restart)
            // can hold many samples of one pod.
            let mut buckets: BTreeMap<(Millis, &str, &str, Millis), Sums> = BTreeMap::new();
            for (at, pod, sample) in &samples {
                for rollup in ROLLUPS {
                    let key = (
                        rollup.step,
                        &*pod.job_id,
                        &*pod.pod_id,
                        bucket(*at, rollup.step),
                    );
                    let sums = buckets.entry(key).or_default();
                    for (metric, (sum, count)) in MetricType::ALL.into_iter().zip(sums.iter_mut()) {
                        if let Some(value) = metric.of(sample) {
                            *sum += value;
                            *count += 1;
                        }
                    }
                }
            }
            let mut add = tx.prepare_cached(&ADD_TO_BUCKET)?;
            for ((step, job_id, pod_id, time), sums) in buckets {
                let mut values = vec![
                    Value::from(job_id.to_string()),
                    Value::from(step),
                    Value::from(time),
                    Value::from(pod_id.to_string()),
                ];
                for (sum, count) in sums {
                    values.extend([Value::from(sum), Value::from(count)]);
                }
                add.execute(params_from_iter(values))?;
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
                points.extend(self.read(|conn| read_points(conn, job_id, metric, read))?);
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
            points.extend(early?);
            match late {
                Ok(late) => points.extend(late?),
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
                        "DELETE FROM metric_rollups WHERE (job_id, step, time, pod_id) IN
                           (SELECT job_id, step, time, pod_id FROM metric_rollups
                            WHERE step = ?1 AND time < ?2 LIMIT ?3)",
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
            "DELETE FROM metric_rollups WHERE (job_id, step, time, pod_id) IN
               (SELECT job_id, step, time, pod_id FROM metric_rollups WHERE job_id = ?1 LIMIT ?2)",
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

/// The points of one read, oldest first, each pod's id allocated once.
fn read_points(
    conn: &rusqlite::Connection,
    job_id: &str,
    metric: MetricType,
    read: &Read,
) -> Result<Vec<SeriesPoint>> {
    let col = column(metric);
    let mut pods = PodIds::default();
    let mut points = Vec::new();
    let mut push = |row: &rusqlite::Row<'_>, samples: u32| -> rusqlite::Result<()> {
        let pod_id = pods.get(row.get_ref(0)?.as_str()?);
        points.push(SeriesPoint {
            pod_id,
            time: row.get(1)?,
            sum: row.get(2)?,
            samples,
        });
        Ok(())
    };
    match read.resolution {
        Resolution::Samples => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT pod_id, time, {col} FROM metric_samples
                 WHERE job_id = ?1 AND time >= ?2 AND time < ?3 AND {col} IS NOT NULL
                 ORDER BY time, pod_id"
            ))?;
            let mut rows = stmt.query(params![job_id, read.from, read.until])?;
            while let Some(row) = rows.next()? {
                push(row, 1)?;
            }
        }
        Resolution::Buckets(step) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT pod_id, time, {col}_sum, {col}_count FROM metric_rollups
                 WHERE job_id = ?1 AND step = ?2 AND time >= ?3 AND time < ?4
                   AND {col}_count > 0
                 ORDER BY time, pod_id"
            ))?;
            let mut rows = stmt.query(params![job_id, step, read.from, read.until])?;
            while let Some(row) = rows.next()? {
                let samples = row.get(3)?;
                push(row, samples)?;
            }
        }
    }
    Ok(points)
}
