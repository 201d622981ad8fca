//! `opendlc mpi-worker --dir DIR --name POD`: a Worker pod of an MPIJob. It serves the remote
//! shell on `DIR/POD.sock` (or on TCP, its address in `DIR/POD.addr`, when [`LISTEN_ENV`] is
//! set) until the pod is stopped (the Launcher's end stops it), running each request as a
//! child of its own, so that everything `mpirun` starts here belongs to this pod.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

use super::{
    address_name, read_secret, short_socket_path, socket_name, Connection, Reply, Request,
    LISTEN_ENV, POD_PID_ENV,
};
use crate::pod_dir::{write_json_atomic, Durability};

/// The largest request accepted: an `orted` command line is a few kilobytes.
const MAX_REQUEST: u64 = 1 << 20;
/// How long a command whose caller went away gets between SIGTERM and SIGKILL.
const ORPHAN_GRACE: Duration = Duration::from_secs(5);

/// Runs the worker; returns the process exit code. `program` is this binary (the ranks' fork
/// agent). Must be called before the process starts any thread.
pub fn main(dir: &Path, name: &str, program: &Path) -> i32 {
    // SIGTERM (the pod is being stopped) is taken by the main thread below; the commands run
    // here start with a clean mask (process::unblock_signals_in_child).
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.add(Signal::SIGINT);
    if let Err(e) = term.thread_block() {
        eprintln!("mpi-worker: failed to block SIGTERM: {e}");
        return 1;
    }
    let listener = match std::env::var(LISTEN_ENV) {
        Ok(address) => bind_tcp(dir, name, &address),
        Err(_) => bind(dir, name).map(Listener::Unix),
    };
    let listener = match listener {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("mpi-worker: failed to listen: {e}");
            return 1;
        }
    };
    // Open MPI names its shared-memory segments after the host, which every pod shares here:
    // each pod gets a directory of its own for them.
    let shm = dir.join(format!("{name}.shm"));
    if let Err(e) = std::fs::create_dir_all(&shm) {
        eprintln!("mpi-worker: failed to create {}: {e}", shm.display());
        return 1;
    }
    let env = RankEnv {
        fork_agent: format!("{} mpi-rank", program.display()),
        shm: shm.display().to_string(),
    };
    let running = Arc::new(Running::default());
    {
        let running = running.clone();
        thread::spawn(move || accept(listener, &env, &running));
    }
    // The pod is stopped (the Launcher ended, or StopJob): its process group, the commands we
    // run included, got the same SIGTERM. Leave once they are gone, so that a worker that did
    // its part ends as succeeded; the shim's grace period bounds the wait.
    let _ = term.wait();
    running.wait_idle();
    0
}

/// Where the worker takes requests.
enum Listener {
    Unix(UnixListener),
    /// With the job's secret, which every request must carry.
    Tcp(TcpListener, String),
}

impl Listener {
    fn accept(&self) -> io::Result<Connection> {
        Ok(match self {
            Listener::Unix(l) => Connection::Unix(l.accept()?.0),
            Listener::Tcp(l, _) => Connection::Tcp(l.accept()?.0),
        })
    }

    fn secret(&self) -> Option<&str> {
        match self {
            Listener::Unix(_) => None,
            Listener::Tcp(_, secret) => Some(secret),
        }
    }
}

fn bind(dir: &Path, name: &str) -> io::Result<UnixListener> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let (_handle, path) = short_socket_path(dir, &socket_name(name))?;
    // A socket left by an earlier incarnation of this pod.
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path)
        .map_err(|e| io::Error::other(format!("{}: {e}", dir.join(socket_name(name)).display())))
}

/// Listens on `address` (the node's), any port, and publishes `IP:PORT` in `<name>.addr`.
fn bind_tcp(dir: &Path, name: &str, address: &str) -> io::Result<Listener> {
    let secret = read_secret(dir)?;
    let listener =
        TcpListener::bind((address, 0)).map_err(|e| io::Error::other(format!("{address}: {e}")))?;
    let published = listener.local_addr()?.to_string();
    write_json_atomic(
        &dir.join(address_name(name)),
        &published,
        Durability::ProcessCrash,
    )?;
    Ok(Listener::Tcp(listener, secret))
}

/// What the commands run here (orted, and through it the ranks) get on top of the pod's
/// environment.
#[derive(Clone)]
struct RankEnv {
    fork_agent: String,
    shm: String,
}

