//! Sanity checks (`Settings.EnableSanityCheck`): before the job's command runs, every pod checks
//! its environment, its device, and its links to the other pods, in five phases named as PAI
//! names them. This module holds what is decided without I/O: the phases, the settings
//! (`SanityCheckArgs`), and the plan each pod's checker follows.

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// The phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// The pod can run its command: the program resolves, the working directory and mounts
    /// exist, the pod's port is free.
    CheckInit,
    /// Each device computes correctly at a plausible speed (a CPU check on a GPU-less pod).
    DeviceCheck,
    /// Bandwidth within the pod (memory, loopback).
    SingleNodeCommCheck,
    /// Each pod and its partner (rank XOR 1) exchange data: latency and bandwidth.
    TwoNodeCommCheck,
    /// Every pod reaches every other pod's port.
    AllNodeCommCheck,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::CheckInit,
        Phase::DeviceCheck,
        Phase::SingleNodeCommCheck,
        Phase::TwoNodeCommCheck,
        Phase::AllNodeCommCheck,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::CheckInit => "CheckInit",
            Phase::DeviceCheck => "DeviceCheck",
            Phase::SingleNodeCommCheck => "SingleNodeCommCheck",
            Phase::TwoNodeCommCheck => "TwoNodeCommCheck",
            Phase::AllNodeCommCheck => "AllNodeCommCheck",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// When checks run (`--sanity-check-timing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// Before the job's first start (PAI's `BeforeJob`, the default).
    pub before_job: bool,
    /// Before every restart (PAI's `AfterJobFaultTolerant`).
    pub after_fault: bool,
}

/// What to do when a check fails or times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Fail the job with the check's message as the reason (the default).
    MarkJobFail,
    /// Record the result and start the job anyway.
    ContinueJob,
}

/// `SanityCheckArgs`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub timing: Timing,
    pub phases: Vec<Phase>,
    /// Seconds the whole check may take before it counts as failed.
    pub timeout_secs: u64,
    pub on_failure: OnFailure,
    pub on_timeout: OnFailure,
}

pub const DEFAULT_TIMEOUT_SECS: u64 = 300;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timing: Timing {
                before_job: true,
                after_fault: false,
            },
            phases: Phase::ALL.to_vec(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            on_failure: OnFailure::MarkJobFail,
            on_timeout: OnFailure::MarkJobFail,
        }
    }
}

/// `SanityCheckArgs` that do not parse. The message names the flag and the value at fault; the
/// API user reads it after "Invalid parameter Settings.SanityCheckArgs: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidArgs {
    #[error("--sanity-check-timing must be BeforeJob and/or AfterJobFaultTolerant, got \"{0}\"")]
    Timing(String),
    #[error(
        "--sanity-check-phases: \"{0}\" is not one of CheckInit, DeviceCheck, \
         SingleNodeCommCheck, TwoNodeCommCheck, AllNodeCommCheck"
    )]
    UnknownPhase(String),
    #[error("--sanity-check-phases names no phase")]
    NoPhase,
    #[error("--sanity-check-timeout must be 1 to 86400 seconds, got \"{0}\"")]
    Timeout(String),
    /// `--sanity-check-timeout-ops` or `--sanity-check-failure-ops` (`flag`).
    #[error("{flag} must be MarkJobFail or ContinueJob, got \"{value}\"")]
    OnFailure { flag: String, value: String },
    #[error(
        "unknown flag \"{0}\" (known: --sanity-check-timing, --sanity-check-phases, \
         --sanity-check-timeout, --sanity-check-timeout-ops, --sanity-check-failure-ops)"
    )]
    UnknownFlag(String),
}

fn on_failure(flag: &str, value: &str) -> Result<OnFailure, InvalidArgs> {
    match value {
        "MarkJobFail" => Ok(OnFailure::MarkJobFail),
        "ContinueJob" => Ok(OnFailure::ContinueJob),
        other => Err(InvalidArgs::OnFailure {
            flag: flag.to_string(),
            value: other.to_string(),
        }),
    }
}

