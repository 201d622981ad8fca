//! MPIJob: `mpirun` in the Launcher pod starts its ranks inside the Worker
//! pods, as `kubectl exec` does for the MPI operators on Kubernetes.
//!
//! Three small programs, all hidden subcommands of the one binary:
//!
//! - [`worker`] (`opendlc mpi-worker`) is a Worker pod's command. It listens on a Unix socket in
//!   the job's MPI directory (mode 0700, one socket per pod) and runs what it is asked to run
//!   (Open MPI's `orted`) as its own child: inside the pod's process tree and session, with the
//!   pod's environment, its stdout and stderr going to the pod log. On the Slurm runtime, where
//!   pods are on several nodes and a Unix socket does not cross a network filesystem, it
//!   listens on TCP on its node's address instead ([`LISTEN_ENV`]), published in the MPI
//!   directory, and serves only requests that carry the job's secret ([`SECRET_FILE`]).
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
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The variable through which the worker tells its ranks (via `orted`) which process is the
/// pod's main one: its stdout and stderr are the pod log, its process group the pod's.
pub const POD_PID_ENV: &str = "OPENDLC_MPI_POD_PID";

/// Set (where pods run on several hosts) to the address of the pod's node: the worker then
/// listens on TCP there instead of on a Unix socket, and writes where in `<pod>.addr`
/// ([`address_name`]).
pub use opendlc_core::frameworks::mpi::LISTEN_ENV;
/// The job's secret in its MPI directory (written by the server): what a remote shell must
/// present to a worker that listens on TCP.
pub use opendlc_core::frameworks::mpi::SECRET_FILE;

/// What the remote shell asks a worker to run.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    command: String,
    /// The job's secret, required by a worker on TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
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

/// The file in the job's MPI directory with the TCP address (`IP:PORT`) of pod `host`'s worker.
pub fn address_name(host: &str) -> String {
    format!("{host}.addr")
}

fn read_secret(dir: &Path) -> io::Result<String> {
    let secret = std::fs::read_to_string(dir.join(SECRET_FILE))?;
    let secret = secret.trim().to_string();
    if secret.is_empty() {
        return Err(io::Error::other(format!(
            "{} is empty",
            dir.join(SECRET_FILE).display()
        )));
    }
    Ok(secret)
}

/// A connection between the remote shell and a worker: over a Unix socket (pods on one host)
/// or TCP (pods on several nodes).
enum Connection {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Connection {
    fn try_clone(&self) -> io::Result<Connection> {
        Ok(match self {
            Connection::Unix(s) => Connection::Unix(s.try_clone()?),
            Connection::Tcp(s) => Connection::Tcp(s.try_clone()?),
        })
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Connection::Unix(s) => s.read(buf),
            Connection::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Connection::Unix(s) => s.write(buf),
            Connection::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Connection::Unix(s) => s.flush(),
            Connection::Tcp(s) => s.flush(),
        }
    }
}

/// A path to `name` in `dir` that fits in a Unix socket address (108 bytes) however long `dir`
/// is: `/proc/self/fd/N/name` through an open handle on `dir`, kept alive by the returned file.
fn short_socket_path(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    let handle = File::open(dir)?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{name}", handle.as_raw_fd()));
    Ok((handle, path))
}
