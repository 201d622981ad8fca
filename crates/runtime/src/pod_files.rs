//! The JSON documents of a pod directory: what the supervisor asks for (`spec.json`), what the
//! shim reports when the command runs (`started.json`) and when it is over (`exit.json`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::pod::cgroup::Limits;
use crate::pod::mounts::MountSpec;
use opendlc_core::env_value::EnvValue;

/// `spec.json`: everything the shim needs to run the pod, written before the shim starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSpec {
    pub pod_id: String,
    pub pod_uid: String,
    /// Run as `/bin/sh -c COMMAND`.
    pub command: String,
    /// The view the command runs in (its sandbox, its mounts), made by the shim in the
    /// command's process before it runs (`crate::pod::chain::PodCommand`); none: the shim's.
    /// A spec.json from before views were kept in it names the view's mounts file instead
    /// (pods still running across an upgrade): the view is read from there.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "view_here_or_in_its_file"
    )]
    pub view: Option<MountSpec>,
    pub workdir: PathBuf,
    /// Set on top of the inherited environment, from which every `OPENDLC_*` variable is removed.
    pub env: BTreeMap<String, String>,
    /// Variables whose value names other pods' addresses, filled in by the shim from their
    /// node files (`peers`) and then set like `env` (see [`crate::pod::peers`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addressed_env: BTreeMap<String, EnvValue>,
    /// How long the command has between SIGTERM and SIGKILL when the pod is stopped.
    pub grace_period_ms: u64,
    /// CPU and memory limits, enforced through a cgroup of the pod's where the host allows.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// The cores the pod's processes are pinned to (`Settings.EnableCPUAffinity`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u32>,
    /// When set, the shim samples its pod's metrics at this interval into `metrics.jsonl`:
    /// for pods on a node whose processes the server cannot see (the Slurm runtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_every_ms: Option<u64>,
    /// The directory of each pod `addressed_env` names (PodId → directory).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub peers: BTreeMap<String, PathBuf>,
    /// Names of the job's pods with the addresses they resolve to in this pod: the shim gives
    /// the command an `/etc/hosts` of its own holding them. Empty (and none addressed): the
    /// host's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, String>,
    /// Names whose addresses are known only once the pods are placed, each with the PodId it
    /// names (like `addressed_env`); the shim moves them into `hosts`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addressed_hosts: BTreeMap<String, String>,
    /// Directories outside the pod's own that its programs make (Open MPI's and Ray's, in the
    /// host's /tmp): the shim removes them once the pod's processes are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scratch: Vec<PathBuf>,
    /// Set when the pod's command runs in containers of an engine: whoever concludes a pod
    /// whose shim could not end it removes what is left of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<ContainersOf>,
}

/// Where a pod's containers are: its container (`opendlc-<PodUid>`), or its engine pod
/// (`opendlc-<PodUid>-pod`, when it has init containers, sidecars or hooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainersOf {
    /// The engine's program (`podman`, or a path to it).
    pub engine: PathBuf,
    pub in_pod: bool,
}

/// Removes what a pod made outside its directory ([`PodSpec::scratch`]) once none of its
/// processes is left to use it: by the shim as the pod ends, by the server for a pod whose
/// shim could not. A link there is removed, not followed. Returns what could not be removed,
/// and why.
pub(crate) fn remove_scratch(spec: &PodSpec) -> Vec<String> {
    (spec.scratch.iter())
        .filter_map(|dir| match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Some(format!("failed to remove {}: {e}", dir.display()))
            }
            _ => None,
        })
        .collect()
}

/// [`remove_scratch`] for the pod whose directory is `pod`, after its shim could not: as its
/// spec.json names it (nothing when that is unreadable).
pub(crate) fn remove_scratch_of(pod: &crate::pod_dir::PodDir) -> Vec<String> {
    match crate::pod_dir::read_json::<PodSpec>(&pod.spec()) {
        Ok(Some(spec)) => remove_scratch(&spec),
        _ => Vec::new(),
    }
}

fn view_here_or_in_its_file<'de, D>(deserializer: D) -> Result<Option<MountSpec>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum View {
        Here(MountSpec),
        InFile(PathBuf),
    }
    match Option::<View>::deserialize(deserializer)? {
        None => Ok(None),
        Some(View::Here(view)) => Ok(Some(view)),
        Some(View::InFile(file)) => crate::pod::mounts::read(&file)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// `started.json`: who to watch and who to signal, written once the command is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShimStarted {
    pub shim_pid: u32,
    /// Field 22 of `/proc/<shim_pid>/stat`: with the pid, it identifies the shim even after the
    /// pid has been reused by an unrelated process.
    pub shim_start_ticks: u64,
    /// The command's process (`sh`), leader of its own process group.
    pub pid: u32,
    pub pgid: u32,
    pub started_at: DateTime<Utc>,
    /// How the pod's limits are enforced ("CPU 1, memory 256 MiB (cgroup v1)") or why they are
    /// not ("not enforced: …"); `None` when it has none.
    #[serde(default)]
    pub limits: Option<String>,
}

/// `exit.json`: how the pod ended. Written durably, after the log is flushed, so a reader that
/// sees it also sees every log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodExit {
    /// The exit code when the command exited normally.
    pub code: Option<i32>,
    /// The signal that killed the command.
    pub signal: Option<i32>,
    pub finished_at: DateTime<Utc>,
    /// Why, when the exit code and signal do not tell the whole story ("killed after the grace
    /// period", "the command could not be started: …").
    pub reason: Option<String>,
}

impl PodExit {
    /// True when the command exited with code 0.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod started before an upgrade named its view's mounts file; a spec.json now holds the
    /// view itself. Both read as the view.
    #[test]
    fn a_view_is_read_from_the_spec_or_from_the_mounts_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let (view, mounts) = crate::pod::mounts::view_in_mounts_file(dir.path());
        let spec = |view: serde_json::Value| {
            let json = serde_json::json!({
                "pod_id": "p", "pod_uid": "u", "command": "true", "view": view,
                "workdir": "/w", "env": {}, "grace_period_ms": 1000,
            });
            serde_json::from_value::<PodSpec>(json)
        };
        let before = spec(serde_json::json!(mounts)).unwrap();
        assert_eq!(before.view.as_ref(), Some(&view));
        let now = spec(serde_json::to_value(&view).unwrap()).unwrap();
        assert_eq!(now.view, Some(view));
        assert_eq!(
            serde_json::from_value::<PodSpec>(serde_json::to_value(&now).unwrap()).unwrap(),
            now
        );
        assert!(spec(serde_json::json!(dir.path().join("gone.json"))).is_err());
        assert_eq!(spec(serde_json::Value::Null).unwrap().view, None);
    }
}
