//! The opendlc server.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub shim_program: PathBuf,
}

pub async fn run(_config: Config, _shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    unimplemented!()
}
