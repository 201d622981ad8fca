//! `opendlc prepare-env --dir DIR --ready FILE`: a pod's first step when its job has a
//! `CodeSource`, `ThirdpartyLibs` or `ThirdpartyLibDir`. The job's pods share one checkout of
//! the code (`git clone`, then the job's commit or branch) and one Python venv, `DIR/venv`
//! (with the system's site-packages, so what the host has stays importable): the first pod to
//! get here makes them, its output (git's, pip's) going to that pod's log, while the others
//! wait for it; each then writes FILE (the engine keeps the job EnvPreparing until every pod
//! has) and goes on to its command. A failure is recorded in `DIR/failed`, so that the other
//! pods (and the engine, which fails the job with that reason) see it without retrying.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// What to prepare, written by the engine to `DIR/plan.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvPlan {
    /// The `CodeSource` to check out, if any.
    pub code: Option<CodeCheckout>,
    /// `ThirdpartyLibs`: requirement specifiers (`numpy==1.26.4`).
    pub libs: Vec<String>,
    /// `ThirdpartyLibDir`'s `requirements.txt`, if it has one.
    pub requirements: Option<PathBuf>,
}

impl EnvPlan {
    pub fn has_libs(&self) -> bool {
        !self.libs.is_empty() || self.requirements.is_some()
    }
}

/// A repository to clone into `dest` at `revision` (a commit or a branch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeCheckout {
    pub repo: String,
    pub revision: String,
    pub dest: PathBuf,
}

pub const PLAN_FILE: &str = "plan.json";
pub const FAILED_FILE: &str = "failed";
pub const VENV_DIR: &str = "venv";
const READY_FILE: &str = ".opendlc-ready";

/// Runs the step; returns the exit code (0: code and venv are ready).
pub fn main(dir: &Path, ready: &Path) -> i32 {
    match prepare(dir) {
        Ok(()) => match std::fs::write(ready, b"") {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("opendlc: failed to write {}: {e}", ready.display());
                1
            }
        },
        Err(Failure { message, code }) => {
            eprintln!("opendlc: {message}");
            code
        }
    }
}

struct Failure {
    message: String,
    code: i32,
}

fn fail(message: String) -> Failure {
    Failure { message, code: 1 }
}

fn prepare(dir: &Path) -> Result<(), Failure> {
    let lock_path = dir.join("lock");
    let lock = File::create(&lock_path)
        .map_err(|e| fail(format!("failed to open {}: {e}", lock_path.display())))?;
    if !crate::pod_dir::try_lock(&lock).unwrap_or(false) {
        println!("opendlc: waiting for another pod of the job to prepare its code and libraries");
        lock_blocking(&lock)
            .map_err(|e| fail(format!("failed to lock {}: {e}", lock_path.display())))?;
    }
    if let Ok(reason) = std::fs::read_to_string(dir.join(FAILED_FILE)) {
        return Err(fail(reason));
    }
    let plan: EnvPlan = std::fs::read(dir.join(PLAN_FILE))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| {
            fail(format!(
                "failed to read {}: {e}",
                dir.join(PLAN_FILE).display()
            ))
        })?;
    let result = plan.code.as_ref().map_or(Ok(()), checkout).and_then(|()| {
        let venv = dir.join(VENV_DIR);
        if !plan.has_libs() {
            Ok(())
        } else if venv.join(READY_FILE).exists() {
            println!(
                "opendlc: the job's Python environment is ready: {}",
                venv.display()
            );
            Ok(())
        } else {
            build(&venv, &plan)
        }
    });
    if let Err(failure) = &result {
        let _ = std::fs::write(dir.join(FAILED_FILE), &failure.message);
    }
    result
}

/// A git configuration that trusts every repository, beside `dest`: the clone's global one.
fn trusting_git_config(dest: &Path) -> Result<PathBuf, Failure> {
    let file = dest.with_file_name(".opendlc-gitconfig");
    std::fs::write(&file, "[safe]\n\tdirectory = *\n")
        .map_err(|e| fail(format!("failed to write {}: {e}", file.display())))?;
    Ok(file)
}

