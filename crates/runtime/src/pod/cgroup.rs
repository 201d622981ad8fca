//! A pod's CPU and memory limits, through a cgroup of its own: the shim creates it, its command
//! joins it before it runs (so everything the command starts is inside), and the shim removes it
//! once the pod is over.
//!
//! Hosts differ: cgroup v2 with the `cpu` and `memory` controllers delegated, or cgroup v1 with
//! `cpu` and `memory` hierarchies (containers and older distributions), or neither writable.
//! The pod's cgroup goes under the shim's own (`…/opendlc/<pod_uid>`), so it stays inside
//! whatever limits the server itself runs under. Where none can be had, the pod runs without
//! limits and the reason is reported (the engine turns it into an event).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What a pod may use; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub cpu_milli: Option<u64>,
    pub memory_mib: Option<u64>,
}

/// The CFS period the CPU quota is a share of (the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;
/// The smallest quota the kernel takes.
const MIN_CPU_QUOTA_US: u64 = 1_000;
/// How long removing the cgroup may wait for its last processes to be gone.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);

/// A pod's cgroup: one directory (v2) or one per controller (v1).
#[derive(Debug)]
pub struct PodCgroup {
    version: Version,
    /// The directories the pod's processes join.
    dirs: Vec<PathBuf>,
    /// The open files ([`Version::join_file`]) the command writes to between fork and exec.
    procs: Vec<File>,
    limits: Limits,
    /// Taken over from an earlier pod ([`PodCgroup::claim`]) rather than made for this one.
    reused: bool,
}

/// The two steps in which a pod's command joins its cgroup ([`PodCgroup::join_steps`]).
#[derive(Debug, Default)]
pub struct JoinSteps {
    pub first: Vec<RawFd>,
    pub last: Vec<RawFd>,
}

/// Why a pod's cgroup could not be had. As the runtime's other errors, the message carries
/// the cause (so `to_string()` alone explains it); the pod's events show it after
/// "not enforced: ".
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    #[error("cannot create {}: {error}", path.display())]
    Create { path: PathBuf, error: io::Error },
    #[error("cannot open {}: {error}", path.display())]
    Open { path: PathBuf, error: io::Error },
    #[error("cannot write {value} to {}: {error}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        error: io::Error,
    },
    #[error("no writable cgroup v1 cpu and memory hierarchies and no cgroup v2")]
    NoHierarchy,
    #[error("no writable cgroup v1 cpu and memory hierarchies and no cgroup v2 mount")]
    NoV2Mount,
    #[error("this process's cgroup v2 is outside its mount")]
    OutsideMount,
    /// `controllers`: those the cgroup offers, "none" if none.
    #[error(
        "cgroup v2 at {} does not offer the cpu and memory controllers (it has: {controllers})",
        dir.display()
    )]
    MissingControllers { dir: PathBuf, controllers: String },
    #[error("cannot create cgroups under {}", dir.display())]
    NotWritable { dir: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    /// The file a new process writes "0" to, to join a cgroup. On v1, `tasks`: the command's
    /// process is single-threaded between fork and exec, so moving its one thread moves it
    /// whole, and a thread moving itself skips the kernel's lock on whole-process moves, whose
    /// RCU grace period (5-20 ms after a quiet spell, measured on Linux 6.18) every pod's
    /// start paid. v2 has only `cgroup.procs` for a domain cgroup.
    fn join_file(self) -> &'static str {
        match self {
            Self::V1 => "tasks",
            Self::V2 => "cgroup.procs",
        }
    }
}

impl PodCgroup {
    /// Creates the pod's cgroup with `limits` set; the error says why it could not be had.
    pub fn create(pod_uid: &str, limits: Limits) -> Result<PodCgroup, CgroupError> {
        let (version, parents) = parents()?;
        let dirs = pod_dirs(&parents, pod_uid);
        let mut cgroup = PodCgroup {
            version,
            dirs: Vec::new(),
            procs: Vec::new(),
            limits,
            reused: false,
        };
        if version == Version::V2 {
            enable_v2_controllers(&parents[0])?;
        }
        for dir in &dirs {
            fs::create_dir_all(dir).map_err(|error| CgroupError::Create {
                path: dir.clone(),
                error,
            })?;
            cgroup.dirs.push(dir.clone());
        }
        // From here on, a failure removes what was made (Drop is not enough: the caller gets
        // no cgroup to drop).
        if let Err(e) = cgroup.configure() {
            cgroup.remove();
            return Err(e);
        }
        Ok(cgroup)
    }

