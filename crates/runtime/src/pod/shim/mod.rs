//! The shim: one small synchronous process per pod (`opendlc shim --dir DIR`) that owns the
//! pod's processes, so that the pod neither dies with the server nor goes unrecorded.
//!
//! Its life:
//! 1. block the signals it handles, become a session leader (SIGHUP or Ctrl-C aimed at the
//!    server does not reach it) and a child subreaper (orphans of the pod come back to it);
//! 2. read `spec.json`, start `/bin/sh -c COMMAND` in its own process group with stdin from
//!    /dev/null and stdout/stderr piped into the pod `log` (copied by the shim's one thread,
//!    which polls the pipes beside its signals);
//! 3. write `started.json`, print `started <pid>` on stdout (the supervisor waits for that
//!    line) and never write to stdout again — diagnostics go to `shim.log`, made at the first
//!    one (`diag`: a pod that runs as it should has none). If the command cannot start:
//!    `exit.json`, then `failed <reason>`.
//!    A supervisor gone before it read the line (killed) leaves the pod running: started.json
//!    is what the next one re-attaches by. Its stdin, which it never reads, holds the lock that
//!    tells a recovering supervisor a shim is there (`crate::pod_dir::lock_spec`);
//! 4. on SIGTERM: SIGTERM to the process group, SIGKILL after the grace period;
//! 5. once the group leader exits: SIGKILL what is left of the pod, drain the pipes (bounded),
//!    fsync the log (when the command wrote one), remove the directories the pod's programs
//!    made outside its own (`PodSpec::scratch`), write `exit.json` durably, exit 0.
//!
//! Where spec.json asks for it (a pod on a Slurm node), the shim first fills in the addresses
//! of the pods its environment names (`crate::pod::peers`), and a thread samples the pod's metrics into `metrics.jsonl`
//! while it runs.

mod command;
pub mod launcher;
mod metrics;
pub(crate) mod pump;
pub(crate) mod signals;
mod supervise;

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::unistd::{getpid, getsid, setsid, Pid};

use crate::logs::Stream;
use crate::pod::cgroup::PodCgroup;
use crate::pod::peers;
use crate::pod_dir::{open_append, read_json, write_json_atomic, Durability, PodDir};
use crate::pod_files::{PodExit, PodSpec, ShimStarted};
use crate::process;
use metrics::PodSampling;
use pump::PolledPumps;
use signals::Signals;

/// How long the pipes may stay open after the pod's processes were killed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Entry point of `opendlc shim --dir DIR`; returns the process exit code: 0 once `exit.json`
/// is written, 1 if even that failed. Must be called before the process starts any thread.
pub fn run(dir: &Path) -> i32 {
    run_in(dir, None)
}

