//! Starting the pod's command: `/bin/sh -c COMMAND` in its own process group.

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ChildStderr, ChildStdout, Command, Stdio};

use crate::pod_files::PodSpec;

/// Variables of ours (server configuration, access keys) that must not leak into pods.
const PRIVATE_ENV_PREFIX: &[u8] = b"OPENDLC_";

pub(super) struct Spawned {
    pub pid: u32,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

/// Why the command did not start, with the exit code to record (126/127, as a shell would).
pub(super) struct NotStarted {
    pub code: i32,
    pub reason: String,
}

/// `cgroup_procs`: the files the command writes to join its cgroups before it runs (the pod's
/// limits; [`crate::pod::cgroup::PodCgroup::procs_fds`]); `hosts`: the command's own
/// `/etc/hosts` ([`crate::pod::mounts::bind_hosts`]).
pub(super) fn spawn(
    spec: &PodSpec,
    cgroup_procs: Vec<RawFd>,
    hosts: Option<&Path>,
) -> Result<Spawned, NotStarted> {
    // Checked here for a clear message: a failed chdir in the child reads as a bare ENOENT.
    match std::fs::metadata(&spec.workdir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(not_started(
                127,
                format!(
                    "the working directory {} is not a directory",
                    spec.workdir.display()
                ),
            ))
        }
        Err(e) => {
            return Err(not_started(
                127,
                format!(
                    "the working directory {} cannot be used: {e}",
                    spec.workdir.display()
                ),
            ))
        }
    }
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so that stopping the pod reaches everything the command started.
        .process_group(0);
    for (name, _) in std::env::vars_os() {
        if is_private(&name) {
            command.env_remove(name);
        }
    }
    command.envs(&spec.env);
    crate::process::unblock_signals_in_child(&mut command);
    if !cgroup_procs.is_empty() {
        // SAFETY: the closure only makes write(2) calls (async-signal-safe), and the shim has
        // no other thread yet.
        unsafe {
            command.pre_exec(move || crate::pod::cgroup::join(&cgroup_procs));
        }
    }
    // SAFETY: the closure makes fcntl/close_range calls only (async-signal-safe), and the
    // shim has no other thread yet.
    unsafe {
        command.pre_exec(close_inherited);
    }
    if let Some(hosts) = hosts {
        let hosts = hosts.to_path_buf();
        // SAFETY: the shim has no other thread yet, so the child, a copy of it, may allocate;
        // `bind_hosts` never unwinds.
        unsafe {
            command.pre_exec(move || {
                crate::pod::mounts::bind_hosts(&hosts);
                Ok(())
            });
        }
    }
    if let Some(view) = &spec.view {
        // The pod's view, in the command's process: what `opendlc run-mounted` does, without
        // starting it. A failure is said on the pod's stderr and ends the pod with its code.
        let view = crate::pod::mounts::read(view).map_err(|e| not_started(127, e))?;
        command.envs(view.identity_env());
        // SAFETY: the shim has no other thread yet, so the child, a copy of it, may allocate
        // and take locks; `enter` leaves the environment alone (std holds its lock across the
        // fork), and a failure ends the child with _exit, never unwinding.
        unsafe {
            command.pre_exec(move || {
                if let Err(code) = crate::pod::mounts::enter(&view) {
                    libc::_exit(code);
                }
                Ok(())
            });
        }
    }
    let mut child = command.spawn().map_err(|e| {
        let code = match e.raw_os_error() {
            Some(libc::EACCES | libc::ENOEXEC | libc::EPERM) => 126,
            _ => 127,
        };
        not_started(code, format!("failed to run /bin/sh: {e}"))
    })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        unreachable!("both pipes were requested");
    };
    // The std handle is dropped without waiting: the shim reaps with waitpid(-1) because, as a
    // subreaper, it also inherits the command's orphans.
    Ok(Spawned {
        pid: child.id(),
        stdout,
        stderr,
    })
}

/// Marks every descriptor but stdin, stdout and stderr close-on-exec: the command must not
/// inherit what was open in whoever started the server (a lock file, a socket) or in the shim.
fn close_inherited() -> std::io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: a syscall on integers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11: one by one, up to the descriptor limit.
    // SAFETY: sysconf and fcntl on integers.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(0, 1 << 16) as libc::c_int;
    for fd in 3..max {
        // SAFETY: as above; a descriptor that is not open answers EBADF, which is fine.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

fn is_private(name: &OsStr) -> bool {
    name.as_bytes().starts_with(PRIVATE_ENV_PREFIX)
}

fn not_started(code: i32, reason: String) -> NotStarted {
    NotStarted { code, reason }
}
