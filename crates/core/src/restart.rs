//! Restart policies (`JobSpec.RestartPolicy`): whether a pod's end restarts the job's pods.
//!
//! | policy    | restarts after                                                          |
//! |-----------|-------------------------------------------------------------------------|
//! | Never     | nothing (the default)                                                   |
//! | OnFailure | any failure                                                             |
//! | Always    | any end, success included (services)                                    |
//! | ExitCode  | a retryable exit: 130 (SIGINT), 137 (SIGKILL), 143 (SIGTERM), 138 (SIGUSR1), or a lost pod; every other code is permanent (1, 2, 126, 127, 128, 139 and the rest) |
//!
//! A restart restarts the whole gang: ranks cannot rejoin a torch/NCCL world alone. The job's
//! budget is `Settings.ErrorMonitoringArgs`' `--max-num-of-job-restart=N` (PAI's AIMaster flag),
//! else [`DEFAULT_MAX_RESTARTS`].

use crate::status::string_enum;

string_enum! {
    /// `JobSpec.RestartPolicy`.
    RestartPolicy { Never, OnFailure, Always, ExitCode }
}

// Written out because the enum comes from `string_enum!`, which takes no variant attributes.
#[allow(clippy::derivable_impls)]
impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy::Never
    }
}

pub const DEFAULT_MAX_RESTARTS: u32 = 3;

/// Exit codes worth another try under `ExitCode`: interrupted or killed from outside.
const RETRYABLE_EXIT_CODES: &[i32] = &[130, 137, 143, 138];

/// How a pod incarnation ended, as far as restarting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodEnd {
    Succeeded,
    /// Exited with this code (a signal `s` counts as `128 + s`, as a shell reports it).
    Exited(i32),
    /// The supervisor lost the pod (its shim died): like an eviction.
    Lost,
}

impl RestartPolicy {
    pub fn restarts_after(self, end: PodEnd) -> bool {
        match (self, end) {
            (RestartPolicy::Never, _) => false,
            (RestartPolicy::Always, _) => true,
            (RestartPolicy::OnFailure, end) => end != PodEnd::Succeeded,
            (RestartPolicy::ExitCode, PodEnd::Exited(code)) => RETRYABLE_EXIT_CODES.contains(&code),
            (RestartPolicy::ExitCode, PodEnd::Lost) => true,
            (RestartPolicy::ExitCode, PodEnd::Succeeded) => false,
        }
    }
}

/// The hang interval PAI's AIMaster uses when `--job-hang-interval` is not given.
pub const DEFAULT_HANG_INTERVAL_SECS: u64 = 1800;

/// The value of `--name=V` or `--name V` in `ErrorMonitoringArgs`; `Some("")` for a bare flag.
fn arg<'a>(args: Option<&'a str>, name: &str) -> Option<&'a str> {
    let mut words = args.unwrap_or_default().split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word.strip_prefix(name) {
            Some(rest) if rest.starts_with('=') => return Some(&rest[1..]),
            Some("") => return Some(words.next_if(|w| !w.starts_with("--")).unwrap_or("")),
            _ => {}
        }
    }
    None
}

/// The restart budget from `ErrorMonitoringArgs` (`--max-num-of-job-restart=N` or `… N`).
pub fn max_restarts(error_monitoring_args: Option<&str>) -> u32 {
    arg(error_monitoring_args, "--max-num-of-job-restart")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_RESTARTS)
}

/// With `--enable-job-hang-detection` (bare, `=True` or `=true`): seconds without log output
/// from any pod after which the job counts as hung (`--job-hang-interval`, default 1800).
pub fn hang_interval_secs(error_monitoring_args: Option<&str>) -> Option<u64> {
    let enabled = arg(error_monitoring_args, "--enable-job-hang-detection")
        .is_some_and(|v| v.is_empty() || v.eq_ignore_ascii_case("true"));
    enabled.then(|| {
        arg(error_monitoring_args, "--job-hang-interval")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_HANG_INTERVAL_SECS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_table() {
        for code in [130, 137, 143, 138] {
            assert!(
                RestartPolicy::ExitCode.restarts_after(PodEnd::Exited(code)),
                "{code}"
            );
        }
        for code in [1, 2, 126, 127, 128, 139, 3, 255] {
            assert!(
                !RestartPolicy::ExitCode.restarts_after(PodEnd::Exited(code)),
                "{code}"
            );
        }
        assert!(RestartPolicy::ExitCode.restarts_after(PodEnd::Lost));
        assert!(!RestartPolicy::ExitCode.restarts_after(PodEnd::Succeeded));
    }

    #[test]
    fn the_other_policies() {
        assert!(!RestartPolicy::Never.restarts_after(PodEnd::Exited(137)));
        assert!(RestartPolicy::OnFailure.restarts_after(PodEnd::Exited(1)));
        assert!(!RestartPolicy::OnFailure.restarts_after(PodEnd::Succeeded));
        assert!(RestartPolicy::Always.restarts_after(PodEnd::Succeeded));
    }

    #[test]
    fn the_budget_comes_from_error_monitoring_args() {
        assert_eq!(max_restarts(None), DEFAULT_MAX_RESTARTS);
        assert_eq!(
            max_restarts(Some("--enable-job-restart=True --max-num-of-job-restart=5")),
            5
        );
        assert_eq!(max_restarts(Some("--max-num-of-job-restart 0")), 0);
        assert_eq!(
            max_restarts(Some("--max-num-of-job-restart=lots")),
            DEFAULT_MAX_RESTARTS
        );
    }
}