/// [`run`], for a shim the launcher forked: `slot`, the idle cgroup it may take for the pod and
/// hand on at its end.
fn run_in(dir: &Path, slot: Option<&launcher::Slot>) -> i32 {
    crate::priority::reset_this_thread();
    let pod = PodDir::new(dir);
    diagnose_into(&pod);
    std::panic::set_hook(Box::new(|panic| diag(format_args!("{panic}"))));
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => return not_started(&pod, 127, format!("failed to set up signal handling: {e}")),
    };
    let own_session = become_session_leader();
    become_subreaper();
    let mut spec: PodSpec = match read_json(&pod.spec()) {
        Ok(Some(spec)) => spec,
        Ok(None) => return not_started(&pod, 127, format!("{} is missing", pod.spec().display())),
        Err(e) => {
            return not_started(
                &pod,
                127,
                format!("failed to read {}: {e}", pod.spec().display()),
            )
        }
    };
    let log = match open_append(&pod.log()) {
        Ok(log) => log,
        Err(e) => return not_started(&pod, 127, format!("failed to open the pod log: {e}")),
    };
    if !spec.addressed_env.is_empty() || !spec.addressed_hosts.is_empty() {
        let resolved = peers::resolve(&mut spec, peers::PEER_TIMEOUT);
        if !resolved.missing.is_empty() {
            diag(format_args!(
                "no node recorded by {}: the pod's own address stands in for theirs",
                resolved.missing.join(", ")
            ));
        }
    }
    let mut hosts = None;
    if !spec.hosts.is_empty() {
        let file = pod.path().join(peers::HOSTS_FILE);
        let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        match std::fs::write(&file, peers::hosts_file(&host, &spec.hosts)) {
            Ok(()) => hosts = Some(file),
            Err(e) => diag(format_args!("failed to write {}: {e}", file.display())),
        }
    }
    // The pod's limits: a cgroup its command joins before it runs, or the reason why not.
    let (mut cgroup, limits) = match spec.limits {
        None => (None, None),
        Some(limits) => match slot.map_or_else(
            || PodCgroup::create(&spec.pod_uid, limits),
            |slot| PodCgroup::claim(&slot.name, &spec.pod_uid, limits),
        ) {
            Ok(cgroup) => {
                let text = cgroup.describe();
                (Some(cgroup), Some(text))
            }
            Err(e) => (None, Some(format!("not enforced: {e}"))),
        },
    };
    let join = cgroup
        .as_ref()
        .map(PodCgroup::join_steps)
        .unwrap_or_default();
    // Pinned to its cores: the shim first, its command inherits them.
    let limits = match pin(&spec.cpus) {
        Ok(None) => limits,
        Ok(Some(cores)) => Some(match limits {
            Some(text) => format!("{text}; pinned to CPUs {cores}"),
            None => format!("pinned to CPUs {cores}"),
        }),
        Err(e) => Some(format!(
            "{}not pinned to CPUs: {e}",
            limits.map(|t| format!("{t}; ")).unwrap_or_default()
        )),
    };
    // Taken before the spawn: the command's first output can come before spawn() returns.
    let started_at = Utc::now();
    let spawned = match command::spawn(&spec, join, hosts.as_deref()) {
        Ok(spawned) => spawned,
        Err(e) => return not_started(&pod, e.code, e.reason),
    };
    if let Some(cgroup) = &cgroup {
        if let Err(e) = cgroup.limit_cpu() {
            diag(format_args!("the pod's CPU limit is not enforced: {e}"));
        }
    }
    let leader = Pid::from_raw(spawned.pid as i32);
    let pipes = [
        (Stream::Stdout, spawned.stdout),
        (Stream::Stderr, spawned.stderr),
    ];
    let mut pumps = PolledPumps::new(log, pipes);

    // From here on the command runs: whatever goes wrong, it is killed and exit.json written.
    let mut kill_reason = None;
    let mut recorded = false;
    if let Err(e) = &pumps {
        kill_reason = Some(format!("failed to start copying the output: {e}"));
    } else if let Err(e) = record_start(&pod, spawned.pid, started_at, limits) {
        kill_reason = Some(format!("failed to write started.json: {e}"));
    } else {
        recorded = true;
        // A supervisor gone before it learned that the pod runs (it was killed) is no reason
        // to stop: started.json is what the next one re-attaches by.
        if let Err(e) = announce(&format!("started {}", spawned.pid)) {
            diag(format_args!(
                "the supervisor went away before the start was acknowledged ({e}); the pod runs on"
            ));
        }
    }
    silence_stdout();
    let mut sampling = None;
    if let (true, Some(every)) = (recorded, spec.sample_every_ms) {
        let every = Duration::from_millis(every.max(100));
        sampling = Some(PodSampling::start(&pod, spawned.pid, every));
    }

    let grace = Duration::from_millis(spec.grace_period_ms);
    let ending =
        supervise::wait_for_leader(&signals, pumps.as_mut().ok(), leader, grace, kill_reason);
    if let Some(sampling) = sampling {
        sampling.stop();
    }
    supervise::kill_leftovers(spawned.pid, own_session);
    if let Ok(pumps) = pumps {
        if let Err(e) = pumps.finish(DRAIN_TIMEOUT) {
            diag(format_args!("failed to flush the pod log: {e}"));
        }
    }
    for failure in crate::pod_files::remove_scratch(&spec) {
        diag(format_args!("{failure}"));
    }
    let mut reason = ending.reason;
    if let Some(cgroup) = cgroup.take() {
        let oom_killed = cgroup.oom_killed();
        if oom_killed && reason.is_none() {
            reason = Some(format!(
                "OOMKilled: a process of the pod went over its memory limit ({})",
                cgroup.describe()
            ));
        }
        // Handed on only while the launcher runs to hand it on again, and never with an OOM
        // kill on its count (the next pod's end would read as OOMKilled).
        match slot {
            Some(slot) if !oom_killed && slot.launcher_runs() => cgroup.hand_on(&slot.name),
            // Removed as it is dropped.
            _ => drop(cgroup),
        }
    }
    let exit = PodExit {
        code: ending.code,
        signal: ending.signal,
        finished_at: Utc::now(),
        reason,
    };
    let written = write_exit(&pod, &exit);
    if !recorded {
        let _ = announce(&format!(
            "failed {}",
            exit.reason.as_deref().unwrap_or("unknown")
        ));
    }
    if written {
        0
    } else {
        1
    }
}

