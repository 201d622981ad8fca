//! The shim launcher: one process per local runtime (`opendlc shim-launcher`, its stdin a
//! socket to the server) that forks the shim of every pod the server starts. A fork of this
//! small single-threaded process costs a fraction of starting the opendlc binary anew — the
//! dynamic loader's relocations and CPU probing (a trap to the hypervisor per `cpuid` on a
//! virtual machine) and the Rust runtime's set-up — which every pod used to pay.
//!
//! One datagram each way per request (a `SOCK_SEQPACKET` pair, so messages keep their bounds):
//! - `launch <owner> <pod directory>`, with two descriptors: the write end of the pipe the shim
//!   announces its start on (its stdout) and the pod's spec.json, locked (its stdin:
//!   `crate::pod_dir::lock_spec`); its stderr is `/dev/null`, its diagnostics go to the pod's
//!   `shim.log` when it has any (`diag`). The launcher forks,
//!   and the child becomes the shim ([`super::run`]) exactly as if it had been started as
//!   `opendlc shim --dir DIR`; the answer is `ok <pid>` with a pidfd of the shim (not the
//!   server's child, so its pid alone could come to name another process), or `error <why>`.
//! - `status <pid>`: how a shim that ended ended, as `ok <how>` (`exited with status 1`, `was
//!   killed by signal 9`), or `unknown`. Only the server asks, and only for a shim that ended
//!   without recording the pod's end; the launcher keeps the last 1,024 such ends.
//!
//! The launcher reaps its children and exits when the server's end closes (the server exited,
//! even killed). The shims live on: they never depended on it.
//!
//! Where the host's cgroups are v1, a shim's pod takes the idle cgroup an ended pod of the same
//! `owner` and limits (`crate::local::launcher::pod_owner`; `-`: no cgroup to take) handed on,
//! instead of making its own, and hands it on in turn
//! ([`crate::pod::cgroup::PodCgroup::claim`]): the launcher names each shim's slot and, once the
//! shim has ended cleanly, gives that name to the next shim of the same owner and limits. Idle
//! ones are removed once no pod has started or ended for 10 s, and when the launcher exits; a
//! launcher removes those its predecessors left as it starts.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::process;

/// The most descriptors one message carries (a request's two).
const MAX_FDS: usize = 2;

/// How many ends other than a clean exit the launcher remembers for `status`.
const KEPT_ENDS: usize = 1024;

/// The most pod cgroups handed on from pod to pod at once, idle or held by a pod.
const MAX_SLOTS: usize = 1024;

/// How long idle cgroups are kept once no pod has started or ended; then they are removed a few
/// at a time ([`TRIM_STEP`] every [`TRIM_PAUSE`]), so that a request never waits for many
/// removals.
const IDLE_TRIM: Duration = Duration::from_secs(10);
const TRIM_STEP: usize = 16;
const TRIM_PAUSE: Duration = Duration::from_millis(50);

/// What every launcher's idle cgroups are named (`idle-<launcher pid>-<n>`).
const IDLE_PREFIX: &str = "idle-";

/// The idle cgroup a forked shim may take for its pod and hand on at its end.
pub(crate) struct Slot {
    pub name: String,
    /// Its launcher, which gives the slot to the next pod once this shim has ended.
    launcher: Pid,
}

impl Slot {
    /// Whether the launcher that forked this shim still runs: else nobody would take what it
    /// handed on.
    pub fn launcher_runs(&self) -> bool {
        nix::unistd::getppid() == self.launcher
    }
}

/// The launcher's slots: idle ones by owner, and which shim holds which.
struct Slots {
    /// `idle-<launcher pid>-`.
    prefix: String,
    next: u64,
    idle: HashMap<String, Vec<String>>,
    held: HashMap<Pid, (String, String)>,
    /// When a slot was last taken or handed on.
    busy_at: Instant,
}

impl Slots {
    /// `None` where cgroups cannot be handed on (v2, or none writable).
    fn new() -> Option<Self> {
        if !crate::pod::cgroup::slots_supported() {
            return None;
        }
        // Left by launchers before this one (killed, or racing a shim that ended as they
        // exited): nobody hands them on.
        crate::pod::cgroup::remove_idle(IDLE_PREFIX);
        Some(Slots {
            prefix: format!("{IDLE_PREFIX}{}-", std::process::id()),
            next: 0,
            idle: HashMap::new(),
            held: HashMap::new(),
            busy_at: Instant::now(),
        })
    }

