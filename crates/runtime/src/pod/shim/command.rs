//! Starting the pod's command: `/bin/sh -c COMMAND` in its own process group.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use crate::pod::cgroup::JoinSteps;
use crate::pod::mounts::MountSpec;
use crate::pod_files::PodSpec;

/// Variables of ours (server configuration, access keys) that must not leak into pods.
const PRIVATE_ENV_PREFIX: &[u8] = b"OPENDLC_";

pub(super) struct Spawned {
    pub pid: u32,
    /// The read ends of its stdout and stderr.
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Why the command did not start, with the exit code to record (126/127, as a shell would).
pub(super) struct NotStarted {
    pub code: i32,
    pub reason: String,
}

/// `cgroup`: the files the command writes to join its cgroups (the pod's limits;
/// [`crate::pod::cgroup::PodCgroup::join_steps`]); `hosts`: the command's own `/etc/hosts`
/// ([`crate::pod::mounts::bind_hosts`]). The shim must have no other thread yet.
pub(super) fn spawn(
    spec: &PodSpec,
    cgroup: JoinSteps,
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
    // The pod's view, made in the command's process: what `opendlc run-mounted` does, without
    // starting it. A failure is said on the pod's stderr and ends the pod with its code.
    let view = spec.view.as_ref();
    let program = c"/bin/sh";
    let argv = [
        program.to_owned(),
        c"-c".to_owned(),
        c_string(spec.command.as_bytes(), "the command")?,
    ];
    let env = environment(spec, view)?;
    let workdir = c_string(spec.workdir.as_os_str().as_bytes(), "the working directory")?;
    let failed = |e: std::io::Error| not_started(127, format!("failed to run /bin/sh: {e}"));
    let stdin = File::open("/dev/null").map_err(failed)?;
    let (stdout_read, stdout_write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| failed(e.into()))?;
    let (stderr_read, stderr_write) = pipe2(OFlag::O_CLOEXEC).map_err(|e| failed(e.into()))?;
    let mut child = Child {
        program,
        argv: pointers(&argv),
        envp: pointers(&env),
        workdir: &workdir,
        stdio: [
            stdin.as_raw_fd(),
            stdout_write.as_raw_fd(),
            stderr_write.as_raw_fd(),
        ],
        cgroup: &cgroup,
        hosts,
        view,
        error: 0,
    };
    let pid = clone_vfork(&mut child).map_err(|e| {
        let code = match e.raw_os_error() {
            Some(libc::EACCES | libc::ENOEXEC | libc::EPERM) => 126,
            _ => 127,
        };
        not_started(code, format!("failed to run /bin/sh: {e}"))
    })?;
    // The shim reaps with waitpid(-1) because, as a subreaper, it also inherits the command's
    // orphans.
    Ok(Spawned {
        pid,
        stdout: stdout_read,
        stderr: stderr_read,
    })
}

/// What the command's process does between its start and its exec, prepared by the shim so
/// that the process, which shares the shim's memory until then, has little to do.
struct Child<'a> {
    program: &'a CStr,
    /// NULL-terminated, like `envp`.
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    workdir: &'a CStr,
    /// What become its stdin, stdout and stderr.
    stdio: [RawFd; 3],
    cgroup: &'a JoinSteps,
    hosts: Option<&'a Path>,
    view: Option<&'a MountSpec>,
    /// Why it could not run the program (an errno), written by the process before it exits.
    error: i32,
}

