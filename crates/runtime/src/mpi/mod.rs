//! MPIJob on the local runtime: `mpirun` in the Launcher pod starts its ranks inside the Worker
//! pods, as `kubectl exec` does for the MPI operators on Kubernetes.
//!
//! Three small programs, all hidden subcommands of the one binary:
//!
//! - [`worker`] (`opendlc mpi-worker`) is a Worker pod's command. It listens on a Unix socket in
//!   the job's MPI directory (mode 0700, one socket per pod) and runs what it is asked to run
//!   (Open MPI's `orted`) as its own child: inside the pod's process tree and session, with the
//!   pod's environment, its stdout and stderr going to the pod log.
//! - [`rsh`] (`opendlc mpi-rsh HOST COMMAND…`) is Open MPI's remote shell
//!   (`OMPI_MCA_plm_rsh_agent`): HOST is a pod name from the hostfile; it hands COMMAND to that
//!   pod's worker and exits with the command's exit status, as ssh would.
//! - [`rank`] (`opendlc mpi-rank PROGRAM ARGS…`) is the `orted`'s fork agent
//!   (`OMPI_MCA_orte_fork_agent`, set by the worker): each rank moves into the pod's process
//!   group and writes to the pod log, then becomes the program. So a rank's output is in its
//!   Worker pod's log (not the Launcher's), stopping the pod signals it, and its CPU and memory
//!   count for that pod.

pub mod rank;
pub mod rsh;
pub mod worker;

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The variable through which the worker tells its ranks (via `orted`) which process is the
/// pod's main one: its stdout and stderr are the pod log, its process group the pod's.
pub const POD_PID_ENV: &str = "OPENDLC_MPI_POD_PID";

/// What the remote shell asks a worker to run.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    command: String,
}

/// How it ended: the exit code, or 128 + the signal, as a shell reports it.
#[derive(Debug, Serialize, Deserialize)]
struct Reply {
    code: i32,
}

/// The socket of pod `host` in the job's MPI directory.
pub fn socket_name(host: &str) -> String {
    format!("{host}.sock")
}

/// A path to `name` in `dir` that fits in a Unix socket address (108 bytes) however long `dir`
/// is: `/proc/self/fd/N/name` through an open handle on `dir`, kept alive by the returned file.
fn short_socket_path(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    let handle = File::open(dir)?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{name}", handle.as_raw_fd()));
    Ok((handle, path))
}