    /// The pod's cgroup made of the idle one named `slot` that an earlier pod of the same owner
    /// and with the same `limits` handed on ([`PodCgroup::hand_on`]; the shim launcher hands a
    /// slot on only so): renamed to the pod's own name, its limits as they are (its CPU quota
    /// written again, `configure`). Where there is no such cgroup (the slot is new, or was not
    /// handed on), or it cannot be taken, one is made as [`PodCgroup::create`] does.
    ///
    /// Making and removing a cgroup is most of what a short pod costs the kernel (for each
    /// controller: a directory of control files made and torn down, under locks every other
    /// pod's cgroup waits for); a rename is one name changed. Only cgroup v1 renames
    /// (`cgroup1_rename`); on v2 there are no slots ([`slots_supported`]).
    pub fn claim(slot: &str, pod_uid: &str, limits: Limits) -> Result<PodCgroup, CgroupError> {
        let (version, parents) = parents()?;
        if version == Version::V1 {
            let dirs = pod_dirs(&parents, pod_uid);
            let renamed = pod_dirs(&parents, slot)
                .iter()
                .zip(&dirs)
                .take_while(|(idle, own)| fs::rename(idle, own).is_ok())
                .count();
            if renamed == dirs.len() {
                let mut cgroup = PodCgroup {
                    version,
                    dirs,
                    procs: Vec::new(),
                    limits,
                    reused: true,
                };
                if cgroup.configure().is_ok() {
                    return Ok(cgroup);
                }
                // Its quota or a join file would not take: made anew below.
                cgroup.remove();
            } else {
                report(remove_dirs(&dirs[..renamed]));
            }
        }
        Self::create(pod_uid, limits)
    }

