//! Blocking steps of the runtime on a thread of their own ("a lane"), one after the other,
//! never on a runtime worker.
//!
//! They take well under a millisecond each, but on a busy host a step can wait: for the disk,
//! for the launcher to be scheduled, for a cgroup directory the kernel holds locked while
//! other cgroups come and go. Run on a runtime worker, such a wait held the worker, and with
//! both workers of a 2-core host in it, API requests queued behind: a GetJob polled every
//! 10 ms answered in 60 ms at p99 while 10,000 jobs were admitted (pod starts), and in up to
//! 500 ms on a host whose cgroup removals were slow (the look for a pod's cgroup left behind,
//! two `stat`s under `…/opendlc/`, waited 230 ms for its directory's lock).
//!
//! The runtime has two: `pod-starter` (a pod's files and the launcher's fork) and
//! `cgroup-sweeper` (a pod's cgroup left behind, after its end).

use std::io;
use std::sync::mpsc;

use tokio::sync::oneshot;

type Work = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub(super) struct Lane {
    work: mpsc::Sender<Work>,
}

impl Lane {
    /// Starts the thread `name`, inside the current tokio runtime if there is one (what a step
    /// makes — a child process, a pipe — registers with that runtime). It ends when the last
    /// handle is dropped.
    pub fn start(name: &str) -> io::Result<Self> {
        let (work, queue) = mpsc::channel::<Work>();
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // Pod work, as the engine's: the API's threads go first (`crate::priority`).
                crate::priority::reset_this_thread();
                let _inside = runtime.as_ref().map(tokio::runtime::Handle::enter);
                for step in queue {
                    // A step that panics fails itself (its answer is dropped), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(step));
                }
            })?;
        Ok(Self { work })
    }

    /// Runs `step` on the thread and waits for its result without holding a runtime worker.
    pub async fn run<T: Send + 'static>(
        &self,
        step: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<T> {
        let (done, result) = oneshot::channel();
        self.work
            .send(Box::new(move || {
                let _ = done.send(step());
            }))
            .map_err(|_| io::Error::other("the lane's thread has ended"))?;
        result
            .await
            .map_err(|_| io::Error::other("the lane's thread failed"))
    }

    /// Queues `step` on the thread; nobody waits for it.
    pub fn post(&self, step: impl FnOnce() + Send + 'static) -> io::Result<()> {
        self.work
            .send(Box::new(step))
            .map_err(|_| io::Error::other("the lane's thread has ended"))
    }
}
