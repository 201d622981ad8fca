//! A pod's private view of the host and the identity it runs as: entered by `opendlc
//! run-mounted` (root, single-threaded) just before it becomes the pod's command.
//!
//! In a mount namespace of the pod's own, each [hidden](Sandbox::hide) directory (the server's
//! data directory, the users' homes) is covered by an empty tmpfs; inside them, each
//! [grant](Sandbox::grants) (the job's own directory, the framework installs an administrator
//! declared, the opendlc binary) is bound back at its own path, read-only where asked. Handles on
//! the granted paths are taken in the new namespace before anything is hidden (a bind's source
//! must be in the caller's namespace), and the binds are made from them, so a grant under a
//! hidden directory still reaches the real one. Then the process gives up root for
//! the pod's [`Identity`]: no supplementary groups, the owner's uid and gid, no capabilities
//! left, `no_new_privs` (a set-uid binary cannot give them back), and a umask that keeps what
//! the pod writes to its owner.
//!
//! The job's hosts file, when it has one, is bound over `/etc/hosts` (read-only): its pods
//! resolve each other's names there. A pod that asked for shared memory of a size gets a
//! `/dev/shm` of its own, of that size.
//!
//! What stays visible: the host's system (`/usr`, `/etc`, `/opt`, `/tmp`, …) with the usual Unix
//! permissions, which the pod now meets as an unprivileged user: `/etc/shadow`, other users'
//! processes and files, the server's database and keys are out of its reach.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How a pod is isolated on its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sandbox {
    pub identity: Identity,
    /// Directories the pod must not see.
    pub hide: Vec<PathBuf>,
    /// What it sees inside them, at the same paths.
    pub grants: Vec<Grant>,
    /// A file the pod sees as `/etc/hosts` (the host's entries and the job's pods' names);
    /// `None`: the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<PathBuf>,
    /// A `/dev/shm` of the pod's own, of this size (MiB); `None`: the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_mib: Option<u64>,
}

/// The Unix identity of the pod's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// `USER` and `LOGNAME` of the pod (the uid may have no entry in `/etc/passwd`).
    pub name: String,
    /// `HOME` of the pod, a directory the identity owns; `None` keeps the pod's own.
    pub home: Option<PathBuf>,
}

/// A path the pod sees although it is inside a hidden directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub path: PathBuf,
    pub read_only: bool,
}

/// A path held open (`O_PATH`) before anything is hidden, to bind at `target` afterwards.
pub(crate) struct Held {
    handle: File,
    pub target: PathBuf,
    pub read_only: bool,
}

/// Takes a handle on `source`, to be bound at `target` once the view is made.
pub(crate) fn hold(source: &Path, target: &Path, read_only: bool) -> io::Result<Held> {
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(source)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", source.display())))?;
    Ok(Held {
        handle,
        target: target.to_path_buf(),
        read_only,
    })
}

/// Covers the hidden directories in the current (already private) mount namespace and binds
/// `held` (the grants) back in place; returns the covers that hold mount points, to [`seal`]
/// once everything is in (a cover nothing is bound inside is read-only from the start: two
/// system calls fewer per pod). `later`: where more will be bound once the view is made (the
/// job's mounts).
pub(crate) fn cover(sandbox: &Sandbox, held: &[Held], later: &[&Path]) -> io::Result<Vec<PathBuf>> {
    let mut hide = sandbox.hide.clone();
    // A directory on the way to a grant that the pod's identity may not pass (a data
    // directory under a private 0700 one, say) is covered too: the grant, bound back inside
    // the cover, is then reachable.
    let targets: Vec<&Path> = held
        .iter()
        .map(|h| h.target.as_path())
        .chain(later.iter().copied())
        .collect();
    hide.extend(barriers(&targets, &hide, &sandbox.identity));
    // Outer directories first; one inside another is then gone already.
    hide.sort_by_key(|p| p.as_os_str().len());
    let mut covered = Vec::new();
    for dir in &hide {
        if !dir.is_dir() {
            continue;
        }
        if holds_mount_points(dir, &targets) {
            mount_tmpfs(dir, 0).map_err(|e| context("cover", dir, e))?;
            covered.push(dir.clone());
        } else {
            mount_tmpfs(dir, libc::MS_RDONLY).map_err(|e| context("cover", dir, e))?;
        }
    }
    for h in held {
        bind_held(h)?;
    }
    Ok(covered)
}

