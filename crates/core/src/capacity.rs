//! The pool a local server schedules into: this host's CPUs, memory and NVIDIA GPUs.
//!
//! CPU is time-shared between processes, so it is overcommitted by a factor (default
//! [`DEFAULT_CPU_OVERCOMMIT`]): a 2-core host runs a job of three 2-vCPU pods at once, slower.
//! Memory and GPUs are not overcommitted: running out of either kills jobs rather than slowing
//! them down.

use crate::resources::Resources;

pub const DEFAULT_CPU_OVERCOMMIT: f64 = 4.0;

/// What the host really has.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCapacity {
    pub cpus: u32,
    pub memory_mib: u64,
    pub gpus: Vec<Gpu>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gpu {
    pub index: u32,
    pub name: String,
    pub memory_mib: u64,
}

impl HostCapacity {
    /// Reads the CPU count (respecting affinity and cgroup quotas), `/proc/meminfo` and
    /// `nvidia-smi` when it is installed. A host without GPUs has none; that is fine.
    pub fn detect() -> HostCapacity {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        HostCapacity {
            cpus,
            memory_mib: detect_memory_mib(),
            gpus: detect_gpus(),
        }
    }

    /// The schedulable pool, CPU overcommitted by `cpu_overcommit`.
    pub fn pool(&self, cpu_overcommit: f64) -> Resources {
        Resources {
            cpu_milli: (f64::from(self.cpus) * 1000.0 * cpu_overcommit.max(1.0)) as u64,
            memory_mib: self.memory_mib,
            gpu: self.gpus.len() as u32,
        }
    }
}

fn detect_memory_mib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(1024 * 1024);
    let cgroup_limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|bytes| bytes / 1024);
    total_kib.min(cgroup_limit.unwrap_or(u64::MAX)) / 1024
}

fn detect_gpus() -> Vec<Gpu> {
    let output = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=index,name,memory.total",
            "--format=csv,noheader,nounits",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => parse_nvidia_smi(&String::from_utf8_lossy(&out.stdout)),
        _ => Vec::new(),
    }
}

fn parse_nvidia_smi(csv: &str) -> Vec<Gpu> {
    csv.lines()
        .filter_map(|line| {
            let mut fields = line.split(',').map(str::trim);
            Some(Gpu {
                index: fields.next()?.parse().ok()?,
                name: fields.next()?.to_string(),
                memory_mib: fields.next()?.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_two_core_host_runs_three_two_vcpu_pods() {
        let host = HostCapacity {
            cpus: 2,
            memory_mib: 24 * 1024,
            gpus: vec![],
        };
        let pool = host.pool(DEFAULT_CPU_OVERCOMMIT);
        let job = crate::catalog::find("ecs.c6.large").unwrap().resources() * 3;
        assert!(job.fits_in(&pool));
    }

    #[test]
    fn parses_nvidia_smi_output() {
        let gpus =
            parse_nvidia_smi("0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n");
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[1].index, 1);
        assert_eq!(gpus[0].memory_mib, 81559);
    }

    #[test]
    fn detects_something() {
        let host = HostCapacity::detect();
        assert!(host.cpus >= 1);
        assert!(host.memory_mib > 0);
    }
}