    /// Hands the cgroup on, as the idle `slot`, to a later pod of the same owner and limits:
    /// once nothing is left inside, it is renamed, its limits as they are. Where that cannot be
    /// done, it is removed.
    pub fn hand_on(mut self, slot: &str) {
        self.procs.clear();
        let dirs = std::mem::take(&mut self.dirs);
        let Ok((Version::V1, parents)) = parents() else {
            return report(remove_dirs(&dirs));
        };
        let empty = dirs.iter().all(|dir| {
            fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|procs| procs.is_empty())
        });
        if !empty {
            return report(remove_dirs(&dirs));
        }
        let idle = pod_dirs(&parents, slot);
        let renamed = dirs
            .iter()
            .zip(&idle)
            .take_while(|(own, idle)| fs::rename(own, idle).is_ok())
            .count();
        if renamed < dirs.len() {
            report(remove_dirs(&idle[..renamed]));
            report(remove_dirs(&dirs[renamed..]));
        }
    }

    /// The limits, and the descriptors to join. A cgroup handed on has its limits already
    /// ([`PodCgroup::claim`]): only its CPU quota is written again, though the same, since a
    /// write gives the period's budget back in full (a pod would otherwise start with what its
    /// predecessor left of it: most pods of 0.01 CPU under a flood then waited for the next
    /// period, measured). On v2 the CPU quota comes with [`PodCgroup::limit_cpu`], once the
    /// command runs.
    fn configure(&mut self) -> Result<(), CgroupError> {
        let memory = self.limits.memory_mib.map(|m| m * 1024 * 1024);
        match self.version {
            Version::V2 => {
                let dir = &self.dirs[0];
                if let Some(bytes) = memory {
                    write(&dir.join("memory.max"), &bytes.to_string())?;
                    // No swap: over the limit means killed, as in a container.
                    let _ = write(&dir.join("memory.swap.max"), "0");
                }
            }
            Version::V1 => {
                let memory_dir = &self.dirs[0];
                if let (Some(bytes), false) = (memory, self.reused) {
                    write(
                        &memory_dir.join("memory.limit_in_bytes"),
                        &bytes.to_string(),
                    )?;
                    let _ = write(&memory_dir.join("memory.swappiness"), "0");
                }
                // On v1 the quota is set with the rest: the pod's command joins the `cpu`
                // hierarchy only just before its exec ([`PodCgroup::join_steps`]), so its view
                // is made outside it. A new cgroup's period is the kernel's default,
                // `CPU_PERIOD_US`.
                if let Some(quota) = self.cpu_quota_us() {
                    write(&self.dirs[1].join("cpu.cfs_quota_us"), &quota.to_string())?;
                }
            }
        }
        for dir in &self.dirs {
            let path = dir.join(self.version.join_file());
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|error| CgroupError::Open {
                    path: path.clone(),
                    error,
                })?;
            self.procs.push(file);
        }
        Ok(())
    }

    /// The CPU quota in microseconds per [`CPU_PERIOD_US`], if the pod has one.
    fn cpu_quota_us(&self) -> Option<u64> {
        self.limits
            .cpu_milli
            .map(|m| (m * CPU_PERIOD_US / 1000).max(MIN_CPU_QUOTA_US))
    }

    /// On v2, the CPU quota, set once the pod's command runs: the pod's view, made in the
    /// command's process before it runs, is the platform's work, not the pod's to pay from its
    /// CPU (a pod of 0.01 CPU would wait a whole period of 100 ms for it). On v1 it is set
    /// already ([`PodCgroup::join_steps`] says why that is the same).
    pub fn limit_cpu(&self) -> Result<(), CgroupError> {
        match (self.version, self.cpu_quota_us()) {
            (Version::V2, Some(quota)) => write(
                &self.dirs[0].join("cpu.max"),
                &format!("{quota} {CPU_PERIOD_US}"),
            ),
            _ => Ok(()),
        }
    }

    /// The descriptors a new process writes "0" to, to join the whole cgroup at once (a
    /// process with nothing to do before it runs).
    pub fn procs_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// The descriptors the pod's command writes "0" to, in two steps: `first` as it starts,
    /// so that what it does before its exec (its view, its preparation) is within the pod's
    /// memory limit; `last` just before its exec, so that the CPU quota is the command's own.
    /// On v1, `first` is the memory hierarchy and `last` the cpu one; on v2 there is one cgroup,
    /// joined first, whose quota [`PodCgroup::limit_cpu`] sets once the command runs.
    pub fn join_steps(&self) -> JoinSteps {
        let fds = self.procs_fds();
        match self.version {
            Version::V1 => JoinSteps {
                first: fds[..1].to_vec(),
                last: fds[1..].to_vec(),
            },
            Version::V2 => JoinSteps {
                first: fds,
                last: Vec::new(),
            },
        }
    }

    /// What is enforced, for the pod's events: "CPU 1.5, memory 256 MiB (cgroup v1)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(milli) = self.limits.cpu_milli {
            parts.push(format!("CPU {}", milli as f64 / 1000.0));
        }
        if let Some(mib) = self.limits.memory_mib {
            parts.push(format!("memory {mib} MiB"));
        }
        let version = match self.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
        };
        format!("{} (cgroup {version})", parts.join(", "))
    }

    /// Whether the kernel killed a process of the pod for going over its memory limit.
    pub fn oom_killed(&self) -> bool {
        let (file, key) = match self.version {
            Version::V1 => (self.dirs[0].join("memory.oom_control"), "oom_kill"),
            Version::V2 => (self.dirs[0].join("memory.events"), "oom_kill"),
        };
        fs::read_to_string(file).is_ok_and(|text| {
            text.lines().any(|line| {
                line.strip_prefix(key)
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
            })
        })
    }

    /// Kills what is left inside and removes the cgroup.
    pub fn remove(&mut self) {
        self.procs.clear();
        report(remove_dirs(&std::mem::take(&mut self.dirs)));
    }

    /// Leaves the cgroup to the processes that joined it, for a process that outlives its
    /// starter (a TensorBoard outlives the server that started it); its directories, for
    /// [`remove_dirs`] once that process is over.
    pub fn detach(mut self) -> Vec<PathBuf> {
        self.procs.clear();
        std::mem::take(&mut self.dirs)
    }
}

