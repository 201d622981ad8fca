//! The shim's signals, read synchronously from a signalfd.
//!
//! The signals we handle are blocked in every thread (the mask is set before any thread exists
//! and threads inherit it), so they queue up for the signalfd instead of interrupting anyone.
//! Blocking, rather than ignoring, matters: an ignored signal stays ignored across `exec`,
//! while the command's process clears the mask before it runs the command
//! ([`crate::process::unblock_signals_in_child`]; std would hand the mask on).

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

pub(crate) struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Blocks SIGTERM and SIGINT (stop the pod), SIGHUP (ignored: the server going away must
    /// not take pods with it) and SIGCHLD (a child changed state), and opens a signalfd for
    /// them. Must run before any other thread is started.
    pub fn install() -> nix::Result<Self> {
        let mut mask = SigSet::empty();
        for signal in [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGCHLD,
        ] {
            mask.add(signal);
        }
        mask.thread_block()?;
        let fd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        Ok(Self { fd })
    }

    /// Waits until a signal arrives or `timeout` passes (`None`: no limit); returns the signals
    /// that arrived, possibly none.
    pub fn wait(&self, timeout: Option<Duration>) -> nix::Result<Vec<Signal>> {
        super::pump::poll_ready(&[self.fd.as_fd()], timeout)?;
        self.take()
    }

    /// What to poll to learn that a signal arrived.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The signals that arrived and were not taken yet, possibly none.
    pub fn take(&self) -> nix::Result<Vec<Signal>> {
        let mut signals = Vec::new();
        while let Some(info) = self.fd.read_signal()? {
            if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                signals.push(signal);
            }
        }
        Ok(signals)
    }
}
