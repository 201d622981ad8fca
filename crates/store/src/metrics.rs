//! Pod metric samples: one row per pod and sampling tick, deleted with their job or once older
//! than the retention.

use opendlc_core::metrics::{MetricType, PodSample, SeriesPoint};
use opendlc_core::time::Millis;
use rusqlite::params;

use crate::{Result, Store};

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

    /// The time of the newest sample of a pod incarnation.
    pub fn last_sample_time(&self, pod: &SampledPod) -> Result<Option<Millis>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT MAX(time) FROM metric_samples WHERE job_id = ?1 AND pod_uid = ?2",
            )?;
            Ok(stmt.query_row(params![pod.job_id, pod.pod_uid], |r| r.get(0))?)
        })
    }

    /// Records samples, each with its time, in one transaction. A pod whose job was deleted
    /// meanwhile is skipped, not an error.
    pub fn insert_samples(&self, samples: &[(Millis, SampledPod, PodSample)]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO metric_samples (job_id, pod_id, pod_uid, time, cpu, memory, disk_read,
                     disk_write, net_in, net_out, gpu_core, gpu_memory)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
                 WHERE EXISTS (SELECT 1 FROM jobs WHERE job_id = ?1)",
            )?;
            for (at, pod, s) in samples {
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
            Ok(())
        })
    }

    /// The measured values of one series of a job in `[start, end]`, oldest first (samples in
    /// which the host could not measure the series are left out).
    pub fn metric_series(
        &self,
        job_id: &str,
        metric: MetricType,
        start: Millis,
        end: Millis,
    ) -> Result<Vec<SeriesPoint>> {
        let col = column(metric);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT pod_id, time, {col} FROM metric_samples
                 WHERE job_id = ?1 AND time >= ?2 AND time <= ?3 AND {col} IS NOT NULL
                 ORDER BY time, pod_id"
            ))?;
            let points = stmt
                .query_map(params![job_id, start, end], |r| {
                    Ok(SeriesPoint {
                        pod_id: r.get(0)?,
                        time: r.get(1)?,
                        value: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(points)
        })
    }

    /// Deletes the samples taken before `before`; returns how many.
    pub fn prune_samples(&self, before: Millis) -> Result<usize> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM metric_samples WHERE time < ?1")?
                .execute([before])?)
        })
    }
}
