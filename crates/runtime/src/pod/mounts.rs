//! `opendlc run-mounted --mounts FILE COMMAND`: runs a pod's command with the job's
//! DataSources and CodeSource at their MountPaths and, when the file has one, in the pod's
//! [sandbox] as its owner's identity. As root, in a private mount namespace
//! of the pod's own (bind mounts, read-only where asked), so that nobody else on the host sees
//! them and they vanish with the pod; the empty directories made for the mount points stay.
//! Where a private namespace cannot be had (not root), each MountPath that does not exist yet
//! becomes a symbolic link to its source instead, left in place (read-only is then not
//! enforced); a sandbox cannot be had at all then, and the pod fails saying so.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::pod::sandbox::{self, Sandbox};

/// One mount, as the engine writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// What `run-mounted` reads: the job's mounts and the pod's sandbox, if it has one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MountSpec {
    pub mounts: Vec<Mount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<Sandbox>,
    /// With a sandbox: the job's preparation (`opendlc prepare-env …`, for `/bin/sh -c`), run as
    /// the pod's owner in its view before the mounts are made (it checks out the code the
    /// CodeSource's mount shows); a failure ends the pod with its exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepare: Option<String>,
}

/// Returns only if the command could not be run (the exit code to use).
pub fn main(mounts_file: &Path, command: &str) -> i32 {
    crate::priority::reset_this_thread();
    let spec = match read(mounts_file) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("opendlc: {e}");
            return 1;
        }
    };
    if let Err(code) = enter(&spec) {
        return code;
    }
    let error = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .envs(spec.identity_env())
        .exec();
    eprintln!("opendlc: failed to run /bin/sh: {error}");
    127
}

/// A pod's mounts file, or its spec.json holding its view (`PodSpec::view`: where the shim
/// makes the view, which a web terminal enters too).
pub fn read(mounts_file: &Path) -> Result<MountSpec, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        Mounts(MountSpec),
        Pod(Box<crate::pod_files::PodSpec>),
    }
    std::fs::read(mounts_file)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            match serde_json::from_slice(&b) {
                Ok(File::Mounts(spec)) => Some(spec),
                Ok(File::Pod(pod)) => pod.view,
                Err(_) => None,
            }
            .ok_or_else(|| "neither mounts nor a pod's view".to_string())
        })
        .map_err(|e| format!("failed to read {}: {e}", mounts_file.display()))
}

impl MountSpec {
    /// What the command finds in its environment once it runs as the pod's owner (none
    /// without a sandbox).
    pub fn identity_env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        self.sandbox
            .as_ref()
            .map(|s| sandbox::identity_env(&s.identity))
            .unwrap_or_default()
    }
}

/// Makes this process's view as `spec` says (its sandbox, its preparation, its mounts), then
/// takes the pod's identity ([`MountSpec::identity_env`] is for the command to run next). On
/// failure the reason is on stderr and the error is the exit code to end with. The shim calls
/// it in the pod's command process between fork and exec (the shim has one thread then, so
/// the copy may allocate; it must not change the environment, which std has prepared).
pub fn enter(spec: &MountSpec) -> Result<(), i32> {
    let entered = match &spec.sandbox {
        Some(sandbox) => enter_sandbox(sandbox, &spec.mounts, spec.prepare.as_deref()),
        None => mount_all(&spec.mounts).map_err(Entering::Failed),
    };
    match entered {
        Ok(()) => Ok(()),
        Err(Entering::Failed(e)) => {
            eprintln!("opendlc: {e}");
            Err(1)
        }
        Err(Entering::PrepareFailed(code)) => Err(code),
    }
}

enum Entering {
    Failed(String),
    /// The preparation ended with this exit code.
    PrepareFailed(i32),
}

/// The pod's view (its sandbox, its preparation, its mounts), then its identity.
fn enter_sandbox(
    sandbox: &Sandbox,
    mounts: &[Mount],
    prepare: Option<&str>,
) -> Result<(), Entering> {
    let failed = Entering::Failed;
    // The working directory, to enter again once the view is made (the path may lead
    // through a bind mount that replaced what the process stands in).
    let cwd = std::env::current_dir().ok();
    // The handles are taken in the pod's namespace (a bind needs its source there), before
    // anything is covered.
    private_namespace().map_err(|e| {
        failed(format!(
            "the pod's sandbox needs a private mount namespace (root): {e}"
        ))
    })?;
    let mut grants = Vec::new();
    for grant in &sandbox.grants {
        match sandbox::hold(&grant.path, &grant.path, grant.read_only) {
            Ok(h) => grants.push(h),
            // A grant that does not exist on this host (an optional install) is left out.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(format!("sandbox: {e}"))),
        }
    }
    // Sources that exist now (a dataset, maybe in a hidden directory); the code checkout is
    // made by the preparation, in the job's directory, which the view shows.
    let early: Vec<_> = mounts
        .iter()
        .map(|m| sandbox::hold(&m.source, &m.target, m.read_only).ok())
        .collect();
    let hosts = match &sandbox.hosts {
        Some(file) => Some(
            sandbox::hold(file, Path::new("/etc/hosts"), true)
                .map_err(|e| failed(format!("sandbox: the job's hosts file: {e}")))?,
        ),
        None => None,
    };
    let targets: Vec<&Path> = mounts.iter().map(|m| m.target.as_path()).collect();
    let covered = sandbox::cover(sandbox, &grants, &targets).map_err(|e| failed(e.to_string()))?;
    drop(grants);
    if let Some(hosts) = hosts {
        sandbox::bind_held(&hosts).map_err(|e| failed(e.to_string()))?;
    }
    if let Some(mib) = sandbox.shm_mib {
        sandbox::private_shm(mib).map_err(|e| failed(format!("sandbox: {e}")))?;
    }
    if let Some(prepare) = prepare {
        let status = sandbox::run_as(&sandbox.identity, prepare)
            .map_err(|e| failed(format!("failed to run the preparation: {e}")))?;
        if !status.success() {
            let code = status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            return Err(Entering::PrepareFailed(code));
        }
    }
    for (m, held) in mounts.iter().zip(early) {
        let held = match held {
            Some(held) => held,
            None => sandbox::hold(&m.source, &m.target, m.read_only).map_err(|_| {
                failed(format!(
                    "cannot mount {} at {}: it does not exist",
                    m.source.display(),
                    m.target.display()
                ))
            })?,
        };
        sandbox::bind_held(&held).map_err(|e| failed(e.to_string()))?;
    }
    sandbox::seal(&covered).map_err(|e| failed(e.to_string()))?;
    sandbox::become_identity(&sandbox.identity).map_err(|e| {
        failed(format!(
            "sandbox: failed to become uid {}: {e}",
            sandbox.identity.uid
        ))
    })?;
    if let Some(cwd) = cwd {
        std::env::set_current_dir(&cwd)
            .map_err(|e| failed(format!("sandbox: cannot enter {}: {e}", cwd.display())))?;
    }
    Ok(())
}

