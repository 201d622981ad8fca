//! Who a job's pods run as and what they see of the host (`opendlc_runtime::pod::sandbox`).
//!
//! With isolation on (a server running as root, on the local runtime), every pod of a job runs
//! as its owner's Unix identity: uid = gid = `uid_base` + the owner's UserId (opendlc users are
//! numbered), so two users' pods never share a uid, and none is the server's. The job's
//! directory, its working directory and a home of its own (`<job>/home`) belong to that uid
//! (0700); the pods' records (spec, log, exit) stay the server's. In the pod's view the server's
//! data directory, the shared job directory and the users' homes are covered; the job's own
//! directory, the opendlc binary and the paths an administrator declared readable
//! (`--pod-readable`: framework installs) are bound back. A pod with an image prepares its
//! environment in that view and runs in its container as the same identity, without
//! capabilities (`runtime::local::container`).
//!
//! On Slurm ([`Confinement::Account`]) the server cannot give pods a view of their own: Slurm
//! runs each job as the Unix account it was submitted for (`sbatch --uid`), so the owner's
//! identity must be an account every node knows. An identity an administrator mapped is used
//! as it is; otherwise the server makes a system account for the range uid on its own host
//! (`opendlc-<UserId>`, no home, no login shell). File modes keep users apart there: job
//! directories are their owners' (0700), the data directory's files the server's (0600).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opendlc_core::env_value::EnvValue;
use opendlc_core::Job;
use opendlc_runtime::contract::{Grant, Identity, Sandbox};
use opendlc_store::Store;

use super::accounts;
use super::apply::Engine;

/// Where pods' uids start by default: far above the uids of people and system services and of
/// the usual subordinate-uid ranges of rootless containers (100000 + 65536 per user).
pub const DEFAULT_UID_BASE: u32 = 900_000_000;

/// Directories no pod sees, besides the server's own: the users' homes.
const HIDDEN_HOMES: &[&str] = &["/root", "/home"];

#[derive(Debug, Clone, PartialEq)]
pub struct Isolation {
    pub confinement: Confinement,
    pub uid_base: u32,
    /// The server's data directory and, where job files live elsewhere, theirs.
    pub server_dirs: Vec<PathBuf>,
    /// Paths pods may read although they are in a hidden directory.
    pub readable: Vec<PathBuf>,
}

/// How pods are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    /// The local runtime: each pod in a private view of the host, as its owner's uid.
    Sandbox,
    /// A cluster scheduler runs each job as its owner's account; file modes do the rest.
    Account,
}

impl Isolation {
    /// The identity of the pods of user `user_id`.
    pub fn uid_of(&self, user_id: &str) -> u32 {
        // UserIds are numbers given by the server; anything else maps into the same range.
        let n = user_id.parse::<u32>().unwrap_or_else(|_| {
            user_id.bytes().fold(2_166_136_261u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(16_777_619)
            }) % 10_000_000
        });
        self.uid_base.saturating_add(n)
    }

    /// The Unix identity (uid, gid) of user `user_id`'s processes: the one an administrator
    /// set (`opendlc admin user set`), else the range's.
    pub fn identity_of(&self, store: &Store, user_id: &str) -> (u32, u32) {
        match store.unix_identity(user_id) {
            Ok(Some(identity)) => identity,
            Ok(None) => (self.uid_of(user_id), self.uid_of(user_id)),
            Err(e) => {
                tracing::error!(user.id = %user_id, "failed to read the user's identity: {e}");
                let uid = self.uid_of(user_id);
                (uid, uid)
            }
        }
    }

    /// A view for a process of user `user_id` on this host: the server's directories and the
    /// homes covered, `grants` and the readable installs bound back, as that user.
    pub fn sandbox(
        &self,
        store: &Store,
        user_id: &str,
        home: Option<PathBuf>,
        grants: Vec<Grant>,
    ) -> Sandbox {
        let (uid, gid) = self.identity_of(store, user_id);
        let mut hide = self.server_dirs.clone();
        hide.extend(HIDDEN_HOMES.iter().map(PathBuf::from));
        let mut grants = grants;
        grants.extend(self.readable.iter().cloned().map(|path| Grant {
            path,
            read_only: true,
        }));
        Sandbox {
            identity: Identity {
                uid,
                gid,
                name: account_name(user_id),
                home,
            },
            hide,
            grants,
            hosts: None,
            shm_mib: None,
        }
    }
}

