//! `opendlc mpi-rsh --dir DIR HOST COMMAND…`: Open MPI's remote shell. It asks the worker of
//! pod HOST (listening in the job's MPI directory DIR, or on the TCP address it published
//! there) to run COMMAND and exits with its status; 255 if the pod cannot be reached, as ssh
//! does.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::{
    address_name, read_secret, short_socket_path, socket_name, Connection, Reply, Request,
};
use crate::pod_dir::read_json;

/// Worker pods start with the Launcher: give their worker a moment to listen.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// The exit code for "could not reach the pod" (ssh's).
const UNREACHABLE: i32 = 255;

pub fn main(dir: &Path, host: &str, command: &[String]) -> i32 {
    match run(dir, host, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("opendlc mpi-rsh: {host}: {e}");
            UNREACHABLE
        }
    }
}

fn run(dir: &Path, host: &str, command: &[String]) -> io::Result<i32> {
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(io::Error::other(
            "not a pod name of this job (the hostfile lists the Worker pods)",
        ));
    }
    let mut stream = connect(dir, host)?;
    let secret = match stream {
        Connection::Tcp(_) => Some(read_secret(dir)?),
        Connection::Unix(_) => None,
    };
    // As ssh does: the words are joined into one command line for the remote shell.
    let request = Request {
        command: command.join(" "),
        secret,
    };
    let mut line = serde_json::to_vec(&request).map_err(io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    let reply: Reply = serde_json::from_str(&reply).map_err(|_| {
        io::Error::other("the pod ended before the command did (was the Worker stopped?)")
    })?;
    Ok(reply.code)
}

/// The worker's TCP address when it published one, else its Unix socket; retried until the
/// worker listens (its pod starts with the Launcher's).
fn connect(dir: &Path, host: &str) -> io::Result<Connection> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let attempt = match read_json::<String>(&dir.join(address_name(host))) {
            Ok(Some(address)) => TcpStream::connect(address.as_str()).map(Connection::Tcp),
            _ => short_socket_path(dir, &socket_name(host))
                .and_then(|(_handle, path)| UnixStream::connect(path))
                .map(Connection::Unix),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= deadline => {
                return Err(io::Error::other(format!(
                    "no Worker pod of this job answers as {host} after {} s: {e}",
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}
