//! What runs inside a pod, on every runtime: the subcommands of the opendlc binary that a pod's
//! command line is made of (`chain`), and the shim that supervises it.
//!
//! - [`shim`]: the per-pod supervisor process (`opendlc shim --dir DIR`);
//! - [`chain`]: a pod's steps as the one command line its shim runs;
//! - [`prepare`]: `opendlc prepare-env` (CodeSource checkout, ThirdpartyLibs);
//! - [`mounts`]: `opendlc run-mounted` (DataSources and code at their MountPaths);
//! - [`sanity`]: `opendlc sanity-check`;
//! - [`mpi`]: the programs that let an MPIJob's `mpirun` start ranks in its Worker pods;
//! - [`cgroup`]: a pod's CPU and memory limits, which the shim sets up;
//! - [`peers`]: addresses of other pods, filled in where they are known only at start.

pub mod cgroup;
pub mod chain;
pub mod containers;
pub mod mounts;
pub mod mpi;
pub mod peers;
pub mod prepare;
pub mod sandbox;
pub mod sanity;
pub mod shim;