/// Whether pods' cgroups can be handed on from pod to pod here ([`PodCgroup::claim`]): cgroup
/// v1, writable.
pub fn slots_supported() -> bool {
    matches!(parents(), Ok((Version::V1, _)))
}

/// Removes the idle cgroups whose names start with `prefix`: a launcher's own as it exits, every
/// launcher's as one starts. They hold no process, so nothing is killed: one a pod took
/// meanwhile has its name already, and one a process joined is not removed.
pub fn remove_idle(prefix: &str) {
    let Ok((Version::V1, parents)) = parents() else {
        return;
    };
    for parent in &parents {
        let Ok(entries) = fs::read_dir(parent.join("opendlc")) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(prefix.as_bytes())
            {
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
}

/// The idle cgroup `slot` removed (a launcher trimming what it holds).
pub fn remove_slot(slot: &str) {
    if let Ok((Version::V1, parents)) = parents() {
        for dir in pod_dirs(&parents, slot) {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn report(removed: Result<(), String>) {
    if let Err(e) = removed {
        eprintln!("opendlc shim: {e}");
    }
}

/// Where pods' cgroups are made, as [`learn_parents`] found it.
static LEARNT_PARENTS: OnceLock<(Version, Vec<PathBuf>)> = OnceLock::new();

/// Finds where pods' cgroups are made once, for every process this one forks: the shim
/// launcher calls it, and each shim it forks then skips reading and parsing /proc's cgroup and
/// mount tables (they are the launcher's: a forked shim stays in its cgroup).
pub fn learn_parents() {
    if let Ok(parents) = find_parents() {
        let _ = LEARNT_PARENTS.set(parents);
    }
}

/// The cgroups a pod's processes join are made under (one per controller on v1): below this
/// process's own, as the shim, a child of the server or of its launcher, finds them too.
fn parents() -> Result<(Version, Vec<PathBuf>), CgroupError> {
    match LEARNT_PARENTS.get() {
        Some(learnt) => Ok(learnt.clone()),
        None => find_parents(),
    }
}

fn find_parents() -> Result<(Version, Vec<PathBuf>), CgroupError> {
    let read = |path: &str| {
        fs::read_to_string(path).map_err(|error| CgroupError::Read {
            path: path.into(),
            error,
        })
    };
    let own = read("/proc/self/cgroup")?;
    let mountinfo = read("/proc/self/mountinfo")?;
    let mounts = parse_mounts(&mountinfo);
    let v1_memory = v1_dir(&own, &mounts, "memory");
    let v1_cpu = v1_dir(&own, &mounts, "cpu");
    Ok(match (v1_memory, v1_cpu) {
        (Some(memory), Some(cpu)) => (Version::V1, vec![memory, cpu]),
        _ => (Version::V2, vec![v2_dir(&own, &mounts)?]),
    })
}

/// The cgroup every shim runs in, beside the pods' own under `…/opendlc`.
const SHIMS_GROUP: &str = "shims";

/// Moves this process (the shim launcher, before it forks any shim) into `…/opendlc/shims`
/// (on v1 in the cpu hierarchy only), so that the pod side of the host — every shim and the
/// pods' own cgroups — is one peer of the server's threads in the CPU scheduler: the server's
/// raised priority counts per thread, and against hundreds of shims starting and ending at
/// once it counted for little (a GetJob polled while 10,000 jobs ran waited 20-30 ms at p99).
/// Returns whether it moved; `Ok(false)` where this host gives pods no cgroups at all.
pub fn join_shims_group() -> Result<bool, CgroupError> {
    let Ok((version, parents)) = parents() else {
        return Ok(false);
    };
    let parent = match version {
        // `find_parents` gives v1's hierarchies as [memory, cpu].
        Version::V1 => parents.get(1),
        Version::V2 => {
            enable_v2_controllers(&parents[0])?;
            parents.first()
        }
    };
    let Some(parent) = parent else {
        return Ok(false);
    };
    let dir = parent.join("opendlc").join(SHIMS_GROUP);
    fs::create_dir_all(&dir).map_err(|error| CgroupError::Create {
        path: dir.clone(),
        error,
    })?;
    write(&dir.join("cgroup.procs"), "0")?;
    Ok(true)
}

/// A pod's cgroup directories under `parents`.
fn pod_dirs(parents: &[PathBuf], pod_uid: &str) -> Vec<PathBuf> {
    parents
        .iter()
        .map(|p| p.join("opendlc").join(pod_uid))
        .collect()
}

/// Removes what a pod's shim left of its cgroup: all of it when the shim was killed, or a
/// directory the kernel still held busy when the shim gave up on it (rare, under load). The
/// pod's directories where this process's children make them, and anything still inside,
/// waiting up to `patience`. Worked out here, never read from the pod's directory, which the
/// pod may write to.
pub fn remove_left_by(pod_uid: &str, patience: Duration) -> Result<(), String> {
    remove_dirs_within(&left_by(pod_uid), patience)
}

/// The directories of a pod's cgroup that are still there (none, once its shim removed them).
pub fn left_by(pod_uid: &str) -> Vec<PathBuf> {
    let Ok((_, parents)) = parents() else {
        return Vec::new();
    };
    let mut dirs = pod_dirs(&parents, pod_uid);
    dirs.retain(|dir| dir.is_dir());
    dirs
}

/// Removes the cgroup directories `dirs` (one cgroup's), killing what is left inside.
pub fn remove_dirs(dirs: &[PathBuf]) -> Result<(), String> {
    remove_dirs_within(dirs, REMOVE_TIMEOUT)
}

/// [`remove_dirs`], waiting up to `patience` for the kernel to let them go.
pub fn remove_dirs_within(dirs: &[PathBuf], patience: Duration) -> Result<(), String> {
    let deadline = Instant::now() + patience;
    for dir in dirs {
        loop {
            match fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(_) if Instant::now() < deadline => {
                    kill_all(dir);
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("failed to remove {}: {e}", dir.display())),
            }
        }
    }
    Ok(())
}

impl Drop for PodCgroup {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Joins the cgroups whose join files ([`PodCgroup::procs_fds`]) are `fds`: called in the child
/// between fork and exec, so only async-signal-safe calls.
pub fn join(fds: &[RawFd]) -> io::Result<()> {
    for &fd in fds {
        // "0" is the writing process.
        // SAFETY: write(2) on a descriptor we own, from a static buffer.
        let written = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
        if written < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|error| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        error,
    })
}

fn kill_all(dir: &Path) {
    let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A cgroup file system mount: where it is, which part of the hierarchy it shows, and its
/// controllers (v1) or none (v2).
#[derive(Debug, PartialEq)]
struct Mount {
    root: String,
    point: PathBuf,
    v2: bool,
    controllers: Vec<String>,
}

fn parse_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            // id parent major:minor root mount-point options [optional…] - fstype source super
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let fstype = *right.first()?;
            let (root, point) = (fields.get(3)?, fields.get(4)?);
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let controllers = right
                .get(2)
                .map(|s| s.split(',').map(String::from).collect())
                .unwrap_or_default();
            Some(Mount {
                root: unescape(root),
                point: PathBuf::from(unescape(point)),
                v2,
                controllers,
            })
        })
        .collect()
}

/// mountinfo escapes spaces and a few others as octal: `\040`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The directory of this process's cgroup in the v1 hierarchy of `controller`, if mounted.
fn v1_dir(own: &str, mounts: &[Mount], controller: &str) -> Option<PathBuf> {
    let path = own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.to_string())
    })?;
    let mount = mounts
        .iter()
        .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))?;
    let dir = under(mount, &path)?;
    writable(&dir).then_some(dir)
}

