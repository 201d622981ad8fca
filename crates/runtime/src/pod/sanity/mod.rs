//! The sanity checker a pod runs before its command (`opendlc sanity-check --plan FILE --out
//! FILE`): the phases of [`opendlc_core::sanity`], for real, on this pod.
//!
//! Every pod listens on its own port for the whole check (the job's command is not running
//! yet, so the port is free) and answers its peers' probes; once it has finished its own phases
//! it tells every peer so, and it leaves when every peer has told it the same, so no pod quits
//! while another still needs it. Synchronous: std threads and sockets.

mod device;
mod net;

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opendlc_core::sanity::{partner, CheckPlan, Phase, PhaseResult, PEERS_ENV};
use opendlc_core::time::now_millis;

use crate::pod_dir::{write_json_atomic, Durability};

/// Runs the plan; returns one result per phase, in order. A phase that cannot run because an
/// earlier one failed (no listener, say) fails with a message saying so.
pub fn run(plan: &CheckPlan) -> Vec<PhaseResult> {
    let deadline = Instant::now() + Duration::from_secs(plan.timeout_secs);
    let own = plan.peers.get(plan.rank).cloned().unwrap_or_default();
    let finished = Arc::new(Mutex::new(HashSet::new()));
    let listener = TcpListener::bind(bind_address(&own)).map(|l| {
        net::serve(l, finished.clone());
    });
    let mut results = Vec::new();
    for phase in &plan.phases {
        let started = now_millis();
        let outcome = match (phase, &listener) {
            (Phase::CheckInit, listening) => check_init(plan, listening.as_ref().err()),
            (_, Err(e)) => Err(format!("no listener on {own}: {e}")),
            (Phase::DeviceCheck, _) => device::check(&plan.gpus),
            (Phase::SingleNodeCommCheck, _) => net::single_node(&own),
            (Phase::TwoNodeCommCheck, _) => match partner(plan.rank, plan.peers.len()) {
                None => Ok("one pod: no partner to check".into()),
                Some(mate) => net::two_node(&plan.peers[mate], deadline),
            },
            (Phase::AllNodeCommCheck, _) => net::all_nodes(plan.rank, &plan.peers, deadline),
        };
        let (passed, message) = match outcome {
            Ok(message) => (true, message),
            Err(message) => (false, message),
        };
        results.push(PhaseResult {
            phase: *phase,
            passed,
            message,
            started,
            finished: now_millis(),
        });
    }
    if listener.is_ok() {
        net::finish(plan.rank, &plan.peers, &finished, deadline);
    }
    results
}

/// Listens on every interface at the pod's port (peers may reach it by any address).
fn bind_address(own: &str) -> String {
    let port = own.rsplit(':').next().unwrap_or("0");
    format!("0.0.0.0:{port}")
}

fn check_init(plan: &CheckPlan, listen_error: Option<&std::io::Error>) -> Result<String, String> {
    let mut problems = Vec::new();
    if let Some(e) = listen_error {
        problems.push(format!("port {} is not free: {e}", plan.peers[plan.rank]));
    }
    if !Path::new(&plan.workdir).is_dir() {
        problems.push(format!("working directory {} does not exist", plan.workdir));
    }
    for mount in &plan.mounts {
        if !Path::new(mount).exists() {
            problems.push(format!("mount point {mount} does not exist"));
        }
    }
    let program = program_of(&plan.command);
    match &program {
        Some(program) if !resolves(program) => problems.push(format!(
            "the command's program \"{program}\" is not on PATH"
        )),
        _ => {}
    }
    if problems.is_empty() {
        Ok(format!(
            "command {} resolves, working directory and {} mount(s) present, port free",
            program.as_deref().unwrap_or("(shell)"),
            plan.mounts.len()
        ))
    } else {
        Err(problems.join("; "))
    }
}

/// The program a shell command starts with, unless it starts with a shell builtin, keyword or
/// something only the shell understands (then there is nothing to resolve).
fn program_of(command: &str) -> Option<String> {
    const SHELL_WORDS: &[&str] = &[
        "cd", "echo", "exec", "exit", "export", "for", "if", "while", "until", "case", "set",
        "source", ".", "true", "false", "test", "[", "read", "printf", "sleep", "trap", "wait",
        "{", "(", "!", "time", "eval", "ulimit", "umask", "kill", "unset", ":",
    ];
    // Skip leading `NAME=value` assignments.
    let word = command
        .split_whitespace()
        .find(|w| !w.contains('=') || w.starts_with('='))?;
    let word = word.trim_end_matches(';');
    if word.is_empty() || SHELL_WORDS.contains(&word) || word.contains(['$', '`', '(', '"', '\'']) {
        return None;
    }
    Some(word.to_string())
}

fn resolves(program: &str) -> bool {
    let executable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| executable(&dir.join(program))))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;

/// `opendlc sanity-check --plan FILE --out FILE`: runs the plan, prints one line per phase
/// (they land in the pod's log), writes the results as JSON; exit code 0 when every phase
/// passed, 1 when one failed, 2 when the plan cannot be read or the results not written.
pub fn main(plan_path: &Path, out_path: &Path) -> i32 {
    let mut plan: CheckPlan = match std::fs::read(plan_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("sanity check: cannot read {}: {e}", plan_path.display());
            return 2;
        }
    };
    // The runtime filled the peers' addresses in (the plan was written before they were known).
    if let Ok(peers) = std::env::var(PEERS_ENV) {
        plan.peers = peers.split(',').map(str::to_string).collect();
    }
    let results = run(&plan);
    for r in &results {
        let verdict = if r.passed { "passed" } else { "FAILED" };
        println!("sanity check {} {verdict}: {}", r.phase.as_str(), r.message);
    }
    if let Err(e) = write_json_atomic(out_path, &results, Durability::PowerLoss) {
        eprintln!("sanity check: cannot write {}: {e}", out_path.display());
        return 2;
    }
    if results.iter().all(|r| r.passed) {
        0
    } else {
        1
    }
}
