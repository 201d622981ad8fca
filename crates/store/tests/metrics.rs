//! Pod metrics in the store: samples as taken, their rollups, what is kept how long, and their
//! deletion with the job. Times are given, never read from the clock.

mod common;

use common::{job, open};
use opendlc_core::metrics::{
    aggregate, reads, MetricType, PodSample, Read, Resolution, SeriesPoint,
};
use opendlc_core::time::Millis;
use opendlc_store::{SampledPod, Store, StoreError, DELETE_CHUNK};

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;
const DAY: Millis = 24 * HOUR;
const WEEK: Millis = 7 * DAY;
/// On the hour: every rollup's buckets start there.
const T0: Millis = 1_700_002_800_000;

fn sampled(job_id: &str, index: u32) -> SampledPod {
    SampledPod {
        job_id: job_id.into(),
        pod_id: format!("{job_id}-worker-{index}"),
        pod_uid: format!("{job_id}-uid-{index}"),
    }
}

fn cpu_memory(cpu: Option<f64>, memory: f64) -> PodSample {
    PodSample {
        cpu,
        memory: Some(memory),
        ..PodSample::default()
    }
}

/// Everything stored of a series at one resolution.
fn all_at(
    store: &Store,
    job_id: &str,
    metric: MetricType,
    resolution: Resolution,
) -> Vec<SeriesPoint> {
    let read = Read {
        resolution,
        from: Millis::MIN,
        until: Millis::MAX,
    };
    store.metric_series(job_id, metric, &[read]).unwrap()
}

fn point(pod_id: &str, time: Millis, sum: f64, samples: u32) -> SeriesPoint {
    SeriesPoint {
        pod_id: pod_id.into(),
        time,
        sum,
        samples,
    }
}

/// Prunes at `now` until nothing is left, checking that no call deletes more than asked.
fn prune_all(store: &Store, now: Millis, retention: Millis, limit: usize) -> usize {
    let mut total = 0;
    loop {
        let deleted = store.prune_metrics(now, retention, limit).unwrap();
        assert!(deleted <= limit, "{deleted} rows deleted in one call");
        total += deleted;
        if deleted < limit {
            return total;
        }
    }
}

#[test]
fn samples_are_kept_as_taken_for_an_hour_and_their_buckets_after() {
    let (_dir, store) = open();
    store
        .insert_job(&job("dlcmetrics0001", "m", 1_000))
        .unwrap();
    let pod = sampled("dlcmetrics0001", 0);
    let gone = SampledPod {
        job_id: "dlcnosuchjob0000".into(),
        ..pod.clone()
    };
    store
        .insert_samples(&[(T0 + 10_000, pod.clone(), cpu_memory(None, 1e6))])
        .unwrap();
    // A sample of a job deleted meanwhile is dropped, not an error.
    store
        .insert_samples(&[
            (T0 + 20_000, pod.clone(), cpu_memory(Some(50.0), 3e6)),
            (T0 + 20_000, gone, cpu_memory(Some(1.0), 1.0)),
        ])
        .unwrap();
    let cpu = all_at(
        &store,
        "dlcmetrics0001",
        MetricType::CpuCoreUsage,
        Resolution::Samples,
    );
    assert_eq!(
        cpu,
        [point(&pod.pod_id, T0 + 20_000, 50.0, 1)],
        "an unmeasured value is absent"
    );
    assert_eq!(store.last_sample_time(&pod).unwrap(), Some(T0 + 20_000));
    let window = Read {
        resolution: Resolution::Samples,
        from: T0,
        until: T0 + 15_000,
    };
    let memory = store
        .metric_series("dlcmetrics0001", MetricType::MemoryUsage, &[window])
        .unwrap();
    assert_eq!(
        memory,
        [point(&pod.pod_id, T0 + 10_000, 1e6, 1)],
        "the window is honoured"
    );
    assert!(all_at(
        &store,
        "dlcmetrics0001",
        MetricType::GpuCoreUsage,
        Resolution::Samples
    )
    .is_empty());
    assert!(all_at(
        &store,
        "dlcnosuchjob0000",
        MetricType::CpuCoreUsage,
        Resolution::Buckets(MINUTE)
    )
    .is_empty());

    // An hour after the first sample, it goes; its minute stays.
    assert_eq!(prune_all(&store, T0 + 20_000 + HOUR, WEEK, 100), 1);
    let left = all_at(
        &store,
        "dlcmetrics0001",
        MetricType::MemoryUsage,
        Resolution::Samples,
    );
    assert_eq!(left, [point(&pod.pod_id, T0 + 20_000, 3e6, 1)]);
    let minute = all_at(
        &store,
        "dlcmetrics0001",
        MetricType::MemoryUsage,
        Resolution::Buckets(MINUTE),
    );
    assert_eq!(minute, [point(&pod.pod_id, T0, 4e6, 2)]);

    store.delete_job("dlcmetrics0001").unwrap();
    for resolution in [
        Resolution::Samples,
        Resolution::Buckets(MINUTE),
        Resolution::Buckets(HOUR),
    ] {
        assert!(all_at(
            &store,
            "dlcmetrics0001",
            MetricType::MemoryUsage,
            resolution
        )
        .is_empty());
    }
}