/// The directory of this process's cgroup in the v2 hierarchy, if it can have children with
/// the cpu and memory controllers.
fn v2_dir(own: &str, mounts: &[Mount]) -> Result<PathBuf, CgroupError> {
    let path = own
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or(CgroupError::NoHierarchy)?;
    let mount = mounts.iter().find(|m| m.v2).ok_or(CgroupError::NoV2Mount)?;
    let dir = under(mount, path).ok_or(CgroupError::OutsideMount)?;
    let controllers = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if !(has("cpu") && has("memory")) {
        let controllers = match controllers.trim() {
            "" => "none",
            some => some,
        };
        return Err(CgroupError::MissingControllers {
            dir,
            controllers: controllers.to_string(),
        });
    }
    if !writable(&dir) {
        return Err(CgroupError::NotWritable { dir });
    }
    Ok(dir)
}

/// Delegates cpu and memory to `parent/opendlc`'s children. cgroup v2 allows controllers in a
/// cgroup's children only when it has no processes of its own: `opendlc` never does.
fn enable_v2_controllers(parent: &Path) -> Result<(), CgroupError> {
    let base = parent.join("opendlc");
    fs::create_dir_all(&base).map_err(|error| CgroupError::Create {
        path: base.clone(),
        error,
    })?;
    for dir in [parent, base.as_path()] {
        let control = dir.join("cgroup.subtree_control");
        let enabled = fs::read_to_string(&control).unwrap_or_default();
        if ["cpu", "memory"]
            .iter()
            .all(|c| enabled.split_whitespace().any(|x| x == *c))
        {
            continue;
        }
        write(&control, "+cpu +memory")?;
    }
    Ok(())
}