/// Records a command that never ran, then tells the supervisor.
fn not_started(pod: &PodDir, code: i32, reason: String) -> i32 {
    let reason = format!("the command could not be started: {reason}");
    diag(format_args!("{reason}"));
    let exit = PodExit {
        code: Some(code),
        signal: None,
        finished_at: Utc::now(),
        reason: Some(reason.clone()),
    };
    let written = write_exit(pod, &exit);
    let _ = announce(&format!("failed {reason}"));
    if written {
        0
    } else {
        1
    }
}

fn write_exit(pod: &PodDir, exit: &PodExit) -> bool {
    match write_json_atomic(&pod.exit(), exit, Durability::PowerLoss) {
        Ok(()) => true,
        Err(e) => {
            diag(format_args!("failed to write exit.json: {e}"));
            false
        }
    }
}

fn record_start(
    pod: &PodDir,
    pid: u32,
    started_at: DateTime<Utc>,
    limits: Option<String>,
) -> io::Result<()> {
    let shim_pid = std::process::id();
    let me = process::stat(shim_pid)?
        .ok_or_else(|| io::Error::other("cannot read our own /proc entry"))?;
    let started = ShimStarted {
        shim_pid,
        shim_start_ticks: me.start_ticks,
        pid,
        pgid: pid,
        started_at,
        limits,
    };
    // No fsync: started.json only has to outlive the server, not the machine (a machine crash
    // ends the pod as well).
    write_json_atomic(&pod.started(), &started, Durability::ProcessCrash)
}

/// One line to the supervisor, on stdout. The line is newline-free so that it stays one line.
fn announce(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(line.replace('\n', " ").as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// After the announcement nothing may reach stdout: the supervisor has stopped reading, and a
/// dead pipe would turn a stray write into an error.
fn silence_stdout() {
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), io::stdout().as_raw_fd());
    }
}

/// A session of our own: no controlling terminal, so the server's terminal closing (SIGHUP)
/// or Ctrl-C in it (SIGINT to its foreground group) does not reach the pod. Returns whether we
/// lead our session, which is what lets the supervisor find the pod by session id later.
fn become_session_leader() -> bool {
    let me = getpid();
    if getsid(None) == Ok(me) {
        return true;
    }
    match setsid() {
        Ok(_) => true,
        Err(e) => {
            diag(format_args!("failed to start a session of our own: {e}"));
            false
        }
    }
}

/// Orphans of the pod (a daemon that double-forked) are re-parented to us instead of init, so
/// we can kill them when the pod ends.
fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        diag(format_args!(
            "failed to become a child subreaper: {}",
            io::Error::last_os_error()
        ));
    }
}

/// Whether orphans of the pod come to this process (`PR_SET_CHILD_SUBREAPER` took).
fn is_subreaper() -> bool {
    let mut flag: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int through the pointer, which is valid.
    let got = unsafe {
        libc::prctl(
            libc::PR_GET_CHILD_SUBREAPER,
            &mut flag as *mut libc::c_int,
            0,
            0,
            0,
        )
    };
    got == 0 && flag != 0
}

/// Where [`diag`] writes: stderr until the pod is known, then its `shim.log`, made at the first
/// line (most pods have nothing to say: one file fewer to make for each).
enum Diagnostics {
    Stderr,
    Pod(std::path::PathBuf),
    Open(File),
}

static DIAGNOSTICS: Mutex<Diagnostics> = Mutex::new(Diagnostics::Stderr);

/// Sends the shim's diagnostics to `pod`'s `shim.log` from now on.
pub(crate) fn diagnose_into(pod: &PodDir) {
    *DIAGNOSTICS.lock().unwrap_or_else(PoisonError::into_inner) = Diagnostics::Pod(pod.shim_log());
}

/// A line in the shim's diagnostic log, written with one `write` so that lines from different
/// threads do not mix.
pub(crate) fn diag(message: fmt::Arguments<'_>) {
    let line = format!(
        "{} {message}\n",
        Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ")
    );
    let mut to = DIAGNOSTICS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Diagnostics::Pod(path) = &*to {
        if let Ok(file) = open_append(path) {
            *to = Diagnostics::Open(file);
        }
    }
    let _ = match &mut *to {
        Diagnostics::Open(file) => file.write_all(line.as_bytes()),
        _ => io::stderr().write_all(line.as_bytes()),
    };
}

/// Pins this process (and so the command it spawns) to `cpus`; says which, or nothing for none.
fn pin(cpus: &[u32]) -> nix::Result<Option<String>> {
    if cpus.is_empty() {
        return Ok(None);
    }
    let mut set = nix::sched::CpuSet::new();
    for &cpu in cpus {
        set.set(cpu as usize)?;
    }
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)?;
    let list: Vec<String> = cpus.iter().map(u32::to_string).collect();
    Ok(Some(list.join(",")))
}