#[test]
fn every_sample_is_added_to_its_bucket_of_every_rollup() {
    let (_dir, store) = open();
    store.insert_job(&job("dlcrollup0001", "r", 1_000)).unwrap();
    let (w0, w1) = (sampled("dlcrollup0001", 0), sampled("dlcrollup0001", 1));
    store
        .insert_samples(&[
            (T0, w0.clone(), cpu_memory(None, 100.0)),
            (T0 + 30_000, w0.clone(), cpu_memory(Some(10.0), 200.0)),
            (T0 + 30_000, w1.clone(), cpu_memory(Some(100.0), 1.0)),
        ])
        .unwrap();
    // Later writes add to the buckets already there.
    store
        .insert_samples(&[
            (T0 + 90_000, w0.clone(), cpu_memory(Some(20.0), 300.0)),
            (T0 + 6 * MINUTE, w0.clone(), cpu_memory(Some(30.0), 400.0)),
            (T0 + 61 * MINUTE, w0.clone(), cpu_memory(Some(40.0), 500.0)),
        ])
        .unwrap();
    let cpu = |resolution| {
        all_at(
            &store,
            "dlcrollup0001",
            MetricType::CpuCoreUsage,
            resolution,
        )
    };
    let (p0, p1) = (w0.pod_id.as_str(), w1.pod_id.as_str());
    assert_eq!(
        cpu(Resolution::Buckets(MINUTE)),
        [
            point(p0, T0, 10.0, 1),
            point(p1, T0, 100.0, 1),
            point(p0, T0 + MINUTE, 20.0, 1),
            point(p0, T0 + 6 * MINUTE, 30.0, 1),
            point(p0, T0 + 61 * MINUTE, 40.0, 1),
        ]
    );
    assert_eq!(
        cpu(Resolution::Buckets(5 * MINUTE)),
        [
            point(p0, T0, 30.0, 2),
            point(p1, T0, 100.0, 1),
            point(p0, T0 + 5 * MINUTE, 30.0, 1),
            point(p0, T0 + HOUR, 40.0, 1),
        ]
    );
    assert_eq!(
        cpu(Resolution::Buckets(HOUR)),
        [
            point(p0, T0, 60.0, 3),
            point(p1, T0, 100.0, 1),
            point(p0, T0 + HOUR, 40.0, 1)
        ]
    );
    // Each series counts its own measurements: the first sample had memory, not CPU.
    assert_eq!(
        all_at(
            &store,
            "dlcrollup0001",
            MetricType::MemoryUsage,
            Resolution::Buckets(HOUR)
        ),
        [
            point(p0, T0, 1000.0, 4),
            point(p1, T0, 1.0, 1),
            point(p0, T0 + HOUR, 500.0, 1)
        ]
    );
    assert!(all_at(
        &store,
        "dlcrollup0001",
        MetricType::GpuCoreUsage,
        Resolution::Buckets(HOUR)
    )
    .is_empty());
}

#[test]
fn every_sample_counts_once_whatever_the_step_and_steps_of_whole_buckets_average_exactly() {
    let (_dir, store) = open();
    store.insert_job(&job("dlcsteps00001", "s", 1_000)).unwrap();
    let pod = sampled("dlcsteps00001", 0);
    // Two days of a sample every 30 s, valued by its index.
    let interval = 30_000;
    let count = 2 * DAY / interval;
    let samples: Vec<(Millis, SampledPod, PodSample)> = (0..count)
        .map(|i| {
            (
                T0 + i * interval,
                pod.clone(),
                cpu_memory(Some(i as f64), 0.0),
            )
        })
        .collect();
    for chunk in samples.chunks(1_000) {
        store.insert_samples(chunk).unwrap();
    }
    let now = T0 + 2 * DAY;
    prune_all(&store, now, WEEK, DELETE_CHUNK);

    let values = |step| {
        let points = store
            .metric_series(
                "dlcsteps00001",
                MetricType::CpuCoreUsage,
                &reads(T0, now, step, now),
            )
            .unwrap();
        let weight: u64 = points.iter().map(|p| u64::from(p.samples)).sum();
        let sum: f64 = points.iter().map(|p| p.sum).sum();
        (weight, sum, aggregate(&points, step))
    };
    let all_sum = (0..count).map(|i| i as f64).sum::<f64>();
    for step in [
        1_000,
        interval,
        MINUTE,
        90_000,
        5 * MINUTE,
        HOUR,
        4_032_000,
        DAY,
    ] {
        let (weight, sum, _) = values(step);
        assert_eq!((weight, sum), (count as u64, all_sum), "step {step}");
    }
    // What the samples themselves would give, per step of 5 minutes and of an hour.
    for step in [5 * MINUTE, HOUR] {
        let per_bucket = samples.chunks((step / interval) as usize).map(|bucket| {
            let (first, ..) = bucket[0];
            let average =
                bucket.iter().map(|(_, _, s)| s.cpu.unwrap()).sum::<f64>() / bucket.len() as f64;
            (first, average)
        });
        let (_, _, got) = values(step);
        assert_eq!(
            got,
            [(pod.pod_id.clone(), per_bucket.collect::<Vec<_>>())],
            "step {step}"
        );
    }
}

