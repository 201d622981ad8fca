//! One bucket of a rollup as a row of `metric_buckets`: the job's pods that have samples in it,
//! and per series each one's sum and count.
//!
//! A row per job and bucket, not per pod: a week of a 100-pod job at 5 minutes is 2,016 rows to
//! read instead of 201,600 (SQLite's work per row was most of GetJobMetrics' time), and the
//! sampler writes one row per job and rollup at each round, whatever the job's size.
//!
//! `pods` is the pods' ids, sorted, one per line. Each series' column is, for each of those pods
//! in that order, the sum of the values measured (`f64`) and how many there were (`u32`), both
//! little-endian: [`ENTRY`] bytes a pod. A series no pod measured in the bucket is NULL.

use opendlc_core::metrics::MetricType;

use crate::{Result, StoreError};

/// The bytes of one pod's entry in a series' column.
pub const ENTRY: usize = 12;

/// The sum and count of each series (in the order of `MetricType::ALL`) in one bucket.
pub type Sums = [(f64, u32); MetricType::ALL.len()];

/// One bucket's pods and their sums, the pods in the order of their ids.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Bucket {
    pods: Vec<(String, Sums)>,
}

/// A bucket's columns as stored: its pods, then each series (`None`: measured by none).
pub type Columns = (String, [Option<Vec<u8>>; MetricType::ALL.len()]);

impl Bucket {
    /// A bucket from its stored columns.
    pub fn decode(pods: &str, series: [Option<&[u8]>; MetricType::ALL.len()]) -> Result<Bucket> {
        let mut bucket = Bucket {
            pods: pod_ids(pods)
                .map(|id| (id.to_string(), Sums::default()))
                .collect(),
        };
        for (s, column) in series.into_iter().enumerate() {
            let Some(column) = column else { continue };
            for (i, sum, count) in entries(column, bucket.pods.len())? {
                bucket.pods[i].1[s] = (sum, count);
            }
        }
        Ok(bucket)
    }

    /// Adds a pod's sums to its own, the pod joining the bucket if it was not in it.
    pub fn add(&mut self, pod_id: &str, sums: &Sums) {
        let i = match self
            .pods
            .binary_search_by(|(id, _)| id.as_str().cmp(pod_id))
        {
            Ok(i) => i,
            Err(i) => {
                self.pods.insert(i, (pod_id.to_string(), Sums::default()));
                i
            }
        };
        for ((sum, count), (add_sum, add_count)) in self.pods[i].1.iter_mut().zip(sums) {
            *sum += add_sum;
            *count += add_count;
        }
    }

    /// The columns to store.
    pub fn columns(&self) -> Columns {
        let ids: Vec<&str> = self.pods.iter().map(|(id, _)| id.as_str()).collect();
        let series = std::array::from_fn(|s| {
            self.pods.iter().any(|(_, sums)| sums[s].1 > 0).then(|| {
                let mut column = Vec::with_capacity(self.pods.len() * ENTRY);
                for (_, sums) in &self.pods {
                    let (sum, count) = sums[s];
                    column.extend_from_slice(&sum.to_le_bytes());
                    column.extend_from_slice(&count.to_le_bytes());
                }
                column
            })
        });
        (ids.join("\n"), series)
    }
}

/// The pods' ids of a bucket's `pods` column, in order.
pub fn pod_ids(pods: &str) -> impl Iterator<Item = &str> {
    pods.split('\n').filter(|id| !id.is_empty())
}

/// A series' column of a bucket of `pods` pods: each pod's index, sum and count, in order.
pub fn entries(column: &[u8], pods: usize) -> Result<impl Iterator<Item = (usize, f64, u32)> + '_> {
    if column.len() != pods * ENTRY {
        return Err(StoreError::Corrupt(format!(
            "a metric bucket of {pods} pods holds {} bytes of a series",
            column.len()
        )));
    }
    Ok(column.chunks_exact(ENTRY).enumerate().map(|(i, entry)| {
        let (sum, count) = entry.split_at(8);
        let sum = f64::from_le_bytes(sum.try_into().expect("8 bytes"));
        let count = u32::from_le_bytes(count.try_into().expect("4 bytes"));
        (i, sum, count)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(cpu: (f64, u32), memory: (f64, u32)) -> Sums {
        let mut sums = Sums::default();
        sums[2] = cpu;
        sums[3] = memory;
        sums
    }

    #[test]
    fn a_bucket_keeps_its_pods_in_order_and_adds_their_sums() {
        let mut bucket = Bucket::default();
        bucket.add("job-worker-1", &sums((50.0, 1), (10.0, 1)));
        bucket.add("job-master-0", &sums((0.0, 0), (20.0, 1)));
        bucket.add("job-worker-1", &sums((70.0, 1), (30.0, 1)));
        let (pods, series) = bucket.columns();
        assert_eq!(pods, "job-master-0\njob-worker-1");
        // Measured by none: NULL. Measured by one: every pod has its entry.
        assert!(series[0].is_none() && series[7].is_none());
        let cpu: Vec<_> = entries(series[2].as_deref().unwrap(), 2).unwrap().collect();
        assert_eq!(cpu, [(0, 0.0, 0), (1, 120.0, 2)]);

        let stored: [Option<&[u8]>; 8] = std::array::from_fn(|s| series[s].as_deref());
        let decoded = Bucket::decode(&pods, stored).unwrap();
        assert_eq!(decoded, bucket);
    }

    #[test]
    fn a_column_that_does_not_fit_its_pods_is_an_error() {
        let err = entries(&[0; ENTRY * 2 + 1], 2).err().unwrap();
        assert!(err.to_string().contains("2 pods holds 25 bytes"), "{err}");
        assert_eq!(pod_ids("").count(), 0);
    }
}
