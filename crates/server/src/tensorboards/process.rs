//! The `tensorboard` process: started detached (its own session, output to a log file), probed
//! over HTTP, stopped by process group.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opendlc_core::shell::quote;
use opendlc_core::tensorboard::Tensorboard;
use opendlc_runtime::contract::Grant;
use opendlc_runtime::pod::cgroup::PodCgroup;
use opendlc_runtime::pod::mounts::MountSpec;

use super::{limits, proxy, Tensorboards, NOT_INSTALLED};

/// The view a tensorboard of an isolated server runs in (`run-mounted`'s file).
const SANDBOX_FILE: &str = "sandbox.json";

/// How long tensorboard has between SIGTERM and SIGKILL (it needs about 2 s).
const GRACE: Duration = Duration::from_secs(5);
pub const LOG_FILE: &str = "tensorboard.log";

/// Why a process could not be started.
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

/// A started process: its port, and what is said of its limits (`limits`).
pub struct Started {
    pub child: Child,
    pub port: u16,
    pub limits: Option<String>,
}

pub fn spawn(tbs: &Tensorboards, tb: &Tensorboard) -> Result<Started, Failure> {
    let internal = |what: &str, e: io::Error| Failure {
        code: "TensorboardFailed",
        message: format!("tensorboard could not be started: failed to {what}: {e}"),
    };
    let dir = tbs.dir.join(&tb.tensorboard_id);
    fs::create_dir_all(&dir).map_err(|e| internal("create its directory", e))?;
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))
        .map_err(|e| internal("open its log", e))?;
    let err_log = log.try_clone().map_err(|e| internal("open its log", e))?;
    let port = free_port().map_err(|e| internal("find a free port", e))?;
    let runs = tb.runs();
    // Several sources: tensorboard names each one's runs after it.
    let logdir_flag = if runs.iter().any(|r| r.name.is_some()) {
        "--logdir_spec"
    } else {
        "--logdir"
    };
    let args: Vec<String> = vec![
        logdir_flag.into(),
        tb.logdir.clone(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--path_prefix".into(),
        proxy::prefix(&tb.tensorboard_id),
    ];
    let mut command = match &tbs.isolation {
        None => {
            let mut command = Command::new(&tbs.program);
            command.args(&args);
            command
        }
        // As its creator, seeing what their pods see: its summaries, its own directory and the
        // installs pods may read; never the server's data.
        Some((isolation, opendlc)) => {
            // Found here, as the spawn would find it: the view needs its real path.
            let Some(program) = find_program(&tbs.program) else {
                return Err(not_installed(tbs));
            };
            let mut grants = vec![
                Grant {
                    path: dir.clone(),
                    read_only: false,
                },
                Grant {
                    path: program.clone(),
                    read_only: true,
                },
            ];

            grants.extend(runs.iter().map(|run| Grant {
                path: run.dir.clone().into(),
                read_only: true,
            }));
            let mut sandbox = isolation.sandbox(&tbs.store, &tb.user_id, Some(dir.clone()), grants);
            // Where the view hides what tensorboard runs on (a virtualenv or pyenv in a home
            // directory), that much is shown again, read-only; never a directory holding
            // something hidden (the data directory).
            for path in installations(&program) {
                let inside_hidden = sandbox
                    .hide
                    .iter()
                    .any(|h| path.starts_with(h) && path != *h);
                let holds_hidden = sandbox.hide.iter().any(|h| h.starts_with(&path));
                if inside_hidden && !holds_hidden {
                    sandbox.grants.push(Grant {
                        path,
                        read_only: true,
                    });
                }
            }
            let (uid, gid) = (sandbox.identity.uid, sandbox.identity.gid);
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| internal("give its directory to its creator", e))?;
            let spec = MountSpec {
                mounts: Vec::new(),
                sandbox: Some(sandbox),
                prepare: None,
            };
            let file = dir.join(SANDBOX_FILE);
            let json = serde_json::to_vec_pretty(&spec).map_err(io::Error::other);
            json.and_then(|json| fs::write(&file, json))
                .map_err(|e| internal("write its sandbox", e))?;
            let words: Vec<String> = std::iter::once(program.display().to_string())
                .chain(args)
                .map(|w| quote(&w))
                .collect();
            let mut command = Command::new(opendlc);
            command
                .arg("run-mounted")
                .arg("--mounts")
                .arg(&file)
                .arg(format!("exec {}", words.join(" ")));
            command
        }
    };
    command
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log);
    // A cgroup left by an earlier run (no process of this TensorBoard runs now), then its own.
    limits::release(&tbs.dir, &tb.tensorboard_id);
    let (cgroup, limits) = limits::create(tbs, tb);
    let join = cgroup
        .as_ref()
        .map(PodCgroup::procs_fds)
        .unwrap_or_default();
    // SAFETY: setsid, setpriority and write are async-signal-safe. setsid detaches tensorboard
    // from the server's session and process group, so a Ctrl-C or a server stop does not reach
    // it; it runs at the usual priority, not the server's threads' raised one, in its cgroup.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            opendlc_runtime::priority::reset_this_thread();
            opendlc_runtime::pod::cgroup::join(&join)
        });
    }
    match command.spawn() {
        Ok(child) => {
            if let Some(cgroup) = cgroup {
                limits::keep(&tbs.dir, &tb.tensorboard_id, cgroup);
            }
            Ok(Started {
                child,
                port,
                limits,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_installed(tbs)),
        Err(e) => Err(internal(&format!("run {}", tbs.program.display()), e)),
    }
}

fn not_installed(tbs: &Tensorboards) -> Failure {
    Failure {
        code: NOT_INSTALLED,
        message: format!(
            "tensorboard is not installed on this server: `{}` was not found. Install it \
             (`pip install tensorboard`) or point `opendlc serve --tensorboard` \
             (OPENDLC_TENSORBOARD) at it, then StartTensorboard.",
            tbs.program.display()
        ),
    }
}

/// `program` as a file: as given when it names a path, else the first on PATH.
fn find_program(program: &Path) -> Option<std::path::PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// What `program` needs to run besides itself, where the view may hide it (a home directory):
/// the installation it is part of (`<prefix>/bin/tensorboard`: the prefix, a virtualenv with its
/// packages), and, for a script, its interpreter's, through every link (a virtualenv's `python`
/// leads into pyenv's or conda's installation).
fn installations(program: &Path) -> Vec<std::path::PathBuf> {
    let prefix = |file: &Path| {
        let real = fs::canonicalize(file).ok()?;
        let bin = real.parent()?;
        (bin.file_name()? == "bin").then(|| bin.parent().map(Path::to_path_buf))?
    };
    let mut found = vec![prefix(program)];
    let head = fs::File::open(program).and_then(|f| {
        let mut line = String::new();
        io::BufRead::read_line(&mut io::BufReader::new(io::Read::take(f, 4096)), &mut line)?;
        Ok(line)
    });
    if let Some(interpreter) = head
        .ok()
        .as_deref()
        .and_then(|line| line.strip_prefix("#!"))
        .and_then(|rest| rest.split_whitespace().next())
    {
        found.push(prefix(Path::new(interpreter)));
    }
    let mut found: Vec<_> = found.into_iter().flatten().collect();
    found.dedup();
    found
}

/// A port free now on 127.0.0.1 (another process could take it before tensorboard binds it;
/// tensorboard then fails and the TensorBoard is Failed with its log).
fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// True when `pid` is alive and is the tensorboard of `id` (its command line names our path
/// prefix), so a reused pid is never mistaken for it.
pub fn is_ours(pid: u32, id: &str) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    let prefix = proxy::prefix(id);
    !zombie
        && cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == prefix.as_bytes())
}

