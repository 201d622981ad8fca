//! A TensorBoard's `Cpu` and `Memory`: limits on its process, through a cgroup of its own
//! (`opendlc_runtime::pod::cgroup`, as a pod's), `…/opendlc/tensorboard-<id>` under the
//! server's cgroup. The process joins it before it runs, so everything it starts is inside.
//!
//! The cgroup outlives the server as the process does: its directories are recorded in
//! `<tensorboards>/<id>.cgroup` (the server's, out of the process's view), and removed by that
//! record once the process is over — stopped, ended by itself, or found dead by a later server.
//! Where no cgroup can be had (not root, no delegated controllers) the process runs without
//! limits and its ReasonMessage says why, as a pod's events do.

use std::path::{Path, PathBuf};

use opendlc_core::tensorboard::Tensorboard;
use opendlc_runtime::pod::cgroup::{remove_dirs, Limits, PodCgroup};

use super::Tensorboards;

/// The name of the cgroup of TensorBoard `id`.
fn name(id: &str) -> String {
    format!("tensorboard-{id}")
}

fn record(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.cgroup"))
}

/// The cgroup `tb`'s process is to join, with limits set, and what to tell about it: what is
/// enforced, or why nothing is. `None` for a TensorBoard without limits.
pub fn create(tbs: &Tensorboards, tb: &Tensorboard) -> (Option<PodCgroup>, Option<String>) {
    let limits = tb.limits();
    if limits.is_empty() {
        return (None, None);
    }
    if !tbs.process_limits {
        return (None, Some("limits not enforced: pod_limits is off".into()));
    }
    let limits = Limits {
        cpu_milli: limits.cpu_milli,
        memory_mib: limits.memory_mib,
    };
    let created = PodCgroup::create(&name(&tb.tensorboard_id), limits).and_then(|cgroup| {
        // No view to build first here, unlike a pod: the quota applies from the start.
        cgroup.limit_cpu()?;
        Ok(cgroup)
    });
    match created {
        Ok(cgroup) => {
            let text = format!("limits: {}", cgroup.describe());
            (Some(cgroup), Some(text))
        }
        Err(e) => {
            tracing::warn!(tensorboard.id = %tb.tensorboard_id, "limits not enforced: {e}");
            (None, Some(format!("limits not enforced: {e}")))
        }
    }
}

/// Leaves `cgroup` to the started process and records where it is.
pub fn keep(dir: &Path, id: &str, cgroup: PodCgroup) {
    let dirs = cgroup.detach();
    let json = serde_json::to_vec(&dirs).unwrap_or_default();
    if let Err(e) = std::fs::write(record(dir, id), json) {
        tracing::warn!(tensorboard.id = %id, "failed to record its cgroup: {e}");
    }
}

/// Removes the recorded cgroup of TensorBoard `id` (killing what is left in it), once its
/// process is over. Only a directory named as this TensorBoard's cgroup is touched.
pub fn release(dir: &Path, id: &str) {
    let file = record(dir, id);
    let Ok(bytes) = std::fs::read(&file) else {
        return;
    };
    let ours = Path::new("opendlc").join(name(id));
    let dirs: Vec<PathBuf> = serde_json::from_slice::<Vec<PathBuf>>(&bytes)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| {
            d.starts_with("/sys/fs/cgroup")
                && d.ends_with(&ours)
                && !d.components().any(|c| c == std::path::Component::ParentDir)
        })
        .collect();
    match remove_dirs(&dirs) {
        Ok(()) => {
            let _ = std::fs::remove_file(&file);
        }
        Err(e) => tracing::warn!(tensorboard.id = %id, "its cgroup: {e}"),
    }
}
