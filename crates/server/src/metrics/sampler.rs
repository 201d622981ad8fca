//! Every `interval`, one sample of every running pod, written (with its rollups) in one
//! transaction; then, every minute (and at start), what is no longer kept is deleted a chunk at
//! a time (core's `metrics::resolutions`: samples past an hour, buckets past their span or the
//! retention).
//!
//! Pods on this host are sampled here, through `/proc`. A pod on another node (the Slurm
//! runtime) is sampled by its shim into `metrics.jsonl` on the shared directory: each tick
//! records the lines added since the last one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opendlc_core::metrics::PodSample;
use opendlc_core::time::{now_millis, Millis};
use opendlc_runtime::metrics::{pod_file, Sampler};
use opendlc_runtime::pod_dir::PodDir;
use opendlc_store::{RunningPod, SampledPod, Store, StoreError, DELETE_CHUNK};
use tokio::sync::watch;

use crate::layout::JobsDir;

/// How often pods are sampled when not configured.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long samples are kept when not configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Chunks of [`DELETE_CHUNK`] rows pruned per tick at most: a backlog (a database from before
/// the rollups, a server that was down) goes over the next ticks, not in one long stretch.
const PRUNE_CHUNKS_PER_TICK: usize = 50;

#[derive(Debug, Clone, Copy)]
pub struct SamplerConfig {
    pub interval: Duration,
    pub retention: Duration,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            interval: DEFAULT_INTERVAL,
            retention: DEFAULT_RETENTION,
        }
    }
}

/// What the sampler keeps from one tick to the next.
struct Sampling {
    /// Samples the pods on this host, `node` (the NodeName its pods get).
    local: Sampler,
    node: String,
    /// The pods sampled by their shims: where their files are, and how far each was read.
    jobs_dir: JobsDir,
    read_up_to: HashMap<String, u64>,
}

/// The sampling task, until `shutdown`: pods on `node` (this host) through `/proc`, the others
/// from their shims' files under `jobs_dir`.
pub fn spawn(
    store: Arc<Store>,
    config: SamplerConfig,
    node: String,
    jobs_dir: JobsDir,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let sampling = match tokio::task::spawn_blocking(move || Sampler::new(true)).await {
            Ok(local) => Arc::new(Mutex::new(Sampling {
                local,
                node,
                jobs_dir,
                read_up_to: HashMap::new(),
            })),
            Err(e) => {
                tracing::error!("metric sampling is off: the sampler failed to start: {e}");
                return;
            }
        };
        let gpus = sampling.lock().map(|s| s.local.has_gpus()).unwrap_or(false);
        tracing::info!(
            interval_ms = config.interval.as_millis() as u64,
            gpus,
            "sampling pod metrics"
        );
        let mut ticks = tokio::time::interval(config.interval.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune: Option<tokio::time::Instant> = None;
        let mut backlog = false;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let prune = backlog || last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
            if prune {
                last_prune = Some(tokio::time::Instant::now());
            }
            let store = store.clone();
            let sampling = sampling.clone();
            let retention = config.retention;
            let done = tokio::task::spawn_blocking(move || {
                let mut sampling = sampling.lock().unwrap_or_else(|e| e.into_inner());
                tick(&store, &mut sampling, prune, retention)
            });
            match done.await {
                Ok(Ok(more)) => backlog = more,
                Ok(Err(e)) => tracing::warn!("failed to record pod metrics: {e}"),
                Err(_) => {}
            }
        }
    })
}

/// Samples the running pods, then prunes if asked to; returns whether rows are left to prune.
/// Pruning comes second: after a restart, a shim's file is read again from the start and told
/// apart from what is stored by the pod's newest stored sample, which must not have been pruned
/// (an hour old, after a long stop) before it is read.
fn tick(
    store: &Store,
    sampling: &mut Sampling,
    prune: bool,
    retention: Duration,
) -> Result<bool, StoreError> {
    let (local, remote): (Vec<RunningPod>, Vec<RunningPod>) = store
        .running_pods()?
        .into_iter()
        .partition(|p| p.node_name.as_deref() == Some(sampling.node.as_str()));
    let mut rows = sample_here(&mut sampling.local, local);
    rows.extend(read_shim_samples(store, sampling, remote)?);
    store.insert_samples(&rows)?;
    if !prune {
        return Ok(false);
    }
    let (now, retention) = (now_millis(), retention.as_millis() as i64);
    let mut removed = 0;
    for _ in 0..PRUNE_CHUNKS_PER_TICK {
        let chunk = store.prune_metrics(now, retention, DELETE_CHUNK)?;
        removed += chunk;
        if chunk < DELETE_CHUNK {
            if removed > 0 {
                tracing::debug!(removed, "pruned old metric samples and rollups");
            }
            return Ok(false);
        }
    }
    tracing::debug!(removed, "pruned old metric samples and rollups; more to go");
    Ok(true)
}

/// One sample of each pod on this host, by the pid of its command.
fn sample_here(
    sampler: &mut Sampler,
    pods: Vec<RunningPod>,
) -> Vec<(Millis, SampledPod, PodSample)> {
    let pods: Vec<(SampledPod, u32)> = pods
        .into_iter()
        .filter_map(|p| Some((p.pod, p.pid?)))
        .collect();
    let leaders: Vec<u32> = pods.iter().map(|(_, pid)| *pid).collect();
    let samples = sampler.sample(&leaders);
    let at = now_millis();
    pods.into_iter()
        .zip(samples)
        .filter_map(|((pod, _), s)| Some((at, pod, s?)))
        .collect()
}

/// The samples the shims of pods on other nodes wrote since the last tick. The first time a pod
/// is seen (a new pod, or every pod after a server restart) its file is read from the start,
/// without the samples already stored.
fn read_shim_samples(
    store: &Store,
    sampling: &mut Sampling,
    pods: Vec<RunningPod>,
) -> Result<Vec<(Millis, SampledPod, PodSample)>, StoreError> {
    let mut read_up_to = HashMap::new();
    let mut rows = Vec::new();
    for RunningPod { pod, .. } in pods {
        let (offset, after) = match sampling.read_up_to.get(&pod.pod_uid) {
            Some(&offset) => (offset, None),
            None => (0, store.last_sample_time(&pod)?),
        };
        let dir = PodDir::new(sampling.jobs_dir.pod(&pod.job_id, &pod.pod_uid));
        let offset = match pod_file::read_from(&dir.metrics(), offset) {
            Ok((samples, next)) => {
                rows.extend(
                    samples
                        .into_iter()
                        .filter(|(at, _)| after.is_none_or(|after| *at > after))
                        .map(|(at, sample)| (at, pod.clone(), sample)),
                );
                next
            }
            Err(e) => {
                tracing::warn!(pod = %pod.pod_id, "failed to read the pod's metric samples: {e}");
                offset
            }
        };
        read_up_to.insert(pod.pod_uid, offset);
    }
    // Pods no longer running are forgotten.
    sampling.read_up_to = read_up_to;
    Ok(rows)
}