/// Parses `SanityCheckArgs` (space-separated `--flag=value`):
/// `--sanity-check-timing=BeforeJob|AfterJobFaultTolerant|BeforeJob,AfterJobFaultTolerant`,
/// `--sanity-check-phases=CheckInit,DeviceCheck,…`, `--sanity-check-timeout=SECONDS`,
/// `--sanity-check-timeout-ops=MarkJobFail|ContinueJob`,
/// `--sanity-check-failure-ops=MarkJobFail|ContinueJob`. Unknown flags are an error that names
/// them (a typo would otherwise silently change nothing).
pub fn parse_args(args: &str) -> Result<Settings, InvalidArgs> {
    let mut settings = Settings::default();
    for word in args.split_whitespace() {
        let (flag, value) = word.split_once('=').unwrap_or((word, ""));
        match flag {
            "--sanity-check-timing" => {
                let mut timing = Timing::default();
                for part in value.split(',') {
                    match part.trim() {
                        "BeforeJob" => timing.before_job = true,
                        "AfterJobFaultTolerant" => timing.after_fault = true,
                        other => return Err(InvalidArgs::Timing(other.to_string())),
                    }
                }
                settings.timing = timing;
            }
            "--sanity-check-phases" => {
                let mut phases = Vec::new();
                for part in value.split(',').filter(|p| !p.trim().is_empty()) {
                    let phase = Phase::parse(part)
                        .ok_or_else(|| InvalidArgs::UnknownPhase(part.to_string()))?;
                    if !phases.contains(&phase) {
                        phases.push(phase);
                    }
                }
                if phases.is_empty() {
                    return Err(InvalidArgs::NoPhase);
                }
                phases.sort();
                settings.phases = phases;
            }
            "--sanity-check-timeout" => {
                settings.timeout_secs = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
                    .ok_or_else(|| InvalidArgs::Timeout(value.to_string()))?;
            }
            "--sanity-check-timeout-ops" => settings.on_timeout = on_failure(flag, value)?,
            "--sanity-check-failure-ops" => settings.on_failure = on_failure(flag, value)?,
            other => return Err(InvalidArgs::UnknownFlag(other.to_string())),
        }
    }
    Ok(settings)
}

/// The outcome of one phase on one pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub phase: Phase,
    pub passed: bool,
    pub message: String,
    pub started: Millis,
    pub finished: Millis,
}

/// Where a pod's checker finds its peers: `host:port` of every pod, by rank, comma-separated.
/// Set in the pod's environment with symbolic addresses ([`crate::env_value`]) that the
/// pod's runtime fills in once the pods are placed, so it holds on every runtime; it takes
/// the place of [`CheckPlan::peers`].
pub const PEERS_ENV: &str = "OPENDLC_SANITY_PEERS";

/// What one pod's checker needs: written by the server into the pod's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckPlan {
    pub rank: usize,
    /// `host:port` of every pod, by rank; this pod listens on its own. The checker takes them
    /// from [`PEERS_ENV`] when its environment has it.
    #[serde(default)]
    pub peers: Vec<String>,
    pub phases: Vec<Phase>,
    pub timeout_secs: u64,
    /// The job's command (CheckInit resolves its program).
    pub command: String,
    pub workdir: String,
    /// Paths that must exist (mount points of data sources and code).
    pub mounts: Vec<String>,
    /// GPUs this pod may use (`CUDA_VISIBLE_DEVICES`); empty for a CPU pod.
    pub gpus: Vec<String>,
}

/// The partner of `rank` in the two-node check: ranks pair up (0–1, 2–3, …); the last of an
/// odd count pairs with rank 0. `None` for a single pod.
pub fn partner(rank: usize, pods: usize) -> Option<usize> {
    if pods < 2 {
        return None;
    }
    let mate = rank ^ 1;
    Some(if mate < pods { mate } else { 0 })
}

