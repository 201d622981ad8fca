//! Where job files live under the data directory:
//! `jobs/<JobId>/work` (the pods' working directory), `jobs/<JobId>/pods/<PodUid>/` (one
//! directory per pod incarnation: its spec, state and log files, written by its shim), and the
//! files a job's framework names within `jobs/<JobId>` (an MPIJob's `mpi/` hostfile and
//! sockets, a RayJob's `ray/` head ports: `opendlc_core::frameworks`).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct JobsDir(PathBuf);

impl JobsDir {
    pub fn new(data_dir: &Path) -> Self {
        JobsDir(data_dir.join("jobs"))
    }

    /// Job files at `dir` instead of under the data directory (a shared directory for Slurm).
    pub fn at(dir: PathBuf) -> Self {
        JobsDir(dir)
    }

    /// The directory holding every job's directory.
    pub fn root(&self) -> &Path {
        &self.0
    }

    pub fn job(&self, job_id: &str) -> PathBuf {
        self.0.join(job_id)
    }

    pub fn work(&self, job_id: &str) -> PathBuf {
        self.job(job_id).join("work")
    }

    /// A RayJob's head ports (`head.json`).
    pub fn ray(&self, job_id: &str) -> PathBuf {
        self.job(job_id).join(opendlc_core::frameworks::ray::DIR)
    }

    pub fn pod(&self, job_id: &str, pod_uid: &str) -> PathBuf {
        self.job(job_id).join("pods").join(pod_uid)
    }
}
