//! The server's end of the shim launcher ([`crate::pod::shim::launcher`]): one process that
//! forks every pod's shim, instead of the opendlc binary being started anew for each.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};
use nix::sys::time::TimeVal;

use crate::pod::shim::launcher::{receive, send};
use crate::pod_files::PodSpec;

/// How long the launcher may take to answer. It forks and answers in well under a
/// millisecond; this only keeps a stopped or wedged launcher from holding a pod's start.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A running launcher. Dropping it closes its socket, and the launcher exits.
pub(super) struct Launcher {
    /// One request and its answer at a time.
    socket: Mutex<OwnedFd>,
    /// Reaped by tokio once dropped.
    _process: tokio::process::Child,
}

/// A shim the launcher forked: not this process's child, so known by a pidfd.
pub(super) struct ForkedShim {
    pub pid: u32,
    pub pidfd: OwnedFd,
    /// Which knows how it ended.
    pub launcher: Arc<Launcher>,
}

/// Which pods may take over the cgroup of the pod `spec` describes once it ended (and whose it
/// may take over): those of the same owner with the same limits, as
/// `<uid>/<CPU in millicores>/<memory in MiB>` (`-` for a limit it has not), or `-` alone (none:
/// a pod without limits has no cgroup). The owner is the Unix uid its processes run as: a
/// cgroup's counters (memory.stat, cpu.stat) count from when it was made, so a pod sees its
/// own owner's earlier pods' there, never another user's. The limits: a cgroup handed on
/// has them set already ([`crate::pod::cgroup::PodCgroup::claim`]).
pub(super) fn pod_owner(spec: &PodSpec) -> String {
    let Some(limits) = spec.limits else {
        return "-".into();
    };
    let sandbox = spec.view.as_ref().and_then(|view| view.sandbox.as_ref());
    let uid = match sandbox {
        Some(sandbox) => sandbox.identity.uid.to_string(),
        // Every such pod runs as the server's own user.
        None => "server".into(),
    };
    let or_none = |limit: Option<u64>| limit.map_or_else(|| "-".to_string(), |l| l.to_string());
    format!(
        "{uid}/{}/{}",
        or_none(limits.cpu_milli),
        or_none(limits.memory_mib)
    )
}

impl Launcher {
    /// Starts `<program> shim-launcher`, with the environment the shims are to have.
    pub fn start(program: &Path) -> io::Result<Self> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        setsockopt(
            &ours,
            sockopt::ReceiveTimeout,
            &TimeVal::new(ANSWER_TIMEOUT.as_secs() as _, 0),
        )?;
        let mut command = tokio::process::Command::new(program);
        command
            .arg("shim-launcher")
            .current_dir("/")
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null());
        super::launch::without_server_secrets(command.as_std_mut());
        let process = command.spawn()?;
        Ok(Self {
            socket: Mutex::new(ours),
            _process: process,
        })
    }

    /// Forks the shim of the pod at `dir`, its stdin `lock` (the pod's locked spec.json) and its
    /// stdout `announce`; `owner` ([`pod_owner`]) says which pods' cgroups its pod may take
    /// over. Blocks for the fork (a fraction of a millisecond). An error means the launcher is
    /// unusable: gone, or (`ErrorKind::Unsupported`) unable to fork shims on this host.
    pub fn fork_shim(
        self: &Arc<Self>,
        dir: &Path,
        owner: &str,
        announce: OwnedFd,
        lock: File,
    ) -> io::Result<ForkedShim> {
        let mut request = format!("launch {owner} ").into_bytes();
        request.extend_from_slice(dir.as_os_str().as_bytes());
        let (answer, mut fds) = self.exchange(&request, [announce, lock.into()])?;
        let answer = String::from_utf8_lossy(&answer);
        if let Some(why) = answer.strip_prefix("error ") {
            // The launcher runs but cannot do its work here (no pidfds, say).
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the launcher could not fork: {why}"),
            ));
        }
        let passed = fds.len();
        match (answer.strip_prefix("ok ").map(str::parse::<u32>), fds.pop()) {
            (Some(Ok(pid)), Some(pidfd)) if passed == 1 => Ok(ForkedShim {
                pid,
                pidfd,
                launcher: self.clone(),
            }),
            _ => Err(io::Error::other(format!(
                "the launcher answered {answer:?} with {passed} descriptor(s)"
            ))),
        }
    }

    /// How the shim `pid`, which has ended, ended (`was killed by signal 9`), if the
    /// launcher knows.
    pub fn status(&self, pid: u32) -> Option<String> {
        let (answer, _) = self.exchange(format!("status {pid}").as_bytes(), []).ok()?;
        let answer = String::from_utf8(answer).ok()?;
        answer.strip_prefix("ok ").map(str::to_string)
    }

    /// Sends one request with `fds` (closed here once sent: what they open must live in the
    /// launcher's children alone) and receives its answer.
    fn exchange<const N: usize>(
        &self,
        request: &[u8],
        fds: [OwnedFd; N],
    ) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
        let socket = self.socket.lock().unwrap_or_else(|p| p.into_inner());
        let raw: Vec<_> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        send(socket.as_raw_fd(), request, &raw)?;
        drop(fds);
        receive(socket.as_raw_fd())?.ok_or_else(|| io::Error::other("the launcher exited"))
    }
}