fn under(mount: &Mount, path: &str) -> Option<PathBuf> {
    let relative = path.strip_prefix(mount.root.trim_end_matches('/'))?;
    if !(relative.is_empty() || relative.starts_with('/')) {
        return None;
    }
    Some(mount.point.join(relative.trim_start_matches('/')))
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_shim_left_of_its_pods_cgroup_is_swept_away() {
        let Ok((version, parents)) = find_parents() else {
            eprintln!("skipping: this host gives pods no cgroups");
            return;
        };
        if version == Version::V2 && enable_v2_controllers(&parents[0]).is_err() {
            eprintln!("skipping: no cgroup v2 controllers to delegate");
            return;
        }
        // Named for this run: a cgroup is host-wide.
        let pod_uid = format!("sweep-{}", std::process::id());
        let dirs = pod_dirs(&parents, &pod_uid);
        for dir in &dirs {
            fs::create_dir_all(dir).unwrap();
        }
        remove_left_by(&pod_uid, Duration::from_secs(2)).unwrap();
        for dir in &dirs {
            assert!(!dir.exists(), "{} is left", dir.display());
        }
        // Nothing left: nothing to do.
        remove_left_by(&pod_uid, Duration::from_secs(2)).unwrap();
    }

    #[test]
    fn a_pods_cgroup_is_handed_on_to_the_next_pod_as_it_was_made() {
        let Ok((Version::V1, parents)) = find_parents() else {
            eprintln!("skipping: cgroups are handed on on cgroup v1 only");
            return;
        };
        let _ = LEARNT_PARENTS.set((Version::V1, parents.clone()));
        // Named for this run: a cgroup is host-wide.
        let run = std::process::id();
        let (slot, first, second) = (
            format!("idle-test-{run}"),
            format!("first-{run}"),
            format!("second-{run}"),
        );
        let limited = Limits {
            cpu_milli: Some(500),
            memory_mib: Some(64),
        };
        let read = |dir: &Path, file: &str| fs::read_to_string(dir.join(file)).unwrap();
        let limits_of = |dirs: &[PathBuf]| {
            (
                read(&dirs[0], "memory.limit_in_bytes").trim().to_string(),
                read(&dirs[1], "cpu.cfs_quota_us").trim().to_string(),
            )
        };
        let set = ((64u64 << 20).to_string(), "50000".to_string());
        // A new slot: the pod's cgroup is made, under its own name, its limits set at once.
        let cgroup = PodCgroup::claim(&slot, &first, limited).unwrap();
        assert!(!cgroup.reused);
        assert_eq!(limits_of(&cgroup.dirs), set);
        let steps = cgroup.join_steps();
        assert_eq!(
            (steps.first.len(), steps.last.len()),
            (1, 1),
            "memory first, cpu last"
        );
        cgroup.hand_on(&slot);
        let idle = pod_dirs(&parents, &slot);
        assert!(pod_dirs(&parents, &first).iter().all(|dir| !dir.exists()));
        assert!(
            idle.iter().all(|dir| dir.is_dir()),
            "handed on under its slot"
        );
        assert_eq!(limits_of(&idle), set, "handed on with its limits");

        // The next pod with the same limits takes it as it is.
        let cgroup = PodCgroup::claim(&slot, &second, limited).unwrap();
        assert!(cgroup.reused);
        let own = pod_dirs(&parents, &second);
        assert!(idle.iter().all(|dir| !dir.exists()) && own.iter().all(|dir| dir.is_dir()));
        assert_eq!(limits_of(&own), set);

        // A process left inside: removed, not handed on.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        fs::write(own[1].join("cgroup.procs"), sleeper.id().to_string()).unwrap();
        cgroup.hand_on(&slot);
        let _ = sleeper.wait();
        assert!(idle.iter().chain(&own).all(|dir| !dir.exists()));

        // A slot whose cgroup is gone: made anew.
        let cgroup = PodCgroup::claim(&slot, &first, limited).unwrap();
        assert!(!cgroup.reused);
        drop(cgroup);
        assert!(pod_dirs(&parents, &first).iter().all(|dir| !dir.exists()));
    }

    #[test]
    fn errors_say_what_failed_and_why() {
        let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
        let write = CgroupError::Write {
            path: "/sys/fs/cgroup/opendlc/p/cpu.max".into(),
            value: "50000 100000".into(),
            error: denied(),
        };
        assert_eq!(
            write.to_string(),
            format!(
                "cannot write 50000 100000 to /sys/fs/cgroup/opendlc/p/cpu.max: {}",
                denied()
            )
        );
        let missing = CgroupError::MissingControllers {
            dir: "/sys/fs/cgroup/user.slice".into(),
            controllers: "none".into(),
        };
        assert_eq!(
            missing.to_string(),
            "cgroup v2 at /sys/fs/cgroup/user.slice does not offer the cpu and memory \
             controllers (it has: none)"
        );
    }

    const MOUNTINFO: &str = "\
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory
34 30 0:30 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
40 25 0:40 / /mnt/with\\040space rw - ext4 /dev/sda1 rw
";

    #[test]
    fn mounts_are_the_cgroup_ones_with_their_controllers() {
        let mounts = parse_mounts(MOUNTINFO);
        assert_eq!(mounts.len(), 3);
        assert!(mounts[0].v2 && mounts[0].point == Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(mounts[2].root, "/docker/abc");
        assert!(mounts[2].controllers.contains(&"cpu".to_string()));
        assert_eq!(unescape("/mnt/with\\040space"), "/mnt/with space");
    }

    #[test]
    fn a_cgroup_path_maps_into_its_mount() {
        let mounts = parse_mounts(MOUNTINFO);
        assert_eq!(
            under(&mounts[1], "/process_api/x"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/x"))
        );
        // A container sees its own cgroup as the mount's root.
        assert_eq!(
            under(&mounts[2], "/docker/abc/pod"),
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/pod"))
        );
        assert_eq!(under(&mounts[2], "/elsewhere"), None);
    }

    #[test]
    fn describe_says_what_is_enforced() {
        let cgroup = PodCgroup {
            version: Version::V1,
            dirs: Vec::new(),
            procs: Vec::new(),
            limits: Limits {
                cpu_milli: Some(1500),
                memory_mib: Some(256),
            },
            reused: false,
        };
        assert_eq!(cgroup.describe(), "CPU 1.5, memory 256 MiB (cgroup v1)");
    }
}
