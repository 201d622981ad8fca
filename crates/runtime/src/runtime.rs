//! The runtime the engine drives: the local one (a shim per pod on this host) or Slurm (a
//! Slurm job per gang of pods, a shim per pod on its node). Both report pod ends as
//! [`PodEvent`]s on the same channel and keep their state in the pod directories.

use std::path::Path;

use crate::error::RuntimeError;
use crate::slurm::SlurmRuntime;
use crate::supervisor::{LocalRuntime, PodLaunch, Started};

#[derive(Clone)]
pub enum Runtime {
    Local(LocalRuntime),
    Slurm(SlurmRuntime),
}

impl Runtime {
    /// Launches one pod on the local runtime; on Slurm, a gang of one.
    pub async fn launch(&self, pod: PodLaunch) -> Result<Started, RuntimeError> {
        match self {
            Runtime::Local(local) => local.launch(pod).await,
            Runtime::Slurm(_) => Err(RuntimeError::Slurm(
                "the Slurm runtime launches pods as gangs (launch_gang)".into(),
            )),
        }
    }

    pub fn stop(&self, dir: &Path) -> Result<(), RuntimeError> {
        match self {
            Runtime::Local(local) => local.stop(dir),
            Runtime::Slurm(slurm) => slurm.stop(dir),
        }
    }

    pub fn reattach(&self, pod_uid: &str, dir: &Path) -> Result<(), RuntimeError> {
        match self {
            Runtime::Local(local) => local.reattach(pod_uid, dir),
            Runtime::Slurm(slurm) => slurm.reattach(pod_uid, dir),
        }
    }

    pub fn slurm(&self) -> Option<&SlurmRuntime> {
        match self {
            Runtime::Slurm(slurm) => Some(slurm),
            Runtime::Local(_) => None,
        }
    }
}