    /// A slot for a pod of `owner` (its owner and limits): one handed on, or a new name (the
    /// shim then makes the pod's cgroup, and hands it on under that name).
    fn take(&mut self, owner: &str) -> Option<Slot> {
        if owner == "-" {
            return None;
        }
        self.busy_at = Instant::now();
        let name = match self.idle.get_mut(owner).and_then(Vec::pop) {
            Some(name) => name,
            None if self.held.len() + self.idle.values().map(Vec::len).sum::<usize>()
                < MAX_SLOTS =>
            {
                self.next += 1;
                format!("{}{}", self.prefix, self.next)
            }
            None => return None,
        };
        Some(Slot {
            name,
            launcher: nix::unistd::getpid(),
        })
    }

    fn forked(&mut self, shim: Pid, owner: &str, slot: &Slot) {
        self.held
            .insert(shim, (owner.to_string(), slot.name.clone()));
    }

    /// The shim `pid` ended: a clean exit handed its slot on (or removed it, when it could not:
    /// the next shim then makes its own).
    fn ended(&mut self, pid: Pid, clean: bool) {
        if let Some((owner, name)) = self.held.remove(&pid) {
            if clean {
                self.idle.entry(owner).or_default().push(name);
                self.busy_at = Instant::now();
            }
        }
    }

    /// How long until idle slots are to be removed, if there are any.
    fn trim_in(&self) -> Option<Duration> {
        let any = self.idle.values().any(|names| !names.is_empty());
        any.then(|| IDLE_TRIM.saturating_sub(self.busy_at.elapsed()))
    }

    /// Removes up to `most` idle slots.
    fn trim(&mut self, most: usize) {
        let mut removed = 0;
        for names in self.idle.values_mut() {
            while removed < most {
                let Some(name) = names.pop() else { break };
                crate::pod::cgroup::remove_slot(&name);
                removed += 1;
            }
        }
        self.idle.retain(|_, names| !names.is_empty());
    }
}

impl Drop for Slots {
    /// The idle slots are nobody's once the launcher exits.
    fn drop(&mut self) {
        crate::pod::cgroup::remove_idle(&self.prefix);
    }
}

