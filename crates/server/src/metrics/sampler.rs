//! Every `interval`, one sample of every running pod, written in one transaction; once an hour
//! (and at start), samples older than the retention are deleted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opendlc_core::time::now_millis;
use opendlc_runtime::metrics::Sampler;
use opendlc_store::Store;
use tokio::sync::watch;

/// How often pods are sampled when not configured.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long samples are kept when not configured.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

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

/// Samples the running pods on this host, `node` (the NodeName its pods get): a pod on another
/// node (the Slurm runtime) has a pid of that node's, which means nothing here.
pub fn spawn(
    store: Arc<Store>,
    config: SamplerConfig,
    node: String,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let sampler = match tokio::task::spawn_blocking(|| Sampler::new(true)).await {
            Ok(s) => Arc::new(Mutex::new(s)),
            Err(e) => {
                tracing::error!("metric sampling is off: the sampler failed to start: {e}");
                return;
            }
        };
        let gpus = sampler.lock().map(|s| s.has_gpus()).unwrap_or(false);
        tracing::info!(
            interval_ms = config.interval.as_millis() as u64,
            gpus,
            "sampling pod metrics"
        );
        let mut ticks = tokio::time::interval(config.interval.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let prune = last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
            if prune {
                last_prune = Some(tokio::time::Instant::now());
            }
            let store = store.clone();
            let sampler = sampler.clone();
            let retention = config.retention;
            let node = node.clone();
            let done = tokio::task::spawn_blocking(move || {
                tick(&store, &sampler, &node, prune, retention)
            });
            if let Ok(Err(e)) = done.await {
                tracing::warn!("failed to record pod metrics: {e}");
            }
        }
    })
}

fn tick(
    store: &Store,
    sampler: &Mutex<Sampler>,
    node: &str,
    prune: bool,
    retention: Duration,
) -> Result<(), opendlc_store::StoreError> {
    if prune {
        let before = now_millis() - retention.as_millis() as i64;
        let removed = store.prune_samples(before)?;
        if removed > 0 {
            tracing::debug!(removed, "pruned old metric samples");
        }
    }
    let pods = store.running_pods(node)?;
    let leaders: Vec<u32> = pods.iter().map(|p| p.pid).collect();
    let samples = sampler
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .sample(&leaders);
    let at = now_millis();
    let rows: Vec<_> = pods
        .into_iter()
        .zip(samples)
        .filter_map(|(p, s)| Some((p.pod, s?)))
        .collect();
    store.insert_samples(at, &rows)
}
