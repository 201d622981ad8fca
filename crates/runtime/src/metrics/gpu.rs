//! GPU usage per process through NVML. `libnvidia-ml` is loaded at run time: on a host without
//! an NVIDIA driver [`Gpus::detect`] finds nothing and the GPU series stay absent.

use std::collections::HashMap;

use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::Nvml;

/// Per-process GPU usage, summed over the host's GPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GpuUsage {
    /// SM utilisation, percent of one GPU.
    pub core_percent: f64,
    pub memory_bytes: f64,
}

pub struct Gpus {
    nvml: Nvml,
    /// Per device: the NVML timestamp (µs) of the newest utilisation sample already seen.
    last_seen: HashMap<u32, u64>,
}

impl Gpus {
    /// NVML with at least one device, or `None` (no driver, no library, no GPU).
    pub fn detect() -> Option<Gpus> {
        let nvml = Nvml::init().ok()?;
        if nvml.device_count().ok()? == 0 {
            return None;
        }
        Some(Gpus {
            nvml,
            last_seen: HashMap::new(),
        })
    }

    /// GPU usage of every process that uses a GPU now, by pid.
    pub fn usage(&mut self) -> HashMap<u32, GpuUsage> {
        let mut usage: HashMap<u32, GpuUsage> = HashMap::new();
        let count = self.nvml.device_count().unwrap_or(0);
        for index in 0..count {
            let Ok(device) = self.nvml.device_by_index(index) else {
                continue;
            };
            if let Ok(processes) = device.running_compute_processes() {
                for p in processes {
                    let entry = usage.entry(p.pid).or_default();
                    if let UsedGpuMemory::Used(bytes) = p.used_gpu_memory {
                        entry.memory_bytes += bytes as f64;
                    }
                }
            }
            let since = self.last_seen.get(&index).copied();
            // Fails with NotFound when no process used the device since `since`.
            if let Ok(samples) = device.process_utilization_stats(since) {
                let mut newest: HashMap<u32, (u64, u32)> = HashMap::new();
                for s in samples {
                    let slot = newest.entry(s.pid).or_insert((0, 0));
                    if s.timestamp >= slot.0 {
                        *slot = (s.timestamp, s.sm_util);
                    }
                }
                for (pid, (timestamp, sm)) in newest {
                    usage.entry(pid).or_default().core_percent += f64::from(sm);
                    let seen = self.last_seen.entry(index).or_insert(0);
                    *seen = (*seen).max(timestamp);
                }
            }
        }
        usage
    }
}
