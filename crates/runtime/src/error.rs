//! Errors of the local runtime. Messages say what failed and carry the cause, so that
//! `to_string()` alone is a complete explanation.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::pod_files::PodExit;

/// The reason of a pod whose image could not be pulled, as Kubernetes (and PAI) name it.
pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("failed to write the spec of pod {pod_id} to {path}: {error}")]
    WriteSpec {
        pod_id: String,
        path: PathBuf,
        error: io::Error,
    },
    #[error("failed to start the shim {program} for pod {pod_id}: {error}")]
    SpawnShim {
        pod_id: String,
        program: PathBuf,
        error: io::Error,
    },
    /// The command itself could not run (missing workdir, …). The shim recorded `exit` in
    /// exit.json too: the pod ended before it began, with that exit code and reason.
    #[error("failed to start pod {pod_id}: {}", exit.reason.as_deref().unwrap_or("unknown reason"))]
    CommandNotStarted { pod_id: String, exit: PodExit },
    /// The shim broke down before the command ran; see shim.log in the pod directory.
    #[error("failed to start pod {pod_id}: the shim {detail}")]
    Shim { pod_id: String, detail: String },
    #[error("failed to start pod {pod_id}: the shim did not report within {} s", timeout.as_secs())]
    StartTimeout { pod_id: String, timeout: Duration },
    #[error("failed to read {path}: {error}")]
    ReadPodFile { path: PathBuf, error: io::Error },
    #[error("failed to stop the pod in {dir}: {error}")]
    Stop { dir: PathBuf, error: io::Error },
    /// The pod's image is not there and could not be pulled. The text starts with the
    /// Kubernetes reason, which the API shows as the pod's SubStatus.
    #[error("{IMAGE_PULL_BACK_OFF}: the image {image} of pod {pod_id} could not be had: {detail}")]
    ImagePull {
        pod_id: String,
        image: String,
        detail: String,
    },
    /// The Slurm runtime: a Slurm command failed, or the Slurm job ended before the pod ran.
    #[error("{0}")]
    Slurm(String),
}
