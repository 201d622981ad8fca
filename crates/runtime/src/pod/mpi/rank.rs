//! `opendlc mpi-rank PROGRAM ARGS…`: the fork agent through which `orted` starts each rank.
//! It moves into the Worker pod's process group and sends its output to the pod log, then
//! becomes PROGRAM (same pid, so orted's signals reach the rank itself). Without the pod (run
//! by hand, say) it only becomes PROGRAM.
//!
//! The output goes through a relay rather than straight into the pod log: ranks sharing a pod
//! would otherwise mix their lines mid-line (a line is often written in pieces). The relay is a
//! detached process of the pod that copies whole lines from the rank's pipes to the pod's main
//! process's stdout and stderr (`/proc/<pid>/fd/1` and `2`: the pod log), and ends when the
//! rank and all it started have closed them.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::fcntl::OFlag;
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{dup2, fork, getpgid, pipe2, setpgid, ForkResult, Pid};

use super::POD_PID_ENV;

/// Lines are written to the pod log in batches of at most this many bytes: one pipe write of
/// up to PIPE_BUF bytes is never split by another writer's.
const ATOMIC_WRITE: usize = 4096;

pub fn main(argv: &[OsString]) -> i32 {
    let Some((program, args)) = argv.split_first() else {
        eprintln!("opendlc mpi-rank: no program to run");
        return 127;
    };
    if let Some(pid) = std::env::var(POD_PID_ENV).ok().and_then(|p| p.parse().ok()) {
        if let Err(e) = join_pod(pid) {
            // The rank still runs; its output then goes to mpirun, as without the agent.
            eprintln!("opendlc mpi-rank: the rank stays outside its pod: {e}");
        }
    }
    let error = Command::new(program)
        .args(args)
        .env_remove(POD_PID_ENV)
        .exec();
    eprintln!(
        "opendlc mpi-rank: failed to run {}: {error}",
        program.to_string_lossy()
    );
    127
}

/// Joins the process group of the pod whose main process is `pid` and points stdout and
/// stderr at a relay into its log. Runs single-threaded, before any thread exists (it forks).
fn join_pod(pid: i32) -> Result<(), String> {
    let pod = Pid::from_raw(pid);
    let group = getpgid(Some(pod)).map_err(|e| format!("pod process {pid}: {e}"))?;
    setpgid(Pid::from_raw(0), group)
        .map_err(|e| format!("failed to join process group {group}: {e}"))?;
    let open = |fd: i32| {
        let path = format!("/proc/{pid}/fd/{fd}");
        OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| format!("failed to open {path}: {e}"))
    };
    let (log_out, log_err) = (open(1)?, open(2)?);
    let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("failed to create a pipe: {e}"));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // SAFETY: single-threaded here (see above); the children only run the relay and exit.
    match unsafe { fork() }.map_err(|e| format!("failed to fork: {e}"))? {
        ForkResult::Child => {
            drop((out_w, err_w));
            // A second fork detaches the relay: the rank never sees it as a child of its own,
            // and the pod's shim (a subreaper) reaps it.
            // SAFETY: as above; this child has one thread.
            if let Ok(ForkResult::Child) = unsafe { fork() } {
                relay([(out_r, log_out), (err_r, log_err)]);
            }
            std::process::exit(0);
        }
        ForkResult::Parent { child } => {
            let _ = waitpid(child, None);
        }
    }
    drop((out_r, err_r, log_out, log_err));
    for (pipe, fd) in [(out_w, 1), (err_w, 2)] {
        dup2(pipe.as_raw_fd(), fd).map_err(|e| format!("failed to redirect fd {fd}: {e}"))?;
    }
    Ok(())
}

/// The relay: copies whole lines from each pipe to its log until every writer has closed it.
fn relay(pairs: [(OwnedFd, File); 2]) {
    // The pod's SIGTERM is for the rank; the relay stays to pass on its last words.
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: installs SIG_IGN, no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    let threads: Vec<_> = pairs
        .into_iter()
        .map(|(pipe, log)| std::thread::spawn(move || copy_lines(File::from(pipe), log)))
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}

fn copy_lines(mut from: File, mut to: File) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        pending.extend_from_slice(&buf[..n]);
        let Some(last) = pending.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let rest = pending.split_off(last + 1);
        if write_lines(&mut to, &pending).is_err() {
            return;
        }
        pending = rest;
    }
    if !pending.is_empty() {
        pending.push(b'\n');
        let _ = write_lines(&mut to, &pending);
    }
}

/// Writes complete lines in batches that stay whole in the pipe.
fn write_lines(to: &mut File, lines: &[u8]) -> io::Result<()> {
    let mut start = 0;
    while start < lines.len() {
        let mut end = start;
        for line in lines[start..].split_inclusive(|&b| b == b'\n') {
            if end > start && end - start + line.len() > ATOMIC_WRITE {
                break;
            }
            end += line.len();
        }
        to.write_all(&lines[start..end])?;
        start = end;
    }
    Ok(())
}