/// Clones the code once per job; later pods (and restarts) find it there.
fn checkout(code: &CodeCheckout) -> Result<(), Failure> {
    let done = code.dest.join(".git/opendlc-checked-out");
    if done.exists() {
        println!("opendlc: the code is checked out: {}", code.dest.display());
        return Ok(());
    }
    println!(
        "opendlc: checking out {} at {} into {}",
        code.repo,
        code.revision,
        code.dest.display()
    );
    let _ = std::fs::remove_dir_all(&code.dest);
    let what = "CodeSource could not be checked out";
    run(
        Command::new("git")
            // The repository is one an administrator registered (sources.yaml), owned by
            // them, while the pod runs as its owner: git must not refuse it as "dubious".
            // Only a global configuration is heeded for that (not `-c`, not the environment).
            .env("GIT_CONFIG_GLOBAL", trusting_git_config(&code.dest)?)
            .args(["clone", "--quiet", "--no-checkout", &code.repo])
            .arg(&code.dest),
        what,
        "git clone",
    )?;
    run(
        Command::new("git").arg("-C").arg(&code.dest).args([
            "checkout",
            "--quiet",
            &code.revision,
            "--",
        ]),
        what,
        "git checkout",
    )?;
    std::fs::write(&done, b"").map_err(|e| {
        fail(format!(
            "failed to mark {} checked out: {e}",
            code.dest.display()
        ))
    })
}

fn build(venv: &Path, plan: &EnvPlan) -> Result<(), Failure> {
    let what = "ThirdpartyLibs could not be installed";
    let python = system_python(venv)
        .ok_or_else(|| fail(format!("{what}: there is no python3 on the pods' PATH")))?;
    println!(
        "opendlc: installing ThirdpartyLibs into {} ({})",
        venv.display(),
        python.display()
    );
    let _ = std::fs::remove_dir_all(venv);
    run(
        Command::new(&python)
            .args(["-m", "venv", "--system-site-packages"])
            .arg(venv),
        what,
        "python3 -m venv",
    )?;
    let mut pip = Command::new(venv.join("bin/python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
    ])
    .args(&plan.libs);
    match &plan.requirements {
        Some(requirements) if requirements.is_file() => {
            pip.arg("--requirement").arg(requirements);
        }
        Some(requirements) => println!(
            "opendlc: ThirdpartyLibDir has no {}: nothing to install from it",
            requirements.display()
        ),
        None => {}
    }
    if plan.libs.is_empty() && !plan.requirements.as_deref().is_some_and(Path::is_file) {
        std::fs::write(venv.join(READY_FILE), b"")
            .map_err(|e| fail(format!("failed to mark {} ready: {e}", venv.display())))?;
        return Ok(());
    }
    run(&mut pip, what, "pip install")?;
    std::fs::write(venv.join(READY_FILE), b"")
        .map_err(|e| fail(format!("failed to mark {} ready: {e}", venv.display())))?;
    println!("opendlc: ThirdpartyLibs are installed");
    Ok(())
}

/// Runs a step with the pod's stdout and stderr (the pod log); `what` says what fails if it
/// does.
fn run(command: &mut Command, what: &str, step: &str) -> Result<(), Failure> {
    let status = command
        .status()
        .map_err(|e| fail(format!("{what}: failed to run {step}: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let code = status.code().unwrap_or(1);
    Err(Failure {
        message: format!("{what}: {step} exited with code {code} (its output is in the pod log)"),
        code,
    })
}

/// `python3` on PATH, skipping the job's own venv (the pods' PATH starts with it).
fn system_python(venv: &Path) -> Option<PathBuf> {
    let own = venv.join("bin");
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| *d != own)
        .map(|d| d.join("python3"))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn lock_blocking(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: as above.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
