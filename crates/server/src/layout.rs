//! Where job files live under the data directory:
//! `jobs/<JobId>/work` (the pods' working directory) and `jobs/<JobId>/pods/<PodUid>/` (one
//! directory per pod incarnation: its spec, state and log files, written by its shim).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct JobsDir(PathBuf);

impl JobsDir {
    pub fn new(data_dir: &Path) -> Self {
        JobsDir(data_dir.join("jobs"))
    }

    pub fn job(&self, job_id: &str) -> PathBuf {
        self.0.join(job_id)
    }

    pub fn work(&self, job_id: &str) -> PathBuf {
        self.job(job_id).join("work")
    }

    pub fn pod(&self, job_id: &str, pod_uid: &str) -> PathBuf {
        self.job(job_id).join("pods").join(pod_uid)
    }
}
