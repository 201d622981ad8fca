//! The local runtime: every pod is a process group supervised by a shim that outlives the server.
//!
//! - [`shim`]: the per-pod supervisor process (`opendlc shim --dir DIR`), synchronous.
//! - [`LocalRuntime`]: the server-side supervisor (tokio) that launches, stops and re-attaches
//!   to shims, and reports each pod's end as a [`PodEvent`].
//! - [`mpi`]: the pod-side programs that let an MPIJob's `mpirun` start ranks in its Worker pods.
//! - [`slurm`]: the Slurm runtime (a Slurm job per gang of pods, the same shim on each node);
//!   [`Runtime`] is the one the engine drives, either of the two.
//! - [`cgroup`]: a pod's CPU and memory limits; [`container`]: pods in their image (podman).
//! - [`logs`]: the pod log format and its readers.
//! - [`pod_dir`], [`pod_files`]: the files a pod directory holds, and how they are written.

pub mod cgroup;
pub mod container;
mod error;
pub mod logs;
pub mod metrics;
pub mod mounts;
pub mod mpi;
pub mod pod_dir;
pub mod pod_files;
pub mod prepare;
mod process;
mod runtime;
pub mod sanity;
pub mod shim;
pub mod slurm;
mod supervisor;

pub use error::{RuntimeError, IMAGE_PULL_BACK_OFF};
pub use pod_dir::{was_started, EXIT_FILE, LOG_FILE, SHIM_LOG_FILE, SPEC_FILE, STARTED_FILE};
pub use pod_files::{PodExit, PodSpec, ShimStarted};
pub use runtime::Runtime;
pub use supervisor::{LocalRuntime, Placement, PodEvent, PodLaunch, Started};