fn accept(listener: Listener, env: &RankEnv, running: &Arc<Running>) {
    loop {
        match listener.accept() {
            Ok(stream) => {
                let env = env.clone();
                let running = running.clone();
                let secret = listener.secret().map(str::to_string);
                running.add();
                thread::spawn(move || {
                    if let Err(e) = serve(stream, secret.as_deref(), &env) {
                        eprintln!("mpi-worker: {e}");
                    }
                    running.done();
                });
            }
            Err(e) => {
                eprintln!("mpi-worker: failed to accept a connection: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Runs one request: `/bin/sh -c COMMAND`, writing to the pod log; answers with its exit status.
/// If the caller goes away first (mpirun was killed), the command is ended too, as sshd would.
/// With `secret`, a request that does not carry it is refused unanswered.
fn serve(mut stream: Connection, secret: Option<&str>, env: &RankEnv) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_REQUEST);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let request: Request = serde_json::from_str(&line)
        .map_err(|e| io::Error::other(format!("a malformed request: {e}")))?;
    if let Some(secret) = secret {
        let given = request.secret.as_deref().unwrap_or_default();
        if !same_secret(given.as_bytes(), secret.as_bytes()) {
            return Err(io::Error::other(
                "refused a request without the job's secret",
            ));
        }
    }
    let mut command = Command::new("/bin/sh");
    crate::process::unblock_signals_in_child(&mut command);
    let mut child = command
        .arg("-c")
        .arg(&request.command)
        .stdin(Stdio::null())
        .env("OMPI_MCA_orte_fork_agent", &env.fork_agent)
        .env(POD_PID_ENV, std::process::id().to_string())
        // The ranks join the pod's process group (mpi-rank), so orted must signal them by pid.
        .env("OMPI_MCA_odls_base_signal_direct_children_only", "1")
        .env("OMPI_MCA_btl_vader_backing_directory", &env.shm)
        .env("OMPI_MCA_osc_sm_backing_directory", &env.shm)
        .spawn()
        .map_err(|e| io::Error::other(format!("failed to run /bin/sh: {e}")))?;
    let pid = Pid::from_raw(child.id() as i32);
    let exited = Arc::new(AtomicBool::new(false));
    {
        let exited = exited.clone();
        let mut reader = reader.into_inner();
        thread::spawn(move || {
            // The caller sends nothing more: end-of-file means it is gone.
            let _ = io::copy(&mut reader, &mut io::sink());
            if !exited.load(Ordering::SeqCst) {
                let _ = kill(pid, Signal::SIGTERM);
                thread::sleep(ORPHAN_GRACE);
                if !exited.load(Ordering::SeqCst) {
                    let _ = kill(pid, Signal::SIGKILL);
                }
            }
        });
    }
    let status = child.wait()?;
    exited.store(true, Ordering::SeqCst);
    let code = status
        .code()
        .or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            status.signal().map(|s| 128 + s)
        })
        .unwrap_or(255);
    let mut reply = serde_json::to_vec(&Reply { code }).map_err(io::Error::other)?;
    reply.push(b'\n');
    stream.write_all(&reply)
}

/// Compares in time independent of where the first difference is.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// How many requests are being served, so that a stopped worker can wait for them.
#[derive(Default)]
struct Running {
    count: Mutex<usize>,
    idle: Condvar,
}

impl Running {
    fn add(&self) {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }

    fn done(&self) {
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *count = count.saturating_sub(1);
        self.idle.notify_all();
    }

    fn wait_idle(&self) {
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        while *count > 0 {
            count = self.idle.wait(count).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker on TCP (as on the Slurm runtime) and the remote shell that finds it through the
    /// published address; a caller without the job's secret gets nothing run.
    #[test]
    fn on_tcp_only_requests_with_the_secret_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(super::super::SECRET_FILE), "s3cret\n").unwrap();
        let listener = bind_tcp(dir.path(), "j-worker-0", "127.0.0.1").unwrap();
        let env = RankEnv {
            fork_agent: "true".into(),
            shm: dir.path().display().to_string(),
        };
        let secret = listener.secret().map(str::to_string);
        thread::spawn(move || loop {
            let Ok(stream) = listener.accept() else {
                return;
            };
            let _ = serve(stream, secret.as_deref(), &env);
        });
        let marker = dir.path().join("ran");
        let command = vec![format!("touch {}; exit 7", marker.display())];
        assert_eq!(
            super::super::rsh::main(dir.path(), "j-worker-0", &command),
            7
        );
        assert!(marker.exists());

        std::fs::remove_file(&marker).unwrap();
        let address: String = crate::pod_dir::read_json(&dir.path().join("j-worker-0.addr"))
            .unwrap()
            .unwrap();
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        let request = format!(
            "{{\"command\":\"touch {}\",\"secret\":\"guess\"}}\n",
            marker.display()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        assert_eq!(reply, "", "refused unanswered");
        assert!(!marker.exists());
        assert!(
            same_secret(b"abc", b"abc")
                && !same_secret(b"abc", b"abd")
                && !same_secret(b"ab", b"abc")
        );
    }
}