/// One phase's result over all pods: failed if any pod failed (the messages of the failed
/// pods, by pod), else passed with the first pod's message as a sample.
pub fn combine(phase: Phase, per_pod: &[(String, PhaseResult)]) -> Option<PhaseResult> {
    let results: Vec<&(String, PhaseResult)> =
        per_pod.iter().filter(|(_, r)| r.phase == phase).collect();
    let first = results.first()?;
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, r)| !r.passed)
        .map(|(pod, r)| format!("{pod}: {}", r.message))
        .collect();
    Some(PhaseResult {
        phase,
        passed: failed.is_empty(),
        message: if failed.is_empty() {
            format!(
                "{} pod(s) passed; {}: {}",
                results.len(),
                first.0,
                first.1.message
            )
        } else {
            failed.join("; ")
        },
        started: results.iter().map(|(_, r)| r.started).min().unwrap_or(0),
        finished: results.iter().map(|(_, r)| r.finished).max().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_every_phase_before_the_job() {
        let s = parse_args("").unwrap();
        assert_eq!(s, Settings::default());
        assert!(s.timing.before_job && !s.timing.after_fault);
        assert_eq!(s.phases.len(), 5);
    }

    #[test]
    fn args_are_parsed_and_typos_named() {
        let s = parse_args(
            "--sanity-check-timing=AfterJobFaultTolerant --sanity-check-timeout-ops=ContinueJob \
             --sanity-check-phases=AllNodeCommCheck,CheckInit --sanity-check-timeout=30",
        )
        .unwrap();
        assert!(!s.timing.before_job && s.timing.after_fault);
        assert_eq!(s.on_timeout, OnFailure::ContinueJob);
        assert_eq!(s.phases, vec![Phase::CheckInit, Phase::AllNodeCommCheck]);
        assert_eq!(s.timeout_secs, 30);
        assert!(parse_args("--sanity-check-timming=BeforeJob")
            .unwrap_err()
            .to_string()
            .contains("--sanity-check-timming"));
        assert!(parse_args("--sanity-check-phases=GpuCheck")
            .unwrap_err()
            .to_string()
            .contains("GpuCheck"));
    }

    #[test]
    fn each_error_names_the_flag_and_the_value() {
        let message = |args| parse_args(args).unwrap_err().to_string();
        assert_eq!(
            message("--sanity-check-timing=Never"),
            r#"--sanity-check-timing must be BeforeJob and/or AfterJobFaultTolerant, got "Never""#
        );
        assert_eq!(
            message("--sanity-check-phases=GpuCheck"),
            r#"--sanity-check-phases: "GpuCheck" is not one of CheckInit, DeviceCheck, SingleNodeCommCheck, TwoNodeCommCheck, AllNodeCommCheck"#
        );
        assert_eq!(
            message("--sanity-check-phases=,"),
            "--sanity-check-phases names no phase"
        );
        assert_eq!(
            message("--sanity-check-timeout=0"),
            r#"--sanity-check-timeout must be 1 to 86400 seconds, got "0""#
        );
        assert_eq!(
            message("--sanity-check-failure-ops=Retry"),
            r#"--sanity-check-failure-ops must be MarkJobFail or ContinueJob, got "Retry""#
        );
        assert_eq!(
            message("--sanity-check=on"),
            r#"unknown flag "--sanity-check" (known: --sanity-check-timing, --sanity-check-phases, --sanity-check-timeout, --sanity-check-timeout-ops, --sanity-check-failure-ops)"#
        );
    }

    #[test]
    fn partners_pair_up_and_the_odd_one_joins_rank_zero() {
        assert_eq!(partner(0, 1), None);
        assert_eq!(
            (0..5).map(|r| partner(r, 5).unwrap()).collect::<Vec<_>>(),
            vec![1, 0, 3, 2, 0]
        );
    }

    #[test]
    fn a_phase_fails_if_any_pod_failed() {
        let result = |passed, message: &str| PhaseResult {
            phase: Phase::DeviceCheck,
            passed,
            message: message.into(),
            started: 10,
            finished: 20,
        };
        let per_pod = vec![
            ("w0".to_string(), result(true, "ok")),
            ("w1".to_string(), result(false, "too slow")),
        ];
        let combined = combine(Phase::DeviceCheck, &per_pod).unwrap();
        assert!(!combined.passed);
        assert_eq!(combined.message, "w1: too slow");
        assert!(combine(Phase::CheckInit, &per_pod).is_none());
    }
}
