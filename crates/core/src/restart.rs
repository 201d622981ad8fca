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
//! budget and PAI's job-level fault tolerance come from `Settings.ErrorMonitoringArgs`
//! ([`crate::monitoring`]).

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
}