impl Engine {
    /// The sandbox of `job`'s pods that run on the host (`None` without isolation), once per
    /// launch: makes the job's directories its owner's. Each pod's is [`pod_sandbox`].
    pub(super) fn job_sandbox(&self, job: &Job, host_names: &[String]) -> Option<Sandbox> {
        let isolation = self.isolation.as_ref()?;
        let (uid, gid) = isolation.identity_of(&self.store, &job.user_id);
        let name = account_name(&job.user_id);
        if isolation.confinement == Confinement::Account {
            if let Err(e) = accounts::ensure(uid, gid, &name) {
                // Its pods are refused by the scheduler then, which says so.
                tracing::error!(job.id = %job.job_id, "no account for uid {uid}: {e}");
            }
        }
        let job_dir = self.jobs_dir.job(&job.job_id);
        // The pods start in their home, as in a container whose working directory is its
        // user's home (and one directory fewer to make for every job).
        let home = self.jobs_dir.work(&job.job_id);
        // Where its pods prepare the job's environment (code checkout, venv), if they do.
        let env = super::prepare::uses_env_dir(job).then(|| self.env_dir(&job.job_id));
        for dir in [Some(job_dir.clone()), Some(home.clone()), env]
            .into_iter()
            .flatten()
        {
            if let Err(e) = own(&dir, uid, gid) {
                tracing::error!(job.id = %job.job_id, "failed to give {} to uid {uid}: {e}", dir.display());
            }
        }
        // Framework directories written by the server before the pods start (MPI, Ray).
        for dir in ["mpi", "ray"]
            .map(|d| job_dir.join(d))
            .iter()
            .filter(|d| d.is_dir())
        {
            let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
            for path in std::iter::once(dir.clone()).chain(entries.map(|e| e.path())) {
                if let Err(e) = chown(&path, uid, gid) {
                    tracing::warn!(job.id = %job.job_id, "failed to give {} to uid {uid}: {e}", path.display());
                }
            }
        }
        let grants = vec![
            Grant {
                path: job_dir.clone(),
                read_only: false,
            },
            Grant {
                path: self.checker_program.clone(),
                read_only: true,
            },
        ];
        let mut sandbox = isolation.sandbox(&self.store, &job.user_id, Some(home), grants);
        // Its pods find each other by name (the local runtime's pods all share the loopback).
        let hosts = (isolation.confinement == Confinement::Sandbox && !host_names.is_empty())
            .then(|| {
                let file = job_dir.join("hosts");
                let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                match std::fs::write(&file, hosts_file(&job.job_id, &host, host_names)) {
                    Ok(()) => Some(file),
                    Err(e) => {
                        tracing::error!(job.id = %job.job_id, "failed to write {}: {e}", file.display());
                        None
                    }
                }
            })
            .flatten();
        sandbox.hosts = hosts;
        Some(sandbox)
    }
}

/// The sandbox of one pod of the job: its directory becomes the owner's; a HOME the pod's
/// environment sets stays; its role's shared memory size is its `/dev/shm`'s.
pub(super) fn pod_sandbox(
    job: &Sandbox,
    pod_dir: &Path,
    env: &BTreeMap<String, EnvValue>,
    shm_mib: Option<u64>,
) -> Sandbox {
    let identity = &job.identity;
    if let Err(e) = own(pod_dir, identity.uid, identity.gid) {
        tracing::error!(
            "failed to give {} to uid {}: {e}",
            pod_dir.display(),
            identity.uid
        );
    }
    let mut sandbox = job.clone();
    sandbox.shm_mib = shm_mib;
    if env.contains_key("HOME") {
        sandbox.identity.home = None;
    }
    sandbox
}

/// The job's `/etc/hosts`: the host's entries, then the names of the job's pods on the
/// loopback.
fn hosts_file(job_id: &str, host: &str, names: &[String]) -> String {
    format!(
        "{}\n# the pods of job {job_id} (opendlc)\n127.0.0.1\t{}\n",
        host.trim_end(),
        names.join(" ")
    )
}

/// The account name of the pods of `user_id`: `opendlc-<UserId>`, in the characters account
/// names allow.
fn account_name(user_id: &str) -> String {
    let id: String = user_id
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .take(23)
        .collect();
    format!("opendlc-{id}")
}

/// Creates `dir` if needed and gives it to `uid`:`gid`, mode 0700.
fn own(dir: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    chown(dir, uid, gid)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn chown(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_get_distinct_uids_above_the_base() {
        let isolation = Isolation {
            confinement: Confinement::Sandbox,
            uid_base: 1000,
            server_dirs: vec![],
            readable: vec![],
        };
        assert_eq!(isolation.uid_of("1"), 1001);
        assert_eq!(isolation.uid_of("2"), 1002);
        assert!(isolation.uid_of("someone") >= 1000);
        assert_ne!(isolation.uid_of("someone"), isolation.uid_of("another"));
    }

    #[test]
    fn account_names_are_valid_unix_names() {
        assert_eq!(account_name("12"), "opendlc-12");
        assert_eq!(account_name("Al ice/.."), "opendlc-al_ice___");
        assert!(account_name(&"9".repeat(100)).len() <= 32);
    }
}
