//! The real server, started as a separate process on a fresh data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The schedulable memory, from the start-up banner's `pool:` line.
    pub pool_memory_mib: u64,
    /// The banner's `pool:` line as printed, for the report.
    pub pool: String,
    /// Removed (with every job's files) when the server is dropped.
    pub data_dir: tempfile::TempDir,
}

impl Server {
    /// `PROGRAM serve --listen 127.0.0.1:0 --data-dir <temp>`; returns once the banner says
    /// where it listens. The server's stderr goes to `<data-dir>/server.log`, to explain a
    /// failure.
    pub async fn start(program: &Path) -> anyhow::Result<Server> {
        Self::start_with(program, &[]).await
    }

    /// [`Server::start`] with more `serve` arguments (`--runtime slurm`, …).
    pub async fn start_with(program: &Path, extra: &[&str]) -> anyhow::Result<Server> {
        let data_dir = tempfile::Builder::new()
            .prefix("opendlc-bench-")
            .tempdir()?;
        Self::start_in(program, extra, data_dir).await
    }

    /// [`Server::start_with`] on a data directory made before (one a server used already).
    pub async fn start_in(
        program: &Path,
        extra: &[&str],
        data_dir: tempfile::TempDir,
    ) -> anyhow::Result<Server> {
        if !program.is_file() {
            bail!(
                "no server binary at {}: build it with `cargo build --release -p opendlc`, or pass --server",
                program.display()
            );
        }
        let log = std::fs::File::create(data_dir.path().join("server.log"))?;
        let mut command = Command::new(program);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            // Throughput is the figure here, not the per-key limit.
            .args(["--rate-limit", "0"])
            .args(extra)
            .env("OPENDLC_ACCESS_KEY_ID", crate::client::KEY_ID)
            .env("OPENDLC_ACCESS_KEY_SECRET", crate::client::KEY_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true);
        // A session of its own, as a server's is beside its users' clients: where the kernel
        // schedules by session (autogroup), the server's priority is then its own, not shared
        // with the load generator's. It ends with the bench, however the bench ends.
        // SAFETY: setsid and prctl are async-signal-safe, and touch no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("failed to start {}", program.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let banner = tokio::time::timeout(Duration::from_secs(30), read_banner(stdout)).await;
        let (addr, pool) = match banner {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return Err(e.context(server_log(data_dir.path()))),
            Err(_) => bail!(
                "the server printed no address within 30 s\n{}",
                server_log(data_dir.path())
            ),
        };
        let pool_memory_mib = pool_memory_mib(&pool)?;
        Ok(Server {
            child,
            addr,
            pool_memory_mib,
            pool,
            data_dir,
        })
    }

    pub fn data_path(&self) -> PathBuf {
        self.data_dir.path().to_path_buf()
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// [`Server::kill`], keeping its data directory for another server.
    pub async fn stop_keeping_data(self) -> anyhow::Result<tempfile::TempDir> {
        let mut server = self;
        let data_dir = std::mem::replace(
            &mut server.data_dir,
            tempfile::Builder::new()
                .prefix("opendlc-bench-")
                .tempdir()?,
        );
        server.kill().await?;
        Ok(data_dir)
    }

    /// SIGTERM (the server shuts down gracefully), then SIGKILL if it takes over 10 s. Stop
    /// the jobs first: pods outlive the server by design.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the pid of a child we have not reaped yet.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                eprintln!("the server did not exit 10 s after SIGTERM; killing it");
                self.child.kill().await?;
            }
        }
        Ok(())
    }
}

/// Reads stdout up to the banner's `pool:` line, then keeps draining it in the background so
/// that the server never blocks on a full pipe.
async fn read_banner(stdout: ChildStdout) -> anyhow::Result<(SocketAddr, String)> {
    let mut lines = BufReader::new(stdout).lines();
    let mut addr = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(rest) = line.split("http://").nth(1) {
            let text = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches('/');
            addr = Some(
                text.parse()
                    .with_context(|| format!("bad address in the banner: {line}"))?,
            );
        }
        if let (Some(addr), Some(pool)) = (addr, line.trim().strip_prefix("pool:")) {
            let pool = pool.trim().to_string();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((addr, pool));
        }
    }
    bail!("the server exited before printing its address and pool")
}

/// `8 CPU (2 cores, overcommitted), 23.5Gi memory, 0 GPU` → 24064. The banner rounds to a
/// tenth of a GiB; the scenarios leave more slack than that.
fn pool_memory_mib(pool: &str) -> anyhow::Result<u64> {
    let quantity = pool
        .split(',')
        .find_map(|part| part.trim().strip_suffix(" memory"))
        .with_context(|| format!("no memory in the banner's pool line: {pool}"))?;
    let (number, mib_per_unit) = if let Some(n) = quantity.strip_suffix("Ti") {
        (n, 1024.0 * 1024.0)
    } else if let Some(n) = quantity.strip_suffix("Gi") {
        (n, 1024.0)
    } else {
        (quantity.trim_end_matches("Mi"), 1.0)
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok((n * mib_per_unit) as u64),
        _ => bail!("can't read the pool's memory \"{quantity}\""),
    }
}

/// The end of the server's stderr, to explain a failed start.
fn server_log(data_dir: &Path) -> String {
    let text = std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("server log:\n{}", tail.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::pool_memory_mib;

    #[test]
    fn reads_the_pool_memory_from_the_banner() {
        assert_eq!(
            pool_memory_mib("8 CPU (2 cores, overcommitted), 23Gi memory, 0 GPU").unwrap(),
            23 * 1024
        );
        assert_eq!(
            pool_memory_mib("8 CPU (2 cores, overcommitted), 23990Mi memory, 0 GPU").unwrap(),
            23990
        );
        assert_eq!(
            pool_memory_mib("8 CPU (2 cores, overcommitted), 23.5Gi memory, 0 GPU").unwrap(),
            24064
        );
        assert!(pool_memory_mib("8 CPU (2 cores, overcommitted), lots memory, 0 GPU").is_err());
    }
}
