//! The Slurm commands the runtime runs on the server host (`sbatch`, `squeue`, `scancel`),
//! and the parsing of their output. They find the cluster the usual way (`SLURM_CONF`, or the
//! host's own configuration).

use std::path::Path;

use tokio::process::Command;

use crate::error::RuntimeError;

/// A Slurm job's state as `squeue -t all` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub slurm_job_id: String,
    /// PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, …
    pub state: String,
    /// Why it waits or ended (Resources, Priority, None, …).
    pub reason: String,
    pub nodes: String,
}

impl JobState {
    pub fn is_pending(&self) -> bool {
        self.state == "PENDING" || self.state == "CONFIGURING" || self.state == "REQUEUED"
    }

    pub fn is_over(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "PENDING"
                | "CONFIGURING"
                | "RUNNING"
                | "COMPLETING"
                | "REQUEUED"
                | "RESIZING"
                | "SUSPENDED"
                | "STAGE_OUT"
                | "SIGNALING"
        )
    }
}

async fn run(program: &str, args: &[&str]) -> Result<std::process::Output, RuntimeError> {
    Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| RuntimeError::Slurm(format!("failed to run {program}: {e}")))
}

fn failure(program: &str, output: &std::process::Output) -> RuntimeError {
    RuntimeError::Slurm(format!(
        "{program} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// The cluster's name (`ClusterName` of `scontrol show config`), if the cluster answers.
pub async fn cluster_name() -> Option<String> {
    let output = run("scontrol", &["show", "config"]).await.ok()?;
    if !output.status.success() {
        return None;
    }
    parse_cluster_name(&String::from_utf8_lossy(&output.stdout))
}

/// The cluster's nodes (`sinfo -N`), each once.
pub async fn nodes() -> Result<Vec<String>, RuntimeError> {
    let output = run("sinfo", &["-h", "-N", "-o", "%N"]).await?;
    if !output.status.success() {
        return Err(failure("sinfo", &output));
    }
    Ok(parse_nodes(&String::from_utf8_lossy(&output.stdout)))
}

/// One node name per line, a node once per partition it is in.
pub fn parse_nodes(stdout: &str) -> Vec<String> {
    let names: std::collections::BTreeSet<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    names.into_iter().map(String::from).collect()
}

/// `ClusterName              = opendlc` among the configuration's lines.
pub fn parse_cluster_name(config: &str) -> Option<String> {
    config.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "ClusterName")
            .then(|| value.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// Submits a batch script, as the account `owner` (uid, gid) when given (the server is root);
/// returns the Slurm job id.
pub async fn sbatch(script: &Path, owner: Option<(u32, u32)>) -> Result<String, RuntimeError> {
    let mut args = vec!["--parsable".to_string()];
    if let Some((uid, gid)) = owner {
        args.push(format!("--uid={uid}"));
        args.push(format!("--gid={gid}"));
    }
    args.push(script.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run("sbatch", &args).await?;
    if !output.status.success() {
        return Err(failure("sbatch", &output));
    }
    parse_sbatch(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| RuntimeError::Slurm("sbatch did not print a job id".into()))
}

/// `--parsable` prints `ID` or `ID;CLUSTER`.
pub fn parse_sbatch(stdout: &str) -> Option<String> {
    let id = stdout.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

/// The states of the given jobs. Jobs Slurm no longer knows are absent from the answer.
pub async fn squeue(ids: &[String]) -> Result<Vec<JobState>, RuntimeError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = ids.join(",");
    let output = run(
        "squeue",
        &["-h", "-t", "all", "-j", &list, "-o", "%i|%T|%r|%N"],
    )
    .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // One unknown id among several is silently left out; a single unknown one is an error.
    if !output.status.success() && !stderr.contains("Invalid job id") {
        return Err(failure("squeue", &output));
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&output.stdout)))
}

/// One line per job, or per component of a heterogeneous job (`12+0`, `12+1`): merged into
/// one state per job (the least advanced component's state; pending reasons of the first).
pub fn parse_squeue(stdout: &str) -> Vec<JobState> {
    let mut out: Vec<JobState> = Vec::new();
    for line in stdout.lines() {
        let mut f = line.split('|');
        let (Some(id), Some(state), Some(reason), nodes) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let id = id.trim().split('+').next().unwrap_or_default().to_string();
        let state = JobState {
            slurm_job_id: id,
            state: state.trim().to_string(),
            reason: reason.trim().to_string(),
            nodes: nodes.unwrap_or_default().trim().to_string(),
        };
        match out
            .iter_mut()
            .find(|s| s.slurm_job_id == state.slurm_job_id)
        {
            Some(known) => {
                if !known.is_pending()
                    && (state.is_pending() || known.is_over() && !state.is_over())
                {
                    known.state = state.state;
                    known.reason = state.reason;
                }
                if !state.nodes.is_empty() {
                    if !known.nodes.is_empty() {
                        known.nodes.push(',');
                    }
                    known.nodes.push_str(&state.nodes);
                }
            }
            None => out.push(state),
        }
    }
    out
}

pub async fn is_alive(slurm_job_id: &str) -> bool {
    match squeue(&[slurm_job_id.to_string()]).await {
        Ok(states) => states.iter().any(|s| !s.is_over()),
        Err(_) => false,
    }
}

/// How [`scancel`] ends a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// Cancel it outright (a waiting job).
    Job,
    /// SIGTERM to its srun steps: the shims stop their pods with their grace period, and the
    /// job ends when the steps do.
    TermSteps,
    /// SIGTERM to its batch step, where a gang of one pod runs its shim.
    TermBatch,
}

pub async fn scancel(slurm_job_id: &str, how: Cancel) -> Result<(), RuntimeError> {
    let args: Vec<&str> = match how {
        Cancel::Job => vec![slurm_job_id],
        Cancel::TermSteps => vec!["--signal=TERM", slurm_job_id],
        Cancel::TermBatch => vec!["--signal=TERM", "--batch", slurm_job_id],
    };
    let output = run("scancel", &args).await?;
    if !output.status.success() {
        return Err(failure("scancel", &output));
    }
    Ok(())
}

/// Stops a job in any state: a waiting one is cancelled, a running one's pods get SIGTERM
/// (in its batch step when `batch_step`, else in its srun steps).
pub async fn stop(slurm_job_id: &str, batch_step: bool) -> Result<(), RuntimeError> {
    let states = squeue(&[slurm_job_id.to_string()]).await?;
    let term = if batch_step {
        Cancel::TermBatch
    } else {
        Cancel::TermSteps
    };
    match states.first() {
        Some(s) if s.is_pending() => scancel(slurm_job_id, Cancel::Job).await,
        Some(s) if !s.is_over() => scancel(slurm_job_id, term).await,
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_name_is_read_from_the_configuration() {
        let config = "Configuration data as of 2026-12-02T04:08:00\nAuthType                = auth/munge\nClusterName             = opendlc\n";
        assert_eq!(parse_cluster_name(config).as_deref(), Some("opendlc"));
        assert_eq!(parse_cluster_name("AuthType = x\n"), None);
    }

    #[test]
    fn sbatch_ids_parse() {
        assert_eq!(parse_sbatch("42\n").as_deref(), Some("42"));
        assert_eq!(parse_sbatch("42;cluster\n").as_deref(), Some("42"));
        assert_eq!(parse_sbatch("Submitted batch job 42"), None);
        assert_eq!(parse_sbatch(""), None);
    }

    #[test]
    fn squeue_merges_components() {
        let out = "7+0|RUNNING|None|n1\n7+1|PENDING|Resources|\n8|PENDING|Priority|\nbad\n";
        let states = parse_squeue(out);
        assert_eq!(states.len(), 2);
        assert_eq!(states[0].slurm_job_id, "7");
        assert_eq!(states[0].state, "PENDING");
        assert_eq!(states[0].reason, "Resources");
        assert_eq!(states[0].nodes, "n1");
        assert_eq!(states[1].reason, "Priority");
        assert!(states[1].is_pending() && !states[1].is_over());
    }

    #[test]
    fn terminal_states_are_over() {
        let s = |state: &str| JobState {
            slurm_job_id: "1".into(),
            state: state.into(),
            reason: String::new(),
            nodes: String::new(),
        };
        assert!(s("COMPLETED").is_over());
        assert!(s("NODE_FAIL").is_over());
        assert!(!s("COMPLETING").is_over());
        assert!(!s("RUNNING").is_over());
    }

    #[test]
    fn nodes_are_listed_once() {
        assert_eq!(parse_nodes("n1\nn2\nn1\n\n"), ["n1", "n2"]);
    }
}
