//! Waiting for shims to end, and turning their end into one [`PodEvent`].

use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, watch};

use super::launcher::ForkedShim;
use super::PodEvent;
use crate::pod_dir::{read_json, PodDir};
use crate::pod_files::{ContainersOf, PodExit, ShimStarted};
use crate::process;

/// How long the sweep after a pod's end waits for a cgroup the kernel still holds.
const LEFT_CGROUP_PATIENCE: Duration = Duration::from_secs(30);

/// How often to look at a shim when the kernel cannot tell us (no pidfd, Linux < 5.3).
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Everything a watcher task needs; deliberately not the runtime itself, so that tasks do not
/// keep it alive.
pub(super) struct Watcher {
    pub pod_uid: String,
    pub dir: PodDir,
    pub events: mpsc::UnboundedSender<PodEvent>,
    pub shutdown: watch::Receiver<()>,
    /// Where the pod's containers are, if it runs in any: what is left of them is removed
    /// once it has ended (its engine client may have been killed before them).
    pub containers: Option<ContainersOf>,
    /// Where the look for the pod's cgroup left behind runs (`None`: a blocking thread).
    pub sweeper: Option<super::lane::Lane>,
}

impl Watcher {
    /// A shim this runtime started: reap it, then report.
    pub fn child(mut self, mut child: tokio::process::Child) {
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                // The runtime was dropped: the shim keeps running; dropping `child` leaves its
                // reaping to tokio.
                _ = self.shutdown.changed() => return,
            };
            let how = match status {
                Ok(status) => describe(status),
                Err(e) => format!("could not be waited for ({e})"),
            };
            self.conclude(|| how).await;
        });
    }

    /// A shim the launcher forked: its pidfd tells when it ends, the launcher how.
    pub fn forked(self, shim: ForkedShim) {
        let ForkedShim {
            pid,
            pidfd,
            launcher,
        } = shim;
        self.pidfd_then(pidfd, pid, move || {
            launcher
                .status(pid)
                .unwrap_or_else(|| format!("(pid {pid}) exited"))
        });
    }

    /// A shim started by an earlier server, as a pidfd: readable once the shim has exited.
    pub fn pidfd(self, pidfd: OwnedFd, shim_pid: u32) {
        self.pidfd_then(pidfd, shim_pid, move || format!("(pid {shim_pid}) exited"));
    }

    /// Waits for `pidfd` to say the shim exited, then concludes with what `how` says.
    fn pidfd_then(
        mut self,
        pidfd: OwnedFd,
        shim_pid: u32,
        how: impl FnOnce() -> String + Send + 'static,
    ) {
        tokio::spawn(async move {
            // SAFETY: the AsyncFd owns the OwnedFd, which stays open as long as it does.
            let pidfd = match unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }
            {
                Ok(fd) => fd,
                Err(e) => {
                    tracing::warn!(pod.uid = %self.pod_uid, "failed to watch the shim's pidfd, polling instead: {e}");
                    return self.poll_until_gone(shim_pid, None).await;
                }
            };
            tokio::select! {
                _ = pidfd.readable() => {}
                _ = self.shutdown.changed() => return,
            }
            self.conclude(how).await;
        });
    }

    /// A shim started by an earlier server, on a kernel without pidfds.
    pub fn poll(self, shim_pid: u32, shim_start_ticks: u64) {
        tokio::spawn(self.poll_until_gone(shim_pid, Some(shim_start_ticks)));
    }

    async fn poll_until_gone(mut self, shim_pid: u32, start_ticks: Option<u64>) {
        let start_ticks = match start_ticks {
            Some(ticks) => ticks,
            None => match read_json::<ShimStarted>(&self.dir.started()) {
                Ok(Some(started)) => started.shim_start_ticks,
                _ => return self.conclude(|| "is gone".into()).await,
            },
        };
        loop {
            match process::stat(shim_pid) {
                Ok(Some(s)) if s.start_ticks == start_ticks && !s.is_zombie() => {}
                _ => break,
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = self.shutdown.changed() => return,
            }
        }
        self.conclude(|| format!("(pid {shim_pid}) exited")).await;
    }

    /// The shim is gone (`how` says how, asked only if it did not record the pod's end):
    /// report its exit.json, or the pod as lost.
    pub async fn conclude(&self, how: impl FnOnce() -> String) {
        let event = match read_json::<PodExit>(&self.dir.exit()) {
            Ok(Some(exit)) => PodEvent::Exited {
                pod_uid: self.pod_uid.clone(),
                exit,
            },
            Ok(None) => {
                self.lost(format!(
                    "the shim {} without recording how the pod ended",
                    how()
                ))
                .await
            }
            Err(e) => {
                self.lost(format!(
                    "the shim {}, and its exit.json is unreadable: {e}",
                    how()
                ))
                .await
            }
        };
        self.remove_containers().await;
        if matches!(event, PodEvent::Exited { .. }) {
            self.sweep_cgroup();
        }
        self.send(event);
    }

    /// Removes what is left of the pod's containers, if it runs in any.
    pub async fn remove_containers(&self) {
        if let Some(containers) = &self.containers {
            super::container::remove(containers, &self.pod_uid).await;
        }
    }

    /// A cgroup the shim could not remove as it ended (the kernel held it busy past the shim's
    /// patience: seen once in tens of thousands of pods under load) is removed here, after the
    /// pod's end, on the sweeper's thread: the look is two `stat`s, but they wait for a
    /// directory the kernel holds locked while other cgroups come and go (`lane.rs`), and the
    /// removal may wait for the kernel.
    fn sweep_cgroup(&self) {
        let pod_uid = self.pod_uid.clone();
        let sweep = move || {
            let left = crate::pod::cgroup::left_by(&pod_uid);
            if left.is_empty() {
                return;
            }
            if let Err(e) = crate::pod::cgroup::remove_dirs_within(&left, LEFT_CGROUP_PATIENCE) {
                tracing::warn!(pod.uid = %pod_uid, "a pod's cgroup is left behind: {e}");
            }
        };
        match &self.sweeper {
            Some(sweeper) => {
                if let Err(e) = sweeper.post(sweep) {
                    tracing::warn!(pod.uid = %self.pod_uid, "no sweep of the pod's cgroup: {e}");
                }
            }
            None => drop(tokio::task::spawn_blocking(sweep)),
        }
    }

    /// A lost pod: kill whatever is left of it, since nobody will account for it any more.
    pub async fn lost(&self, reason: String) -> PodEvent {
        // The shim removes the pod's cgroup as it ends; one that was killed could not.
        let pod_uid = self.pod_uid.clone();
        let removed = tokio::task::spawn_blocking(move || {
            crate::pod::cgroup::remove_left_by(&pod_uid, Duration::from_secs(2))
        })
        .await;
        if let Ok(Err(e)) = removed {
            tracing::warn!(pod.uid = %self.pod_uid, "failed to remove a lost pod's cgroup: {e}");
        }
        if let Ok(Some(started)) = read_json::<ShimStarted>(&self.dir.started()) {
            let killed = tokio::task::spawn_blocking(move || {
                process::kill_orphaned_pod(
                    started.shim_pid,
                    started.shim_start_ticks,
                    Duration::from_secs(2),
                )
            })
            .await;
            match killed {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => {
                    tracing::warn!(pod.uid = %self.pod_uid, "killed {n} process(es) of a lost pod")
                }
                Ok(Err(e)) => {
                    tracing::warn!(pod.uid = %self.pod_uid, "failed to kill what is left of a lost pod: {e}")
                }
                Err(e) => {
                    tracing::warn!(pod.uid = %self.pod_uid, "failed to kill what is left of a lost pod: {e}")
                }
            }
        }
        // What its shim would have removed as the pod ended.
        let pod = self.dir.clone();
        let failures =
            tokio::task::spawn_blocking(move || crate::pod_files::remove_scratch_of(&pod)).await;
        for failure in failures.unwrap_or_default() {
            tracing::warn!(pod.uid = %self.pod_uid, "for a lost pod: {failure}");
        }
        PodEvent::Lost {
            pod_uid: self.pod_uid.clone(),
            reason,
        }
    }

    pub fn send(&self, event: PodEvent) {
        // A closed channel means the server is shutting down; the event is in the files anyway.
        let _ = self.events.send(event);
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (_, Some(signal)) => format!("was killed by signal {signal}"),
        _ => format!("ended ({status})"),
    }
}