/// Entry point of `opendlc shim-launcher`, its stdin the socket to the server. Returns the
/// process exit code once the server's end is closed. Must be called before the process
/// starts any thread: its children are forked from it.
pub fn run(socket: OwnedFd) -> i32 {
    // Where pods' cgroups go is learnt first: it is worked out from this process's own cgroup,
    // which joining the shims' group changes.
    crate::pod::cgroup::learn_parents();
    if let Err(e) = crate::pod::cgroup::join_shims_group() {
        eprintln!("opendlc shim-launcher: shims run in the server's cgroup: {e}");
    }
    let mut children = SigSet::empty();
    children.add(Signal::SIGCHLD);
    let reaper = match children
        .thread_block()
        .and_then(|()| SignalFd::with_flags(&children, SfdFlags::SFD_NONBLOCK))
    {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("opendlc shim-launcher: failed to watch its children: {e}");
            return 1;
        }
    };
    let mut ended = VecDeque::new();
    let mut slots = Slots::new();
    loop {
        let mut fds = [
            PollFd::new(socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(reaper.as_fd(), PollFlags::POLLIN),
        ];
        let trim_in = slots.as_ref().and_then(Slots::trim_in);
        let timeout = match trim_in {
            Some(wait) => PollTimeout::try_from(wait.max(TRIM_PAUSE)).unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        match poll(&mut fds, timeout) {
            Ok(0) => {
                if let Some(slots) = slots
                    .as_mut()
                    .filter(|s| s.trim_in() == Some(Duration::ZERO))
                {
                    slots.trim(TRIM_STEP);
                }
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                eprintln!("opendlc shim-launcher: poll failed: {e}");
                return 1;
            }
        }
        // Reaped before a request is answered, so that a shim that has ended hands its slot
        // on to the pod the request starts; a shim forked for a request only at a later turn,
        // after its answer (its pidfd is opened while its pid is still ours). And only once a
        // child has ended: each look for one goes through every child there is (hundreds, on
        // a busy host).
        if fds[1].any().unwrap_or(false) {
            while let Ok(Some(_)) = reaper.read_signal() {}
            reap(&mut ended, slots.as_mut());
        }
        if fds[0].any().unwrap_or(false) {
            let (request, passed) = match receive(socket.as_raw_fd()) {
                Ok(Some(message)) => message,
                // The server is gone.
                Ok(None) => return 0,
                Err(e) => {
                    eprintln!("opendlc shim-launcher: failed to read a request: {e}");
                    return 1;
                }
            };
            let ours = [socket.as_raw_fd(), reaper.as_raw_fd()];
            let sent = if let Some(request) = request.strip_prefix(b"launch ") {
                let (owner, path) = split_owner(request);
                let slot = slots.as_mut().and_then(|slots| slots.take(owner));
                let launched = launch(path, passed, &ours, slot.as_ref());
                if let (Ok((pid, _)), Some(slot), Some(slots)) = (&launched, &slot, &mut slots) {
                    slots.forked(Pid::from_raw(*pid), owner, slot);
                }
                match launched {
                    Ok((pid, pidfd)) => send(
                        socket.as_raw_fd(),
                        format!("ok {pid}").as_bytes(),
                        &[pidfd.as_raw_fd()],
                    ),
                    Err(e) => send(socket.as_raw_fd(), format!("error {e}").as_bytes(), &[]),
                }
            } else if let Some(pid) = request.strip_prefix(b"status ") {
                let how = std::str::from_utf8(pid)
                    .ok()
                    .and_then(|pid| pid.parse().ok())
                    .and_then(|pid| end_of(&mut ended, Pid::from_raw(pid)));
                let answer = how.map_or("unknown".to_string(), |how| format!("ok {how}"));
                send(socket.as_raw_fd(), answer.as_bytes(), &[])
            } else {
                send(socket.as_raw_fd(), b"error an unknown request", &[])
            };
            if let Err(e) = sent {
                eprintln!("opendlc shim-launcher: failed to answer the server: {e}");
                return 1;
            }
        }
    }
}

/// A launch request's owner and pod directory (`<owner> <directory>`).
fn split_owner(request: &[u8]) -> (&str, &[u8]) {
    match request.iter().position(|&b| b == b' ') {
        Some(space) => (
            std::str::from_utf8(&request[..space]).unwrap_or("-"),
            &request[space + 1..],
        ),
        None => ("-", request),
    }
}

/// Forks the shim of the pod at `path`, its stdout and stdin the two `passed` descriptors,
/// with `slot` for its pod's cgroup; `ours` are the launcher's own descriptors, which the shim
/// must not hold. The launcher's copies close when this returns: the shim alone holds the pod's
/// lock then.
fn launch(
    path: &[u8],
    passed: Vec<OwnedFd>,
    ours: &[RawFd],
    slot: Option<&Slot>,
) -> io::Result<(i32, OwnedFd)> {
    let [announce, lock]: [OwnedFd; 2] = passed
        .try_into()
        .map_err(|_| io::Error::other("a request carries two descriptors"))?;
    let dir = Path::new(OsStr::from_bytes(path));
    // SAFETY: the launcher is single-threaded, so the child has nothing half-done (no lock held
    // by another thread) to trip over.
    match unsafe { fork() }.map_err(io::Error::from)? {
        ForkResult::Child => {
            let code = match become_shim(&announce, &lock, ours) {
                Ok(()) => super::run_in(dir, slot),
                Err(e) => {
                    super::diagnose_into(&crate::pod_dir::PodDir::new(dir));
                    super::diag(format_args!("the launcher failed to set up the shim: {e}"));
                    127
                }
            };
            // Nothing is left to flush (the shim writes its files itself), and the exit
            // handlers of the launcher's libraries, run in a fork, would only copy the pages
            // they touch.
            // SAFETY: _exit(2) ends the process; no Rust state is used after it.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            let pidfd = process::pidfd_open(child.as_raw() as u32)?;
            Ok((child.as_raw(), pidfd))
        }
    }
}

/// In the forked child: stdin and stdout the passed descriptors, stderr `/dev/null`, and none
/// of the launcher's own descriptors (its socket would keep the server's end from seeing the
/// launcher go; its signalfd is the launcher's business).
fn become_shim(announce: &OwnedFd, lock: &OwnedFd, ours: &[RawFd]) -> io::Result<()> {
    // Its command line stays the launcher's (`opendlc shim-launcher`); its name, which `ps -e`,
    // `top` and `pgrep` show, says what it is.
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes, which this is.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"opendlc-shim".as_ptr(), 0, 0, 0) };
    nix::unistd::dup2(lock.as_raw_fd(), 0)?;
    nix::unistd::dup2(announce.as_raw_fd(), 1)?;
    let null = std::fs::File::options().write(true).open("/dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 2)?;
    for &fd in ours {
        // The socket was stdin, now the pod's lock: closing fd 0 would undo that.
        if fd > 2 {
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

/// Reaps every child that has ended, without waiting, remembering the ends other than a
/// clean exit, and giving the slots of those that exited cleanly to the next shims.
fn reap(ended: &mut VecDeque<(Pid, String)>, mut slots: Option<&mut Slots>) {
    loop {
        let status = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG));
        if let (Ok(status), Some(slots)) = (&status, slots.as_deref_mut()) {
            if let Some(pid) = status.pid() {
                slots.ended(pid, matches!(status, WaitStatus::Exited(_, 0)));
            }
        }
        match status {
            Ok(WaitStatus::Exited(_, 0)) => {}
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(status) => {
                if let (Some(pid), Some(how)) = (status.pid(), describe(status)) {
                    if ended.len() == KEPT_ENDS {
                        ended.pop_front();
                    }
                    ended.push_back((pid, how));
                }
            }
        }
    }
}

/// How the child `pid` ended, if it has: remembered, or reaped now.
fn end_of(ended: &mut VecDeque<(Pid, String)>, pid: Pid) -> Option<String> {
    if let Some((_, how)) = ended.iter().rev().find(|(p, _)| *p == pid) {
        return Some(how.clone());
    }
    waitpid(pid, Some(WaitPidFlag::WNOHANG))
        .ok()
        .and_then(describe)
}

fn describe(status: WaitStatus) -> Option<String> {
    match status {
        WaitStatus::Exited(_, code) => Some(format!("exited with status {code}")),
        WaitStatus::Signaled(_, signal, _) => {
            Some(format!("was killed by signal {}", signal as i32))
        }
        _ => None,
    }
}

/// Sends one message: `bytes`, with `fds` passed along.
pub(crate) fn send(socket: RawFd, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    sendmsg::<()>(
        socket,
        &[IoSlice::new(bytes)],
        cmsgs,
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

/// Receives one message and the descriptors passed with it (close-on-exec); `None` once the
/// other end is closed.
pub(crate) fn receive(socket: RawFd) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; 8192];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let (bytes, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            socket,
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(message) => {
                let mut fds = Vec::new();
                for cmsg in message.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(raw) = cmsg {
                        // SAFETY: descriptors passed to us are new and ours alone.
                        fds.extend(
                            raw.into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                if message.flags.contains(MsgFlags::MSG_TRUNC) {
                    return Err(io::Error::other("a message too long for the launcher"));
                }
                break (message.bytes, fds);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    buf.truncate(bytes);
    Ok(Some((buf, fds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_goes_to_its_owners_next_pod_and_idle_ones_wait_for_a_quiet_spell() {
        let mut slots = Slots {
            prefix: "idle-test-".into(),
            next: 0,
            idle: HashMap::new(),
            held: HashMap::new(),
            busy_at: Instant::now(),
        };
        assert_eq!(slots.trim_in(), None, "nothing idle");
        assert!(slots.take("-").is_none(), "a pod without limits takes none");
        let (shim, killed) = (Pid::from_raw(41), Pid::from_raw(42));
        for (pid, owner) in [(shim, "1000"), (killed, "1000")] {
            let slot = slots.take(owner).unwrap();
            slots.forked(pid, owner, &slot);
        }
        slots.ended(shim, true);
        slots.ended(killed, false);
        let wait = slots.trim_in().unwrap();
        assert!(wait > IDLE_TRIM - Duration::from_secs(1), "{wait:?}");

        // Only its owner's next pod takes it; a killed shim's is not handed on.
        assert_eq!(slots.take("1001").unwrap().name, "idle-test-3");
        assert_eq!(slots.take("1000").unwrap().name, "idle-test-1");
        assert_eq!(slots.take("1000").unwrap().name, "idle-test-4");

        // Removed once no pod has started or ended for a while.
        let slot = slots.take("1000").unwrap();
        slots.forked(shim, "1000", &slot);
        slots.ended(shim, true);
        slots.busy_at -= IDLE_TRIM;
        assert_eq!(slots.trim_in(), Some(Duration::ZERO));
        slots.trim(TRIM_STEP);
        assert_eq!(slots.trim_in(), None);
    }
}
