//! Metric sampling of running pods from `/proc` (and NVML where there is a GPU).
//!
//! What is per pod: CPU, memory, disk I/O and GPU are summed over the pod's processes (its
//! session plus the leader's descendants). Network counters are those of the pod's network
//! namespace; local pods share the host's, so there they are host-wide (loopback excluded).
//! Rates need two samples: a pod's first sample has no CPU, disk or network value.

mod gpu;
pub mod pod_file;
pub mod procfs;

use std::collections::HashMap;
use std::time::Instant;

use opendlc_core::metrics::PodSample;

pub use gpu::{GpuUsage, Gpus};
use procfs::ProcTimes;

/// Cumulative counters of one pod at one instant.
struct PodCounters {
    at: Instant,
    /// Per process, keyed by (pid, start ticks): CPU ticks, bytes read, bytes written.
    processes: HashMap<(u32, u64), (u64, u64, u64)>,
    net: Option<(u64, u64)>,
}

/// Keeps the previous counters of every pod, so that each call yields rates.
pub struct Sampler {
    previous: HashMap<u32, PodCounters>,
    gpus: Option<Gpus>,
    ticks_per_second: f64,
    page_size: u64,
}

impl Sampler {
    /// A sampler; `with_gpus` tries NVML (absent on hosts without an NVIDIA driver).
    pub fn new(with_gpus: bool) -> Sampler {
        Sampler {
            previous: HashMap::new(),
            gpus: if with_gpus { Gpus::detect() } else { None },
            ticks_per_second: procfs::clock_ticks_per_second(),
            page_size: procfs::page_size(),
        }
    }

    pub fn has_gpus(&self) -> bool {
        self.gpus.is_some()
    }

    /// One sample of each pod, given by the pid of its command (the leader of its session);
    /// `None` for a pod none of whose processes is left (it ended since it was listed).
    pub fn sample(&mut self, leaders: &[u32]) -> Vec<Option<PodSample>> {
        let processes = procfs::all_processes();
        let gpu_usage = self.gpus.as_mut().map(Gpus::usage);
        let now = Instant::now();
        let mut next = HashMap::new();
        let samples = leaders
            .iter()
            .map(|&leader| {
                let members = procfs::pod_members(&processes, leader);
                if members.is_empty() {
                    return None;
                }
                let counters = counters(&members, leader, now);
                let sample = self.measure(
                    &members,
                    &counters,
                    self.previous.get(&leader),
                    gpu_usage.as_ref(),
                );
                next.insert(leader, counters);
                Some(sample)
            })
            .collect();
        // Pods no longer asked for are forgotten.
        self.previous = next;
        samples
    }

    fn measure(
        &self,
        members: &[&ProcTimes],
        now: &PodCounters,
        before: Option<&PodCounters>,
        gpu_usage: Option<&HashMap<u32, GpuUsage>>,
    ) -> PodSample {
        let rss: u64 = members.iter().map(|p| p.rss_pages).sum();
        let mut sample = PodSample {
            memory: Some((rss * self.page_size) as f64),
            ..PodSample::default()
        };
        if let Some(gpu_usage) = gpu_usage {
            let mut total = GpuUsage::default();
            for p in members {
                if let Some(u) = gpu_usage.get(&p.pid) {
                    total.core_percent += u.core_percent;
                    total.memory_bytes += u.memory_bytes;
                }
            }
            sample.gpu_core = Some(total.core_percent);
            sample.gpu_memory = Some(total.memory_bytes);
        }
        let Some(before) = before else {
            return sample;
        };
        let seconds = now.at.duration_since(before.at).as_secs_f64();
        if seconds <= 0.0 {
            return sample;
        }
        // A process not seen before started during the interval: all of its counters count.
        let (mut cpu, mut read, mut write) = (0u64, 0u64, 0u64);
        for (key, (c, r, w)) in &now.processes {
            let (c0, r0, w0) = before.processes.get(key).copied().unwrap_or_default();
            cpu += c.saturating_sub(c0);
            read += r.saturating_sub(r0);
            write += w.saturating_sub(w0);
        }
        sample.cpu = Some(cpu as f64 / self.ticks_per_second / seconds * 100.0);
        sample.disk_read = Some(read as f64 / seconds);
        sample.disk_write = Some(write as f64 / seconds);
        if let (Some((rx, tx)), Some((rx0, tx0))) = (now.net, before.net) {
            sample.net_in = Some(rx.saturating_sub(rx0) as f64 / seconds);
            sample.net_out = Some(tx.saturating_sub(tx0) as f64 / seconds);
        }
        sample
    }
}

fn counters(members: &[&ProcTimes], leader: u32, at: Instant) -> PodCounters {
    let processes = members
        .iter()
        .map(|p| {
            let (read, write) = procfs::io_bytes(p.pid).unwrap_or_default();
            ((p.pid, p.start_ticks), (p.cpu_ticks, read, write))
        })
        .collect();
    let net = members
        .iter()
        .find(|p| p.pid == leader)
        .or(members.first())
        .and_then(|p| procfs::net_bytes(p.pid));
    PodCounters { at, processes, net }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvml_is_absent_without_an_nvidia_driver() {
        if !std::path::Path::new("/dev/nvidiactl").exists() {
            assert!(Gpus::detect().is_none());
            assert!(!Sampler::new(true).has_gpus());
        }
    }

    #[test]
    #[ignore = "needs GPU"]
    fn nvml_sees_the_gpus_and_reports_per_process_usage() {
        let mut gpus = Gpus::detect().expect("NVML and at least one GPU");
        // No process of ours uses a GPU: whatever is listed is someone else's.
        assert!(!gpus.usage().contains_key(&std::process::id()));
        let sample = Sampler::new(true).sample(&[std::process::id()]);
        let sample = sample[0].clone().unwrap();
        assert_eq!((sample.gpu_core, sample.gpu_memory), (Some(0.0), Some(0.0)));
    }

    #[test]
    fn a_busy_process_shows_cpu_and_memory() {
        // This test process is the "pod": a thread burns CPU between two samples.
        let me = std::process::id();
        let mut sampler = Sampler::new(false);
        let first = sampler.sample(&[me, u32::MAX]);
        assert_eq!(first[1], None, "no such process: no sample");
        let first = first[0].clone().unwrap();
        assert!(first.memory.unwrap() > 0.0);
        assert_eq!(first.cpu, None, "a rate needs two samples");
        assert_eq!(first.gpu_core, None, "no NVML: absent, not zero");
        let until = Instant::now() + std::time::Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < until {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let second = sampler.sample(&[me])[0].clone().unwrap();
        let cpu = second.cpu.unwrap();
        assert!(cpu > 30.0, "cpu {cpu}");
        assert!(second.disk_read.is_some() && second.net_in.is_some());
    }
}
