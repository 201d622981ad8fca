//! Pod metrics: the eight series GetJobMetrics knows, one sample of them, the resolutions they
//! are kept at, and the aggregation of samples into `TimeStep` buckets. Pure: sampling lives in
//! the runtime, storage in the store.

mod resolutions;

pub use resolutions::{
    bucket, kept_from, reads, Read, Resolution, Rollup, ROLLUPS, SAMPLES_KEPT_MS,
};

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// GetJobMetrics' `MetricType`, with the unit opendlc reports it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// Percent of one GPU's cores (SM utilisation), summed over the pod's GPUs.
    GpuCoreUsage,
    /// Bytes of GPU memory used by the pod's processes.
    GpuMemoryUsage,
    /// Percent of one CPU core (100 = one core busy), summed over the pod's processes.
    CpuCoreUsage,
    /// Bytes of resident memory (RSS) of the pod's processes.
    MemoryUsage,
    /// Bytes per second received (host-wide, see docs/OBSERVABILITY.md).
    NetworkInputRate,
    /// Bytes per second sent (host-wide).
    NetworkOutputRate,
    /// Bytes per second the pod's processes read from storage.
    DiskReadRate,
    /// Bytes per second the pod's processes wrote to storage.
    DiskWriteRate,
}

impl MetricType {
    pub const ALL: [MetricType; 8] = [
        MetricType::GpuCoreUsage,
        MetricType::GpuMemoryUsage,
        MetricType::CpuCoreUsage,
        MetricType::MemoryUsage,
        MetricType::NetworkInputRate,
        MetricType::NetworkOutputRate,
        MetricType::DiskReadRate,
        MetricType::DiskWriteRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::GpuCoreUsage => "GpuCoreUsage",
            MetricType::GpuMemoryUsage => "GpuMemoryUsage",
            MetricType::CpuCoreUsage => "CpuCoreUsage",
            MetricType::MemoryUsage => "MemoryUsage",
            MetricType::NetworkInputRate => "NetworkInputRate",
            MetricType::NetworkOutputRate => "NetworkOutputRate",
            MetricType::DiskReadRate => "DiskReadRate",
            MetricType::DiskWriteRate => "DiskWriteRate",
        }
    }

    /// Case-sensitive, as the spec spells it.
    pub fn parse(text: &str) -> Option<MetricType> {
        MetricType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The value of this series in a sample; `None` when the host could not measure it.
    pub fn of(self, sample: &PodSample) -> Option<f64> {
        match self {
            MetricType::GpuCoreUsage => sample.gpu_core,
            MetricType::GpuMemoryUsage => sample.gpu_memory,
            MetricType::CpuCoreUsage => sample.cpu,
            MetricType::MemoryUsage => sample.memory,
            MetricType::NetworkInputRate => sample.net_in,
            MetricType::NetworkOutputRate => sample.net_out,
            MetricType::DiskReadRate => sample.disk_read,
            MetricType::DiskWriteRate => sample.disk_write,
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One measurement of one pod. A series the host cannot measure (GPU without NVML, rates on
/// the first sample) is `None`: absent, never zero. Serialized (a shim's `metrics.jsonl`) with
/// the absent series left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodSample {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_read: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_write: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_in: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_out: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_core: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_memory: Option<f64>,
}

/// What is stored of one series of a pod at one time: a sample (`samples` 1, `sum` its value)
/// or a rollup's bucket (`time` its start, `sum` the values of its `samples`).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    /// Shared by the points of one read ([`PodIds`]): a week of a 100-pod job is 200,000
    /// points of 100 pods.
    pub pod_id: Arc<str>,
    pub time: Millis,
    pub sum: f64,
    pub samples: u32,
}

/// The pod ids of a read's points, each allocated once.
#[derive(Debug, Default)]
pub struct PodIds {
    ids: Vec<Arc<str>>,
    last: usize,
}

impl PodIds {
    /// `id`, shared. Points come ordered by time, then pod: the pod after the last one asked
    /// for is tried first, so a read of `n` points makes about `n` string comparisons.
    pub fn get(&mut self, id: &str) -> Arc<str> {
        let i = match next_matching(&self.ids, self.last, |known| &**known == id) {
            Some(i) => i,
            None => {
                self.ids.push(id.into());
                self.ids.len() - 1
            }
        };
        self.last = i;
        self.ids[i].clone()
    }
}

/// The first of `items` that `is` holds for, looking from the one after `last` onwards and
/// round.
fn next_matching<T>(items: &[T], last: usize, is: impl Fn(&T) -> bool) -> Option<usize> {
    let n = items.len();
    (1..=n).map(|k| (last + k) % n).find(|&i| is(&items[i]))
}

/// `TimeStep` when the request has none (the spec's default: 5 minutes).
pub const DEFAULT_TIME_STEP_MS: Millis = 5 * 60 * 1000;

/// A `TimeStep` that does not parse or is out of range; the API user reads the message after
/// "Invalid parameter TimeStep: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTimeStep {
    #[error("\"{0}\" is not a duration like 30s, 5m or 1h")]
    NotADuration(String),
    #[error("must be positive, got \"{0}\"")]
    NotPositive(String),
    #[error("must be at most 366d, got \"{0}\"")]
    TooLong(String),
}

/// Parses a `TimeStep`: a positive number with a unit `s`, `m`, `h` or `d` (`30s`, `5m`,
/// `1h`); a bare number is seconds. Returns milliseconds.
pub fn parse_time_step(text: &str) -> Result<Millis, InvalidTimeStep> {
    let text = text.trim();
    let (digits, unit_ms) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1_000),
        Some((i, 'm')) => (&text[..i], 60_000),
        Some((i, 'h')) => (&text[..i], 3_600_000),
        Some((i, 'd')) => (&text[..i], 86_400_000),
        _ => (text, 1_000),
    };
    let n: i64 = digits
        .trim()
        .parse()
        .map_err(|_| InvalidTimeStep::NotADuration(text.to_string()))?;
    if n <= 0 {
        return Err(InvalidTimeStep::NotPositive(text.to_string()));
    }
    n.checked_mul(unit_ms)
        .filter(|ms| *ms <= 366 * 86_400_000)
        .ok_or_else(|| InvalidTimeStep::TooLong(text.to_string()))
}

