//! What each job type means beyond its name, one module per framework.

pub mod data_juicer;
pub mod mpi;
pub mod ray;