/// SIGTERM to the process group now, SIGKILL after the grace period if it is still there; the
/// child (if this server started it) is reaped, then its cgroup removed (`tbs_dir` records it).
pub fn stop(tbs_dir: &Path, id: &str, pid: u32, child: Option<Child>) {
    if !is_ours(pid, id) {
        limits::release(tbs_dir, id);
        return;
    }
    let tbs_dir = tbs_dir.to_path_buf();
    let group = -(pid as i32);
    // SAFETY: kill(2) with a negative pid signals the process group; no memory involved.
    unsafe { libc::kill(group, libc::SIGTERM) };
    let id = id.to_string();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + GRACE;
        let mut child = child;
        while std::time::Instant::now() < deadline {
            let gone = match child.as_mut() {
                Some(c) => !matches!(c.try_wait(), Ok(None)),
                None => !is_ours(pid, &id),
            };
            if gone {
                limits::release(&tbs_dir, &id);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
        if let Some(mut c) = child {
            let _ = c.wait();
        }
        limits::release(&tbs_dir, &id);
    });
}

/// The last lines of the process's log, for a failure's ReasonMessage.
pub fn log_tail(tbs: &Tensorboards, id: &str, lines: usize) -> String {
    let text = fs::read_to_string(tbs.dir.join(id).join(LOG_FILE)).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// True once tensorboard answers its page.
pub async fn answers(tbs: &Tensorboards, id: &str, port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}{}/", proxy::prefix(id));
    matches!(
        tbs.http.get(url).timeout(Duration::from_millis(500)).send().await,
        Ok(r) if r.status().is_success()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_needs_its_installation_and_its_interpreters() {
        let root = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(root.path()).unwrap();
        // A virtualenv whose python leads into an installation elsewhere (pyenv's, say).
        let (venv, python) = (root.join("venv"), root.join("pyenv/3.11"));
        fs::create_dir_all(venv.join("bin")).unwrap();
        fs::create_dir_all(python.join("bin")).unwrap();
        fs::write(python.join("bin/python3.11"), "").unwrap();
        std::os::unix::fs::symlink(python.join("bin/python3.11"), venv.join("bin/python")).unwrap();
        let program = venv.join("bin/tensorboard");
        fs::write(
            &program,
            format!("#!{}\nimport sys\n", venv.join("bin/python").display()),
        )
        .unwrap();
        assert_eq!(installations(&program), [venv, python]);
        // A program outside any `bin` directory needs nothing more.
        let alone = root.join("tool");
        fs::write(&alone, "").unwrap();
        assert!(installations(&alone).is_empty());
    }
}