/// Whether a cover of `dir` must stay writable until the view is made: a bind's mount point is
/// made inside it (a bind over the cover itself needs none).
fn holds_mount_points(dir: &Path, targets: &[&Path]) -> bool {
    targets.iter().any(|t| t.starts_with(dir) && *t != dir)
}

/// For each target, the outermost directory on its way (its ancestors, not itself, not what
/// `hidden` covers already) that `identity` may not pass through.
fn barriers(targets: &[&Path], hidden: &[PathBuf], identity: &Identity) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let passable = |meta: &std::fs::Metadata| {
        let mode = meta.mode();
        if meta.uid() == identity.uid {
            mode & 0o100 != 0
        } else if meta.gid() == identity.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    };
    let mut found: Vec<PathBuf> = Vec::new();
    for target in targets {
        let Some(parent) = target.parent() else {
            continue;
        };
        let mut way = PathBuf::from("/");
        for part in parent.components().skip(1) {
            way.push(part);
            let covered = hidden.iter().chain(&found).any(|h| way.starts_with(h));
            if covered {
                break;
            }
            match std::fs::metadata(&way) {
                Ok(meta) if meta.is_dir() && !passable(&meta) => {
                    found.push(way.clone());
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    found
}

/// Nothing more is made inside the covers: they become read-only.
pub(crate) fn seal(covered: &[PathBuf]) -> io::Result<()> {
    for dir in covered {
        mount_tmpfs(dir, libc::MS_REMOUNT | libc::MS_RDONLY)
            .map_err(|e| context("seal", dir, e))?;
    }
    Ok(())
}

/// Binds what `handle` holds (with the mounts below it) at `target`: a copy of its mount tree
/// taken from the handle itself and moved there (`open_tree`, `move_mount`: Linux 5.2), or,
/// where those calls cannot be had, a bind of its `/proc/self/fd` path, which costs a walk of
/// this process's `/proc` entries each (a tenth of a short pod's view, measured).
fn bind_handle(handle: &File, target: &Path) -> io::Result<()> {
    let flags = libc::OPEN_TREE_CLONE
        | libc::OPEN_TREE_CLOEXEC
        | libc::AT_EMPTY_PATH as libc::c_uint
        | libc::AT_RECURSIVE as libc::c_uint;
    // SAFETY: a syscall on a descriptor we hold and a static empty string.
    let tree =
        unsafe { libc::syscall(libc::SYS_open_tree, handle.as_raw_fd(), c"".as_ptr(), flags) };
    if tree < 0 {
        let error = io::Error::last_os_error();
        // ENOSYS: an older kernel; EPERM: a seccomp filter that knows only `mount` (a
        // container's default profile), which may still allow the bind below.
        if !matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
            return Err(error);
        }
        let source = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
        return sys_mount(
            Some(&source),
            target,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        );
    }
    // SAFETY: open_tree returned a new descriptor, ours to own.
    let tree = unsafe { std::os::fd::OwnedFd::from_raw_fd(tree as RawFd) };
    let target = CString::new(target.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a syscall on a descriptor we own and a NUL-terminated path.
    let moved = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if moved < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Binds a held path at its target, making the mount point first.
pub(crate) fn bind_held(h: &Held) -> io::Result<()> {
    let is_dir = h.handle.metadata().map(|m| m.is_dir())?;
    if is_dir {
        std::fs::create_dir_all(&h.target).map_err(|e| context("create", &h.target, e))?;
    } else {
        if let Some(parent) = h.target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| context("create", parent, e))?;
        }
        if std::fs::symlink_metadata(&h.target).is_err() {
            File::create(&h.target).map_err(|e| context("create", &h.target, e))?;
        }
    }
    bind_handle(&h.handle, &h.target).map_err(|e| context("bind", &h.target, e))?;
    if h.read_only {
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        sys_mount(None, &h.target, None, flags, None)
            .map_err(|e| context("make read-only", &h.target, e))?;
    }
    Ok(())
}

/// Gives up root for `identity`, for good. Its variables ([`identity_env`]) are the caller's
/// to give the command it runs next: this may run between fork and exec, where the
/// environment must not be changed.
pub(crate) fn become_identity(identity: &Identity) -> io::Result<()> {
    drop_privileges(identity.uid, identity.gid)
}

/// Runs `command` (`/bin/sh -c`) as `identity` in the current view, and waits for it.
pub(crate) fn run_as(identity: &Identity, command: &str) -> io::Result<std::process::ExitStatus> {
    use std::os::unix::process::CommandExt;
    let (uid, gid) = (identity.uid, identity.gid);
    let mut child = std::process::Command::new("/bin/sh");
    child.arg("-c").arg(command).envs(identity_env(identity));
    // SAFETY: the closure only makes syscalls (async-signal-safe).
    unsafe {
        child.pre_exec(move || drop_privileges(uid, gid));
    }
    child.status()
}

/// What a process of `identity` finds in its environment: who it is and its home.
pub(crate) fn identity_env(identity: &Identity) -> Vec<(&'static str, std::ffi::OsString)> {
    let mut env = vec![
        ("USER", identity.name.clone().into()),
        ("LOGNAME", identity.name.clone().into()),
    ];
    if let Some(home) = &identity.home {
        env.push(("HOME", home.clone().into_os_string()));
    }
    env
}

/// Syscalls only: usable between fork and exec.
fn drop_privileges(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscalls on integers; the process is single-threaded here (set*id in a
    // threaded process would change only the calling thread).
    unsafe {
        // The pod's stdout and stderr (the supervisor's pipes, or a terminal) become its
        // owner's: its processes may open them again through /proc (an MPI rank joins its
        // pod's log so).
        for fd in [1, 2] {
            libc::fchown(fd, uid, gid);
        }
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setresgid(gid, gid, gid))?;
        check(libc::setresuid(uid, uid, uid))?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        // A change of identity makes the process undumpable: its /proc files would stay
        // root's, and the pod's own processes (an MPI rank joining its pod) could not open them.
        // Nothing privileged is left in it to protect.
        check(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0))?;
        libc::umask(0o077);
    }
    Ok(())
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn mount_tmpfs(dir: &Path, extra: libc::c_ulong) -> io::Result<()> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | extra;
    sys_mount(
        Some(Path::new("tmpfs")),
        dir,
        Some("tmpfs"),
        flags,
        Some("mode=0755,size=64k"),
    )
}

/// A `/dev/shm` of `mib` MiB of the pod's own (`ResourceConfig.SharedMemory`).
pub(crate) fn private_shm(mib: u64) -> io::Result<()> {
    let dir = Path::new("/dev/shm");
    std::fs::create_dir_all(dir).map_err(|e| context("create", dir, e))?;
    sys_mount(
        Some(Path::new("shm")),
        dir,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("mode=1777,size={mib}m")),
    )
    .map_err(|e| context("mount", dir, e))
}

