//! `opendlc run-mounted --mounts FILE COMMAND`: runs a pod's command with the job's
//! DataSources and CodeSource at their MountPaths. As root, in a private mount namespace of the
//! pod's own (bind mounts, read-only where asked), so that nobody else on the host sees them
//! and they vanish with the pod; the empty directories made for the mount points stay. Where
//! a private namespace cannot be had (not root), each MountPath that does not exist yet becomes
//! a symbolic link to its source instead, left in place (read-only is then not enforced).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// One mount, as the engine writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// Returns only if the command could not be run (the exit code to use).
pub fn main(mounts_file: &Path, command: &str) -> i32 {
    let mounts: Vec<Mount> = match std::fs::read(mounts_file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(mounts) => mounts,
        Err(e) => {
            eprintln!("opendlc: failed to read {}: {e}", mounts_file.display());
            return 1;
        }
    };
    if let Err(e) = mount_all(&mounts) {
        eprintln!("opendlc: {e}");
        return 1;
    }
    let error = Command::new("/bin/sh").arg("-c").arg(command).exec();
    eprintln!("opendlc: failed to run /bin/sh: {error}");
    127
}

fn mount_all(mounts: &[Mount]) -> Result<(), String> {
    for m in mounts {
        if !m.source.exists() {
            return Err(format!(
                "cannot mount {} at {}: it does not exist",
                m.source.display(),
                m.target.display()
            ));
        }
    }
    match private_namespace() {
        Ok(()) => mounts.iter().try_for_each(bind),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            eprintln!(
                "opendlc: no private mount namespace without root; linking the MountPaths instead"
            );
            mounts.iter().try_for_each(link)
        }
        Err(e) => Err(format!("failed to make a private mount namespace: {e}")),
    }
}

/// A mount namespace of our own whose mounts do not propagate back to the host.
fn private_namespace() -> io::Result<()> {
    // SAFETY: plain syscalls; the process is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    sys_mount(None, Path::new("/"), libc::MS_REC | libc::MS_PRIVATE)
}

fn bind(m: &Mount) -> Result<(), String> {
    let what = |e: io::Error| {
        format!(
            "failed to mount {} at {}: {e}",
            m.source.display(),
            m.target.display()
        )
    };
    if m.source.is_dir() {
        std::fs::create_dir_all(&m.target).map_err(what)?;
    } else {
        if let Some(parent) = m.target.parent() {
            std::fs::create_dir_all(parent).map_err(what)?;
        }
        if !m.target.exists() {
            std::fs::File::create(&m.target).map_err(what)?;
        }
    }
    sys_mount(Some(&m.source), &m.target, libc::MS_BIND | libc::MS_REC).map_err(what)?;
    if m.read_only {
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        sys_mount(None, &m.target, flags).map_err(what)?;
    }
    Ok(())
}

fn link(m: &Mount) -> Result<(), String> {
    if m.target.symlink_metadata().is_ok() {
        return Err(format!(
            "cannot mount {} at {}: it exists, and without root there is no private mount",
            m.source.display(),
            m.target.display()
        ));
    }
    if let Some(parent) = m.target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("failed to create {}: {e}", parent.display()))?;
    }
    std::os::unix::fs::symlink(&m.source, &m.target).map_err(|e| {
        format!(
            "failed to link {} to {}: {e}",
            m.target.display(),
            m.source.display()
        )
    })
}

fn sys_mount(source: Option<&Path>, target: &Path, flags: libc::c_ulong) -> io::Result<()> {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let source = source.map(c).transpose()?;
    let target = c(target)?;
    // SAFETY: NUL-terminated strings that outlive the call; no filesystem type or data.
    let rc = unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