/// Starts the command's process as `vfork` does (glibc's `posix_spawn` too): it shares the
/// shim's memory and the shim waits until it has exec'd or exited. A fork would copy the shim's
/// page tables and make every page the shim writes afterwards a copy: a tenth of a shim's CPU.
fn clone_vfork(child: &mut Child<'_>) -> std::io::Result<u32> {
    // Its stack, with an inaccessible page below it: an overflow kills the process instead of
    // writing over the shim's memory.
    const STACK: usize = 1 << 20;
    const GUARD: usize = 1 << 16;
    // SAFETY: a fresh anonymous mapping, ours alone; its pages are only touched as used.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the lowest pages of the mapping just made.
    if unsafe { libc::mprotect(stack, GUARD, libc::PROT_NONE) } != 0 {
        let error = std::io::Error::last_os_error();
        // SAFETY: the mapping made above, unused.
        unsafe { libc::munmap(stack, STACK) };
        return Err(error);
    }
    // SAFETY: the stack grows down from its top, which is page-aligned; `child` outlives the
    // process's use of it (CLONE_VFORK: clone returns once it has exec'd or exited). The shim
    // has no other thread (the caller's contract), so nothing can hold a lock the process
    // needs, and the shim blocks the signals it handles, so no handler runs on its stack.
    let pid = unsafe {
        libc::clone(
            run_child,
            stack.cast::<u8>().add(STACK).cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (child as *mut Child<'_>).cast(),
        )
    };
    let cloned = std::io::Error::last_os_error();
    // SAFETY: the mapping made above, which nothing uses any more.
    unsafe { libc::munmap(stack, STACK) };
    if pid < 0 {
        return Err(cloned);
    }
    if child.error != 0 {
        // It has exited: reaped here, since nobody else knows of it.
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        return Err(std::io::Error::from_raw_os_error(child.error));
    }
    Ok(pid as u32)
}

/// The command's process until its exec, in the order std's `Command` takes: stdio, working
/// directory, process group, SIGPIPE back to its default (Rust ignores it), then the signal
/// mask, the pod's cgroups' first step, no inherited descriptor, its hosts file, its view and
/// the cgroups' last step.
extern "C" fn run_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Child` clone_vfork passed, alive until we exec or exit.
    let child = unsafe { &mut *arg.cast::<Child<'_>>() };
    let error = (|| -> std::io::Result<std::convert::Infallible> {
        for (fd, target) in child.stdio.into_iter().zip(0..) {
            nix::unistd::dup2(fd, target)?;
        }
        nix::unistd::chdir(child.workdir)?;
        nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))?;
        // SAFETY: restoring a default disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&nix::sys::signal::SigSet::empty()),
            None,
        )?;
        crate::pod::cgroup::join(&child.cgroup.first)?;
        close_inherited()?;
        if let Some(hosts) = child.hosts {
            crate::pod::mounts::bind_hosts(hosts);
        }
        if let Some(view) = child.view {
            if let Err(code) = crate::pod::mounts::enter(view) {
                // SAFETY: ends this process only; the shim goes on.
                unsafe { libc::_exit(code) };
            }
        }
        crate::pod::cgroup::join(&child.cgroup.last)?;
        // SAFETY: NUL-terminated strings in NULL-terminated arrays, alive until the exec.
        unsafe {
            libc::execve(
                child.program.as_ptr(),
                child.argv.as_ptr(),
                child.envp.as_ptr(),
            )
        };
        Err(std::io::Error::last_os_error())
    })()
    .unwrap_err();
    child.error = error.raw_os_error().unwrap_or(libc::EINVAL);
    // SAFETY: ends this process only, without running anything of the shim's (atexit, buffers).
    unsafe { libc::_exit(127) }
}

/// The command's environment: the shim's without any `OPENDLC_*` variable, then the pod's,
/// then its identity's (`HOME`, `USER`, … under a sandbox).
fn environment(spec: &PodSpec, view: Option<&MountSpec>) -> Result<Vec<CString>, NotStarted> {
    let mut env: BTreeMap<OsString, OsString> = std::env::vars_os()
        .filter(|(name, _)| !is_private(name))
        .collect();
    env.extend(spec.env.iter().map(|(k, v)| (k.into(), v.into())));
    if let Some(view) = view {
        env.extend(view.identity_env().into_iter().map(|(k, v)| (k.into(), v)));
    }
    env.into_iter()
        .map(|(name, value)| {
            let mut pair = name.into_vec();
            pair.push(b'=');
            pair.extend(value.into_vec());
            c_string(&pair, "an environment variable")
        })
        .collect()
}

fn c_string(bytes: &[u8], what: &str) -> Result<CString, NotStarted> {
    CString::new(bytes).map_err(|_| not_started(127, format!("{what} contains a NUL byte")))
}

/// `strings` as a NULL-terminated array of pointers for exec, valid while they are.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
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
