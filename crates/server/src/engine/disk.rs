//! `SystemDisk`: a running job's working directory may hold the sum of its pods' SystemDisk
//! sizes ([`Job::disk_budget`](opendlc_core::Job::disk_budget)). As the kubelet does for an
//! ephemeral-storage limit, the engine measures the directory every [`CHECK_EVERY`] beside
//! itself and evicts the job's pods once it holds more: they are stopped, their SubStatus is
//! `Evicted`, and the job fails saying by how much. (A hard limit needs a file system of the
//! job's own, which pods on the host's file system do not have.)

use std::path::Path;

use opendlc_core::resources::format_memory;
use opendlc_core::{JobStatus, Reason};

use super::active::{Fault, Phase};
use super::apply::Engine;
use super::Command;

/// How often a running job's working directory is measured (ms).
const CHECK_EVERY: i64 = 2_000;

/// A pod's SubStatus, and the start of its reason, once evicted.
pub const EVICTED: &str = "Evicted";

impl Engine {
    /// On the engine's tick: measures the working directory of each running job with a disk
    /// budget whose measurement is due, beside the engine (a measurement comes back as
    /// `Command::DiskUsage`).
    pub(super) fn watch_disks(&mut self) {
        let Some(commands) = self.commands_tx.clone() else {
            return;
        };
        let now = self.clock.now();
        for (job_id, active) in &mut self.active {
            let due = active.status == JobStatus::Running
                && active.is_live()
                && !active.disk.measuring
                && active.disk.evicted.is_none()
                && now >= active.disk.next;
            if !due || active.job.disk_budget().is_none() {
                continue;
            }
            active.disk.measuring = true;
            active.disk.next = now + CHECK_EVERY;
            let job_id = job_id.to_string();
            let dir = self.jobs_dir.work(&job_id);
            let commands = commands.clone();
            tokio::task::spawn_blocking(move || {
                let bytes = usage(&dir);
                let _ = commands.send(Command::DiskUsage { job_id, bytes });
            });
        }
    }

    /// A measurement came back: past the budget, the job's pods are evicted.
    pub(super) fn on_disk_usage(&mut self, job_id: &str, bytes: u64) {
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        active.disk.measuring = false;
        let Some(budget) = active.job.disk_budget() else {
            return;
        };
        let Phase::Live { fault, .. } = &mut active.phase else {
            return;
        };
        if bytes <= budget || fault.is_some() {
            return;
        }
        let why = format!(
            "the job's working directory holds {}, more than its pods' SystemDisk ({})",
            format_memory(bytes >> 20),
            format_memory(budget >> 20)
        );
        *fault = Some(Fault::Failing(Reason::new(
            "JobEvicted",
            format!("The job's pods were evicted: {why}."),
        )));
        active.disk.evicted = Some(why.clone());
        let text = format!("Job {job_id}'s pods are evicted: {why}.");
        if let Err(e) = self.store.add_event(job_id, &text) {
            tracing::warn!(job.id = %job_id, "failed to record an event: {e}");
        }
        self.evaluate(job_id);
    }
}

/// The bytes the files below `dir` take on disk (allocated blocks, as `du` counts them; each
/// hard-linked file once per link).
fn usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        total += meta.blocks() * 512;
        if meta.is_dir() {
            total += usage(&entry.path());
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_what_the_files_take() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), vec![1u8; 1 << 20]).unwrap();
        let bytes = usage(dir.path());
        assert!((1 << 20..(1 << 20) + 64 * 1024).contains(&bytes), "{bytes}");
    }
}
