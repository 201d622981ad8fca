//! `opendlc mpi-worker --dir DIR --name POD`: a Worker pod of an MPIJob. It serves the remote
//! shell on `DIR/POD.sock` until the pod is stopped (the Launcher's end stops it), running each
//! request as a child of its own, so that everything `mpirun` starts here belongs to this pod.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

use super::{short_socket_path, socket_name, Reply, Request, POD_PID_ENV};

/// The largest request accepted: an `orted` command line is a few kilobytes.
const MAX_REQUEST: u64 = 1 << 20;
/// How long a command whose caller went away gets between SIGTERM and SIGKILL.
const ORPHAN_GRACE: Duration = Duration::from_secs(5);

/// Runs the worker; returns the process exit code. `program` is this binary (the ranks' fork
/// agent). Must be called before the process starts any thread.
pub fn main(dir: &Path, name: &str, program: &Path) -> i32 {
    // SIGTERM (the pod is being stopped) is taken by the main thread below; children get a
    // clean mask (std resets it when it spawns).
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    term.add(Signal::SIGINT);
    if let Err(e) = term.thread_block() {
        eprintln!("mpi-worker: failed to block SIGTERM: {e}");
        return 1;
    }
    let listener = match bind(dir, name) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "mpi-worker: failed to listen on {}: {e}",
                dir.join(socket_name(name)).display()
            );
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

fn bind(dir: &Path, name: &str) -> io::Result<UnixListener> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let (_handle, path) = short_socket_path(dir, &socket_name(name))?;
    // A socket left by an earlier incarnation of this pod.
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path)
}

/// What the commands run here (orted, and through it the ranks) get on top of the pod's
/// environment.
#[derive(Clone)]
struct RankEnv {
    fork_agent: String,
    shm: String,
}

fn accept(listener: UnixListener, env: &RankEnv, running: &Arc<Running>) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let env = env.clone();
                let running = running.clone();
                running.add();
                thread::spawn(move || {
                    if let Err(e) = serve(stream, &env) {
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
fn serve(stream: UnixStream, env: &RankEnv) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?).take(MAX_REQUEST);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let request: Request = serde_json::from_str(&line)
        .map_err(|e| io::Error::other(format!("a malformed request: {e}")))?;
    let mut child = Command::new("/bin/sh")
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
    (&stream).write_all(&reply)
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