fn context(what: &str, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("sandbox: failed to {what} {}: {e}", path.display()),
    )
}

pub(crate) fn sys_mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let c = |b: &[u8]| CString::new(b).map_err(io::Error::other);
    let source = source.map(|p| c(p.as_os_str().as_bytes())).transpose()?;
    let target = c(target.as_os_str().as_bytes())?;
    let fstype = fstype.map(|t| c(t.as_bytes())).transpose()?;
    let data = data.map(|d| c(d.as_bytes())).transpose()?;
    // SAFETY: NUL-terminated strings that outlive the call, or null.
    let rc = unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr().cast::<libc::c_void>()),
        )
    };
    check(rc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cover_stays_writable_only_while_a_mount_point_is_to_be_made_in_it() {
        let binary = Path::new("/root/.cargo/bin/opendlc");
        let job = Path::new("/srv/opendlc/jobs/dlc1");
        let targets = [binary, job];
        assert!(holds_mount_points(Path::new("/root"), &targets));
        assert!(holds_mount_points(Path::new("/srv/opendlc"), &targets));
        // Nothing is bound inside: read-only from the start.
        assert!(!holds_mount_points(Path::new("/home"), &targets));
        // A sibling whose name merely begins the same is not a parent.
        assert!(!holds_mount_points(Path::new("/ro"), &targets));
        // A bind over the cover itself makes no mount point in it.
        assert!(!holds_mount_points(job, &targets));
    }
}