#[test]
fn rows_per_pod_stay_bounded_over_the_retention() {
    let (_dir, store) = open();
    store.insert_job(&job("dlcbounded001", "b", 1_000)).unwrap();
    let pod = sampled("dlcbounded001", 0);
    // Nine days of a sample every 30 s, pruned every 10 minutes as the sampler would.
    let interval = 30_000;
    let rows_at =
        |resolution| all_at(&store, "dlcbounded001", MetricType::MemoryUsage, resolution).len();
    let mut now = T0;
    while now < T0 + 9 * DAY {
        let batch: Vec<_> = (0..20)
            .map(|i| (now + i * interval, pod.clone(), cpu_memory(None, 1.0)))
            .collect();
        store.insert_samples(&batch).unwrap();
        now += 10 * MINUTE;
        prune_all(&store, now, WEEK, 500);
    }
    let kept = [
        (Resolution::Samples, HOUR / interval),
        (Resolution::Buckets(MINUTE), DAY / MINUTE),
        (Resolution::Buckets(5 * MINUTE), WEEK / (5 * MINUTE)),
        (Resolution::Buckets(HOUR), WEEK / HOUR),
    ];
    for (resolution, rows) in kept {
        assert_eq!(rows_at(resolution) as Millis, rows, "{resolution:?}");
    }
    // A shorter retention bounds every resolution.
    prune_all(&store, now, 2 * HOUR, 500);
    assert_eq!(rows_at(Resolution::Buckets(MINUTE)), 120);
    assert_eq!(rows_at(Resolution::Buckets(HOUR)), 2);
}

#[test]
fn a_job_with_more_metric_rows_than_a_chunk_is_deleted_whole() {
    let (_dir, store) = open();
    store
        .insert_job(&job("dlcbigjob0001", "big", 1_000))
        .unwrap();
    store.insert_job(&job("dlcneighbour1", "n", 1_000)).unwrap();
    let pods = [sampled("dlcbigjob0001", 0), sampled("dlcbigjob0001", 1)];
    let neighbour = sampled("dlcneighbour1", 0);
    let samples: Vec<_> = (0..DELETE_CHUNK as Millis)
        .flat_map(|i| {
            let at = T0 + i * 5_000;
            pods.iter()
                .chain([&neighbour])
                .map(move |p| (at, p.clone(), cpu_memory(Some(1.0), 1.0)))
        })
        .collect();
    store.insert_samples(&samples).unwrap();

    store.delete_job("dlcbigjob0001").unwrap();
    assert!(matches!(
        store.get_job("dlcbigjob0001"),
        Err(StoreError::JobNotFound(_))
    ));
    for resolution in [
        Resolution::Samples,
        Resolution::Buckets(MINUTE),
        Resolution::Buckets(HOUR),
    ] {
        assert!(all_at(
            &store,
            "dlcbigjob0001",
            MetricType::CpuCoreUsage,
            resolution
        )
        .is_empty());
        assert!(!all_at(
            &store,
            "dlcneighbour1",
            MetricType::CpuCoreUsage,
            resolution
        )
        .is_empty());
    }
    assert!(matches!(
        store.delete_job("dlcbigjob0001"),
        Err(StoreError::JobNotFound(_))
    ));
}

#[test]
fn a_long_read_split_in_two_returns_every_bucket_once_in_order() {
    let (_dir, store) = open();
    store
        .insert_job(&job("dlcmetrics0005", "m", 1_000))
        .unwrap();
    let pods = [sampled("dlcmetrics0005", 0), sampled("dlcmetrics0005", 1)];
    // Four days of 5-minute buckets (1,152 steps: more than one read takes alone), one sample
    // per pod in each.
    let step = 5 * MINUTE;
    let samples: Vec<_> = (0..4 * DAY / step)
        .flat_map(|k| {
            pods.iter().enumerate().map(move |(i, pod)| {
                (
                    T0 + k * step,
                    pod.clone(),
                    cpu_memory(Some(k as f64 + i as f64), 1.0),
                )
            })
        })
        .collect();
    store.insert_samples(&samples).unwrap();
    let read = Read {
        resolution: Resolution::Buckets(step),
        from: T0,
        until: T0 + 4 * DAY,
    };
    assert!((read.until - read.from) / step > opendlc_store::SPLIT_AT);
    let got = store
        .metric_series("dlcmetrics0005", MetricType::CpuCoreUsage, &[read])
        .unwrap();
    let want: Vec<_> = samples
        .iter()
        .map(|(time, pod, sample)| point(&pod.pod_id, *time, sample.cpu.unwrap(), 1))
        .collect();
    assert_eq!(got, want);
    // One pod's points share its id.
    assert!(std::sync::Arc::ptr_eq(&got[0].pod_id, &got[2].pod_id));
}
