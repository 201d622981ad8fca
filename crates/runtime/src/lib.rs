//! Runtimes: where and how the engine's pods run.
//!
//! - [`contract`]: what the engine hands a runtime (a pod recipe, gangs), what it reports
//!   back, and the [`Runtime`] trait;
//! - [`local`]: every pod a process group on this host, supervised by a shim that outlives the
//!   server (the embedded default);
//! - [`slurm`]: a Slurm job per gang of pods, the same shim on each node;
//! - [`fake`]: a runtime that runs nothing, for the engine's tests;
//! - [`pod`]: what runs inside a pod on every runtime (the shim, environment preparation,
//!   mounts, MPI glue, sanity checks, peer addresses);
//! - [`logs`], [`metrics`]: the pod log format and its readers; pod metrics;
//! - [`pod_dir`], [`pod_files`]: the files a pod directory holds, and how they are written.
//!
//! A new runtime is one more folder that implements [`Runtime`], and one line where the server
//! chooses its runtime.

pub mod contract;
mod error;
pub mod fake;
pub mod local;
pub mod logs;
pub mod metrics;
pub mod pod;
pub mod pod_dir;
pub mod pod_files;
pub mod priority;
mod process;
pub mod slurm;

pub use contract::{PodEvent, PodRecipe, Runtime, Started};
pub use error::{RuntimeError, IMAGE_PULL_BACK_OFF};
pub use local::{LocalRuntime, PodLaunch};
pub use pod_dir::{was_started, EXIT_FILE, LOG_FILE, SHIM_LOG_FILE, SPEC_FILE, STARTED_FILE};
pub use pod_files::{PodExit, PodSpec, ShimStarted};