fn check_sources(mounts: &[Mount]) -> Result<(), String> {
    for m in mounts {
        if !m.source.exists() {
            return Err(format!(
                "cannot mount {} at {}: it does not exist",
                m.source.display(),
                m.target.display()
            ));
        }
    }
    Ok(())
}

fn mount_all(mounts: &[Mount]) -> Result<(), String> {
    check_sources(mounts)?;
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

/// A mount namespace of our own whose mounts do not propagate back to the host. A process that
/// is not root gets it inside a user namespace of its own, where its identity maps to itself
/// (what it writes stays its own; files of identities outside it show as `nobody`), where
/// the kernel allows unprivileged user namespaces.
fn private_namespace() -> io::Result<()> {
    // SAFETY: plain syscalls; the process is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: as above.
        if e.raw_os_error() != Some(libc::EPERM) || unsafe { libc::geteuid() } == 0 {
            return Err(e);
        }
        own_user_namespace().map_err(|user| {
            io::Error::new(
                e.kind(),
                format!("{e}, and no user namespace of its own: {user}"),
            )
        })?;
        // SAFETY: as above.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    sys_mount(None, Path::new("/"), libc::MS_REC | libc::MS_PRIVATE)
}

/// A user namespace of our own, our identity mapped to itself (no other), in which we may
/// make a mount namespace. Supplementary groups stay (the kernel checks them as before) but
/// cannot be changed.
fn own_user_namespace() -> io::Result<()> {
    // SAFETY: plain syscalls; the process is single-threaded here.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: as above.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

/// Whether a process of this one's may make a private mount namespace (as root, or inside a
/// user namespace of its own), tried once in a child; the error says why not.
pub fn can_have_own_view() -> Result<(), String> {
    let mut probe = Command::new("/bin/sh");
    probe
        .args(["-c", "exit 0"])
        .stdin(std::process::Stdio::null());
    // SAFETY: plain syscalls and writes to /proc in a child that has one thread.
    unsafe {
        probe.pre_exec(private_namespace);
    }
    match probe.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("the probe {status}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The command's own `/etc/hosts`: `file` bound over it, read-only, in a private mount
/// namespace (in a user namespace of its own where it is not root). Where that cannot be had,
/// the pod's stderr says so and the command runs with the host's names.
pub fn bind_hosts(file: &Path) {
    let hosts = Mount {
        source: file.to_path_buf(),
        target: "/etc/hosts".into(),
        read_only: true,
    };
    let bound = private_namespace()
        .map_err(|e| e.to_string())
        .and_then(|()| bind(&hosts));
    if let Err(e) = bound {
        eprintln!("opendlc: the names of the job's pods do not resolve in this pod: {e}");
    }
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
    sandbox::sys_mount(source, target, None, flags, None)
}

/// A view with one mount, written as a mounts file in `dir`: the view and the file.
#[cfg(test)]
pub(crate) fn view_in_mounts_file(dir: &Path) -> (MountSpec, PathBuf) {
    let view = MountSpec {
        mounts: vec![Mount {
            source: "/data".into(),
            target: "/mnt".into(),
            read_only: true,
        }],
        ..Default::default()
    };
    let mounts = dir.join("mounts.json");
    std::fs::write(&mounts, serde_json::to_vec(&view).unwrap()).unwrap();
    (view, mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_read_from_a_mounts_file_or_a_pods_spec() {
        let dir = tempfile::tempdir().unwrap();
        let (view, mounts) = view_in_mounts_file(dir.path());
        assert_eq!(read(&mounts), Ok(view.clone()));
        let spec = dir.path().join("spec.json");
        let pod = serde_json::json!({
            "pod_id": "p", "pod_uid": "u", "command": "true", "view": view,
            "workdir": "/w", "env": {}, "grace_period_ms": 1000,
        });
        std::fs::write(&spec, pod.to_string()).unwrap();
        assert_eq!(read(&spec), Ok(view));
        let viewless = serde_json::json!({
            "pod_id": "p", "pod_uid": "u", "command": "true",
            "workdir": "/w", "env": {}, "grace_period_ms": 1000,
        });
        std::fs::write(&spec, viewless.to_string()).unwrap();
        let error = read(&spec).unwrap_err();
        assert!(error.contains("neither mounts nor a pod's view"), "{error}");
    }
}