/// The samples of each pod averaged over buckets of `step` ms aligned on the epoch (so a sample
/// always lands in the same bucket, whatever the window); a bucket's point carries the bucket's
/// start time. A rollup's bucket counts in the one holding its start, weighed by its samples.
/// Buckets without samples are left out. Pods keep the order of their first point.
///
/// Linear in the points when each pod's come oldest first, as the store returns them (a week of
/// 100 pods at 5 minutes is 200,000 of them); any order gives the same answer.
pub fn aggregate(points: &[SeriesPoint], step: Millis) -> Vec<(String, Vec<(Millis, f64)>)> {
    let step = step.max(1);
    /// A step's start, the sum of its samples' values and how many there are.
    type Step = (Millis, f64, u64);
    // Per pod, its steps in the order the points came.
    let mut series: Vec<(&str, Vec<Step>)> = Vec::new();
    let mut last = 0;
    for p in points {
        // The points of one pod share its id ([`PodIds`]): the same pointer is the same pod.
        let same = |(id, _): &(&str, Vec<Step>)| {
            std::ptr::eq(id.as_ptr(), p.pod_id.as_ptr()) || *id == &*p.pod_id
        };
        let i = match next_matching(&series, last, same) {
            Some(i) => i,
            None => {
                series.push((&p.pod_id, Vec::new()));
                series.len() - 1
            }
        };
        last = i;
        let (at, samples) = (bucket(p.time, step), u64::from(p.samples));
        match series[i].1.last_mut() {
            Some((last, sum, n)) if *last == at => {
                *sum += p.sum;
                *n += samples;
            }
            _ => series[i].1.push((at, p.sum, samples)),
        }
    }
    series
        .into_iter()
        .map(|(pod_id, mut buckets)| {
            if !buckets.is_sorted_by_key(|b| b.0) {
                buckets.sort_by_key(|b| b.0);
                buckets.dedup_by(|later, kept| {
                    let same = later.0 == kept.0;
                    if same {
                        kept.1 += later.1;
                        kept.2 += later.2;
                    }
                    same
                });
            }
            let points = buckets
                .into_iter()
                .map(|(at, sum, n)| (at, sum / n as f64))
                .collect();
            (pod_id.to_string(), points)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_type_round_trips_and_case_matters() {
        for t in MetricType::ALL {
            assert_eq!(MetricType::parse(t.as_str()), Some(t));
        }
        assert_eq!(MetricType::parse("cpucoreusage"), None);
        assert_eq!(MetricType::parse(""), None);
    }

    #[test]
    fn time_steps() {
        assert_eq!(parse_time_step("5m"), Ok(300_000));
        assert_eq!(parse_time_step("30s"), Ok(30_000));
        assert_eq!(parse_time_step("2h"), Ok(7_200_000));
        assert_eq!(parse_time_step("1d"), Ok(86_400_000));
        assert_eq!(parse_time_step("15"), Ok(15_000));
        assert!(parse_time_step("0s")
            .unwrap_err()
            .to_string()
            .contains("positive"));
        assert!(parse_time_step("-1m").is_err());
        assert!(parse_time_step("abc")
            .unwrap_err()
            .to_string()
            .contains("30s"));
        assert!(parse_time_step("").is_err());
        assert!(parse_time_step("400d")
            .unwrap_err()
            .to_string()
            .contains("366d"));
    }

    fn point(pod: &str, time: Millis, value: f64) -> SeriesPoint {
        SeriesPoint {
            pod_id: pod.into(),
            time,
            sum: value,
            samples: 1,
        }
    }

    #[test]
    fn aggregation_averages_per_pod_and_bucket() {
        let points = [
            point("w0", 10_000, 10.0),
            point("w1", 10_500, 1.0),
            point("w0", 15_000, 20.0),
            point("w0", 19_999, 30.0),
            point("w0", 20_000, 50.0),
        ];
        let got = aggregate(&points, 10_000);
        assert_eq!(
            got,
            vec![
                ("w0".to_string(), vec![(10_000, 20.0), (20_000, 50.0)]),
                ("w1".to_string(), vec![(10_000, 1.0)]),
            ]
        );
    }

    #[test]
    fn buckets_weigh_by_their_samples_and_average_exactly_with_samples() {
        let bucket = |pod: &str, time, sum, samples| SeriesPoint {
            pod_id: pod.into(),
            time,
            sum,
            samples,
        };
        // Two minutes of three samples each (10, 20, 30 and 40, 50, 60), then one sample: the
        // same average as the seven samples would give.
        let points = [
            bucket("w0", 0, 60.0, 3),
            bucket("w0", 60_000, 150.0, 3),
            point("w0", 125_000, 70.0),
        ];
        assert_eq!(
            aggregate(&points, 300_000),
            vec![("w0".to_string(), vec![(0, 40.0)])]
        );
        // A step finer than the buckets: one point per bucket, at its start.
        assert_eq!(
            aggregate(&points, 1_000),
            vec![(
                "w0".to_string(),
                vec![(0, 20.0), (60_000, 50.0), (125_000, 70.0)]
            )]
        );
    }

    #[test]
    fn points_in_any_order_give_the_same_answer() {
        let ordered = [
            point("w0", 10_000, 10.0),
            point("w1", 10_500, 1.0),
            point("w0", 15_000, 20.0),
            point("w0", 20_000, 50.0),
            point("w0", 25_000, 30.0),
        ];
        let mut shuffled = ordered.clone();
        shuffled.swap(0, 3);
        shuffled.swap(2, 4);
        let mut got = aggregate(&shuffled, 10_000);
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, aggregate(&ordered, 10_000));
    }
}
