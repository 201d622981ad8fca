//! The shim's own sampling of its pod (`sample_every_ms` in spec.json): a thread that samples
//! the pod's processes, as the server does for local pods, into `metrics.jsonl`. Used where the
//! pod runs on a node the server cannot see (Slurm); the server reads the file back.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use opendlc_core::time::now_millis;

use super::diag;
use crate::metrics::{pod_file, Sampler};
use crate::pod_dir::{open_append, PodDir};

/// The sampling thread; stopped (and joined) before exit.json is written, so that no sample
/// follows the pod's end.
pub(super) struct PodSampling {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl PodSampling {
    /// Samples the pod whose command is `leader` every `every`, the first time after one
    /// interval: a pod shorter than that costs nothing but the thread (neither the file nor
    /// NVML is opened), which matters for many short jobs on a busy node.
    pub fn start(pod: &PodDir, leader: u32, every: Duration) -> PodSampling {
        let path = pod.metrics();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // True when the interval is over, false when the pod has ended.
            let wait = || matches!(stopped.recv_timeout(every), Err(RecvTimeoutError::Timeout));
            if !wait() {
                return;
            }
            let mut file = match open_append(&path) {
                Ok(file) => file,
                Err(e) => {
                    diag(format_args!("metrics are not sampled: {e}"));
                    return;
                }
            };
            let mut sampler = Sampler::new(true);
            loop {
                if let Some(Some(sample)) = sampler.sample(&[leader]).pop() {
                    if let Err(e) = pod_file::append(&mut file, now_millis(), &sample) {
                        diag(format_args!("failed to record a metric sample: {e}"));
                    }
                }
                if !wait() {
                    return;
                }
            }
        });
        PodSampling { stop, thread }
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            diag(format_args!("the metric sampling thread panicked"));
        }
    }
}
