//! The capacity file (`opendlc serve --capacity FILE`): the pool to schedule into when it is
//! not simply this host (virtual GPUs for testing, a share of the host), resource quotas by
//! `ResourceId`, and preemption. Everything is optional; docs/SCHEDULER.md has the format.
//!
//! ```yaml
//! pool:
//!   cpu: 16            # cores (before overcommit); default: this host's
//!   memory: 64Gi       # default: this host's
//!   gpus: 4            # NVIDIA GPUs; default: those nvidia-smi lists
//!   gpu_type: A10      # the pool's GPU model, which a job's GPUType must name; default:
//!                      # what nvidia-smi calls them
//! cpu_overcommit: 4    # default 4 (or --cpu-overcommit)
//! memory_overcommit: 1 # default 1: memory is not overcommitted unless you say so
//! pod_limits: true     # default true: each pod's CPU and memory are its limits (cgroups)
//! preemption:
//!   enabled: true      # default false
//!   default_preemptible: true   # jobs without a `preemptible` tag; default true
//! quotas:
//!   - id: team-a       # the ResourceId jobs name
//!     cpu: 8
//!     memory: 32Gi
//!     gpus: 2
//!     spot:            # how much of the quota its spot jobs may hold; default: all of it
//!       gpus: 1
//! spot:                # how much of the pool spot jobs may hold together; default: all of it
//!   cpu: 8
//!   memory: 32Gi
//!   gpus: 2
//! prices:              # yuan per minute (SpotSpec's limits are checked against them)
//!   cpu: 0.002         # per core
//!   memory: 0.0005     # per GiB
//!   gpu: 0.15          # per GPU
//!   spot_discount: 0.3 # what spot capacity costs, as a share of the price
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use opendlc_core::capacity::HostCapacity;
use opendlc_core::prices::Prices;
use opendlc_core::resources::parse_memory;
use opendlc_core::scheduler::Capacity;
use opendlc_core::Resources;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    pool: PoolSpec,
    cpu_overcommit: Option<f64>,
    memory_overcommit: Option<f64>,
    pod_limits: Option<bool>,
    #[serde(default)]
    preemption: PreemptionSpec,
    #[serde(default)]
    quotas: Vec<QuotaSpec>,
    spot: Option<LimitSpec>,
    prices: Option<PriceSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolSpec {
    cpu: Option<f64>,
    memory: Option<String>,
    gpus: Option<u32>,
    gpu_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreemptionSpec {
    #[serde(default)]
    enabled: bool,
    #[serde(default = "yes")]
    default_preemptible: bool,
}

impl Default for PreemptionSpec {
    fn default() -> Self {
        PreemptionSpec {
            enabled: false,
            default_preemptible: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaSpec {
    id: String,
    cpu: Option<f64>,
    memory: Option<String>,
    gpus: Option<u32>,
    spot: Option<LimitSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceSpec {
    #[serde(default)]
    cpu: f64,
    #[serde(default)]
    memory: f64,
    #[serde(default)]
    gpu: f64,
    #[serde(default = "full_price")]
    spot_discount: f64,
}

fn full_price() -> f64 {
    1.0
}

/// Limits within a scope: what is not given is the scope's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitSpec {
    cpu: Option<f64>,
    memory: Option<String>,
    gpus: Option<u32>,
}

impl LimitSpec {
    /// The limits, CPU overcommitted as the pool is; `what` names them in errors.
    fn resolve(&self, within: Resources, overcommit: f64, what: &str) -> anyhow::Result<Resources> {
        let memory = match &self.memory {
            Some(text) => parse_memory(text).map_err(|e| anyhow::anyhow!("{what}: memory: {e}"))?,
            None => within.memory_mib,
        };
        Ok(Resources {
            cpu_milli: self
                .cpu
                .map_or(within.cpu_milli, |c| (c * 1000.0 * overcommit) as u64),
            memory_mib: memory,
            gpu: self.gpus.unwrap_or(within.gpu),
        })
    }
}

/// What the server schedules into.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub capacity: Capacity,
    pub default_preemptible: bool,
    /// Whether a pod's ResourceConfig is also its limit (cgroups), not only what it reserves.
    pub pod_limits: bool,
    /// Cores before overcommit, for the banner.
    pub cores: f64,
    /// The pool's GPU models, which a job's GPUType is matched against: the one declared, else
    /// the distinct ones nvidia-smi lists.
    pub gpu_types: Vec<String>,
    /// What capacity costs, if the file says.
    pub prices: Option<Prices>,
}

/// A pool nothing exhausts: the runtime (Slurm) decides what fits.
pub fn unlimited() -> Resources {
    Resources {
        cpu_milli: 1 << 40,
        memory_mib: 1 << 40,
        // The engine keeps one entry per free GPU index: large, not limitless.
        gpu: 1 << 12,
    }
}

/// The pool from this host (and `cpu_overcommit`), changed by the file if one is given.
pub fn load(
    path: Option<&Path>,
    host: &HostCapacity,
    cpu_overcommit: f64,
) -> anyhow::Result<Settings> {
    let file: File = match path {
        None => File::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read the capacity file {}", path.display()))?;
            serde_yaml_ng::from_str(&text)
                .with_context(|| format!("the capacity file {} is not valid", path.display()))?
        }
    };
    let overcommit = file.cpu_overcommit.unwrap_or(cpu_overcommit).max(1.0);
    let cores = file.pool.cpu.unwrap_or(f64::from(host.cpus));
    let memory_overcommit = file.memory_overcommit.unwrap_or(1.0).max(1.0);
    let memory = match &file.pool.memory {
        Some(text) => parse_memory(text).map_err(|e| anyhow::anyhow!("pool.memory: {e}"))?,
        None => host.memory_mib,
    };
    let memory = (memory as f64 * memory_overcommit) as u64;
    let pool = Resources {
        cpu_milli: (cores * 1000.0 * overcommit) as u64,
        memory_mib: memory,
        gpu: file.pool.gpus.unwrap_or(host.gpus.len() as u32),
    };
    let mut quotas = BTreeMap::new();
    let mut spot_quotas = BTreeMap::new();
    for q in &file.quotas {
        if q.id.trim().is_empty() {
            bail!("quotas: every quota needs an id (the ResourceId jobs name)");
        }
        let what = format!("quota {}", q.id);
        let limits = LimitSpec {
            cpu: q.cpu,
            memory: q.memory.clone(),
            gpus: q.gpus,
        };
        let limit = limits.resolve(pool, overcommit, &what)?;
        if quotas.insert(q.id.clone(), limit).is_some() {
            bail!("quotas: {} is declared twice", q.id);
        }
        if let Some(spot) = &q.spot {
            let spot = spot.resolve(limit, overcommit, &format!("{what}: spot"))?;
            spot_quotas.insert(q.id.clone(), spot);
        }
    }
    let prices = match &file.prices {
        Some(p) => {
            let all = [p.cpu, p.memory, p.gpu, p.spot_discount];
            if all.iter().any(|v| !v.is_finite() || *v < 0.0) || p.spot_discount > 1.0 {
                bail!("prices: every price is a number ≥ 0, and spot_discount one from 0 to 1");
            }
            Some(Prices {
                cpu: p.cpu,
                memory: p.memory,
                gpu: p.gpu,
                spot_discount: p.spot_discount,
            })
        }
        None => None,
    };
    let spot_limit = match &file.spot {
        Some(spot) => Some(spot.resolve(pool, overcommit, "spot")?),
        None => None,
    };
    Ok(Settings {
        capacity: Capacity {
            pool,
            quotas,
            preemption: file.preemption.enabled,
            spot_limit,
            spot_quotas,
        },
        default_preemptible: file.preemption.default_preemptible,
        pod_limits: file.pod_limits.unwrap_or(true),
        cores,
        prices,
        gpu_types: match file.pool.gpu_type {
            Some(model) => vec![model],
            None => {
                let mut names: Vec<String> = host.gpus.iter().map(|g| g.name.clone()).collect();
                names.sort();
                names.dedup();
                names
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostCapacity {
        HostCapacity {
            cpus: 2,
            memory_mib: 8192,
            gpus: vec![],
        }
    }

    #[test]
    fn without_a_file_the_pool_is_the_host() {
        let s = load(None, &host(), 4.0).unwrap();
        assert_eq!(s.capacity.pool, Resources::new(8000, 8192, 0));
        assert!(!s.capacity.preemption && s.capacity.quotas.is_empty());
    }

    #[test]
    fn a_file_declares_virtual_gpus_quotas_and_preemption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("capacity.yaml");
        std::fs::write(
            &path,
            "pool: {cpu: 4, memory: 16Gi, gpus: 4}\ncpu_overcommit: 1\nmemory_overcommit: 1.5\npreemption: {enabled: true}\nquotas:\n  - {id: team, cpu: 2, gpus: 1}\n",
        )
        .unwrap();
        let s = load(Some(&path), &host(), 4.0).unwrap();
        assert_eq!(s.capacity.pool, Resources::new(4000, 24576, 4));
        assert_eq!(s.capacity.quotas["team"], Resources::new(2000, 24576, 1));
        assert!(s.capacity.preemption && s.default_preemptible);
        std::fs::write(
            &path,
            "pool: {cpu: 4, memory: 16Gi, gpus: 4}\ncpu_overcommit: 1\nspot: {gpus: 2}\nquotas:\n  - {id: team, cpu: 2, spot: {cpu: 1}}\n",
        )
        .unwrap();
        let s = load(Some(&path), &host(), 4.0).unwrap();
        assert_eq!(s.capacity.spot_limit, Some(Resources::new(4000, 16384, 2)));
        assert_eq!(
            s.capacity.spot_quotas["team"],
            Resources::new(1000, 16384, 4),
            "within the quota"
        );
        std::fs::write(&path, "pool: {cpus: 4}\n").unwrap();
        let err = format!("{:#}", load(Some(&path), &host(), 4.0).unwrap_err());
        assert!(err.contains("cpus"), "{err}");
    }
}
