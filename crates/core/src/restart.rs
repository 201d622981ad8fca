//! Restart policies (`JobSpec.RestartPolicy`): whether a pod's end restarts the job's pods.
//!
//! | policy    | restarts after                                                          |
//! |-----------|-------------------------------------------------------------------------|
//! | Never     | nothing (the default)                                                   |
//! | OnFailure | any failure                                                             |
//! | Always    | any end, success included (services)                                    |
//! | ExitCode  | a retryable exit: 130 (SIGINT), 137 (SIGKILL), 143 (SIGTERM), 138 (SIGUSR1), or a lost pod; every other code is permanent (1, 2, 126, 127, 128, 139 and the rest) |
//!
//! A restart restarts the whole gang (ranks cannot rejoin a torch/NCCL world alone), or only
//! the failed pod with `--job-execution-mode=Async`. The job's budget and PAI's job-level fault
//! tolerance come from `Settings.ErrorMonitoringArgs` ([`crate::monitoring`]).
//!
//! Each restart has a [`Cause`], and each cause a [`Source`]: failures of the job's own code
//! (whatever exit code it returns) spend the job's restart budget (`RestartTimes`); failures
//! from outside it (a lost pod, a signal from outside) spend a budget of their own, the same
//! size, so a flaky node does not use up the restarts a user counted on for their code.

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

/// What ended a pod so that its job restarts (the restart record's `ErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Its command exited with a code of its own (not one of the signal codes below).
    ExitCode(i32),
    /// Its command exited with the code of a kill (130, 137, 143, 138: as a shell reports that
    /// its child was interrupted or killed): retryable under RestartPolicy ExitCode.
    KilledExitCode(i32),
    /// Its command crashed: SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGTRAP or SIGSYS.
    Crashed(i32),
    /// Its command was killed by this signal from outside the pod (not for its memory).
    Killed(i32),
    /// The kernel killed a process of the pod for going over its memory limit.
    OutOfMemory,
    /// It was evicted for its SystemDisk.
    Evicted,
    /// Its supervisor or its node was lost.
    Lost,
    /// The job was hung: no log output, or a pod ended while the others hung on.
    Hang,
    /// It succeeded, and RestartPolicy Always runs it again.
    Completed,
}

/// Whose failure a [`Cause`] is, and so whose restart budget it spends (`ErrorSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The job's own code or what it asked for (its limits).
    User,
    /// What runs the job: its node, its supervisor, a kill from outside.
    Infrastructure,
}

/// Signals a process gets from its own fault.
const CRASH_SIGNALS: &[i32] = &[4, 5, 6, 7, 8, 11, 31];

impl Cause {
    /// A pod's cause from how it ended: its exit code or signal, and the reason the runtime
    /// gave (`OOMKilled: ...`, `Evicted: ...`, or `was lost: ...` for a pod with neither).
    pub fn of_end(
        status: crate::status::PodStatus,
        exit_code: Option<i32>,
        exit_signal: Option<i32>,
        reason: Option<&str>,
    ) -> Cause {
        let reason = reason.unwrap_or_default();
        if status == crate::status::PodStatus::Succeeded {
            return Cause::Completed;
        }
        if reason.starts_with("OOMKilled") {
            return Cause::OutOfMemory;
        }
        if reason.starts_with("Evicted") {
            return Cause::Evicted;
        }
        match (exit_code, exit_signal) {
            (Some(code), _) if RETRYABLE_EXIT_CODES.contains(&code) => Cause::KilledExitCode(code),
            (Some(code), _) => Cause::ExitCode(code),
            (None, Some(signal)) if CRASH_SIGNALS.contains(&signal) => Cause::Crashed(signal),
            (None, Some(signal)) => Cause::Killed(signal),
            (None, None) => Cause::Lost,
        }
    }

    /// An exit code is the command's own answer, whatever it says (a shell passing on its
    /// child's kill included): the job's. A signal that is no crash, or a lost pod, came from
    /// outside it.
    pub fn source(self) -> Source {
        match self {
            Cause::Killed(_) | Cause::Lost => Source::Infrastructure,
            Cause::ExitCode(_)
            | Cause::KilledExitCode(_)
            | Cause::Crashed(_)
            | Cause::OutOfMemory
            | Cause::Evicted
            | Cause::Hang
            | Cause::Completed => Source::User,
        }
    }

    /// The restart record's `ErrorCode`.
    pub fn code(self) -> &'static str {
        match self {
            Cause::ExitCode(_) => "ExitCode",
            Cause::KilledExitCode(_) => "KilledExitCode",
            Cause::Crashed(_) => "Crashed",
            Cause::Killed(_) => "Killed",
            Cause::OutOfMemory => "OOMKilled",
            Cause::Evicted => "Evicted",
            Cause::Lost => "PodLost",
            Cause::Hang => "JobHang",
            Cause::Completed => "Completed",
        }
    }

    /// The cause from its `ErrorCode` and its code or signal (as [`Cause::value`] gives it).
    pub fn from_code(code: &str, value: Option<i32>) -> Option<Cause> {
        let v = value.unwrap_or_default();
        Some(match code {
            "ExitCode" => Cause::ExitCode(v),
            "KilledExitCode" => Cause::KilledExitCode(v),
            "Crashed" => Cause::Crashed(v),
            "Killed" => Cause::Killed(v),
            "OOMKilled" => Cause::OutOfMemory,
            "Evicted" => Cause::Evicted,
            "PodLost" => Cause::Lost,
            "JobHang" => Cause::Hang,
            "Completed" => Cause::Completed,
            _ => return None,
        })
    }

    /// The exit code or signal the cause carries.
    pub fn value(self) -> Option<i32> {
        match self {
            Cause::ExitCode(v)
            | Cause::KilledExitCode(v)
            | Cause::Crashed(v)
            | Cause::Killed(v) => Some(v),
            _ => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::User => "User",
            Source::Infrastructure => "Infrastructure",
        })
    }
}

impl std::fmt::Display for Cause {
    /// What happened, in words, for the restart's message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::ExitCode(code) => write!(
                f,
                "its command exited with code {code} (permanent under RestartPolicy ExitCode)"
            ),
            Cause::KilledExitCode(code) => write!(
                f,
                "its command exited with code {code}, as for a kill ({}; retryable under \
                 RestartPolicy ExitCode)",
                signal_name(code - 128)
            ),
            Cause::Crashed(signal) => write!(f, "its command crashed ({})", signal_name(*signal)),
            Cause::Killed(signal) => write!(
                f,
                "its command was killed from outside ({})",
                signal_name(*signal)
            ),
            Cause::OutOfMemory => f.write_str("it went over its memory limit"),
            Cause::Evicted => f.write_str("it was evicted for its SystemDisk"),
            Cause::Lost => f.write_str("it was lost (its supervisor or its node went away)"),
            Cause::Hang => f.write_str("the job hung"),
            Cause::Completed => f.write_str("it completed"),
        }
    }
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        31 => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
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
    fn causes_and_whose_budget_they_spend() {
        use crate::status::PodStatus::{Failed, Succeeded};
        let cause = |code, signal, reason| Cause::of_end(Failed, code, signal, reason);
        assert_eq!(cause(Some(1), None, None), Cause::ExitCode(1));
        assert_eq!(cause(Some(137), None, None), Cause::KilledExitCode(137));
        assert_eq!(cause(None, Some(11), None), Cause::Crashed(11));
        assert_eq!(cause(None, Some(9), None), Cause::Killed(9));
        assert_eq!(
            cause(
                None,
                Some(9),
                Some("OOMKilled: a process of the pod went over")
            ),
            Cause::OutOfMemory
        );
        assert_eq!(
            cause(Some(137), None, Some("Evicted: past its SystemDisk")),
            Cause::Evicted
        );
        assert_eq!(
            cause(None, None, Some("was lost: the shim died")),
            Cause::Lost
        );
        assert_eq!(
            Cause::of_end(Succeeded, Some(0), None, None),
            Cause::Completed
        );
        for user in [
            Cause::ExitCode(1),
            Cause::KilledExitCode(137),
            Cause::Crashed(11),
            Cause::OutOfMemory,
            Cause::Evicted,
            Cause::Hang,
        ] {
            assert_eq!(user.source(), Source::User, "{user:?}");
        }
        for outside in [Cause::Killed(9), Cause::Lost] {
            assert_eq!(outside.source(), Source::Infrastructure, "{outside:?}");
        }
        for cause in [
            Cause::ExitCode(3),
            Cause::Killed(15),
            Cause::Lost,
            Cause::Hang,
        ] {
            assert_eq!(Cause::from_code(cause.code(), cause.value()), Some(cause));
        }
        assert_eq!(
            Cause::KilledExitCode(143).to_string(),
            "its command exited with code 143, as for a kill (SIGTERM; retryable under \
             RestartPolicy ExitCode)"
        );
    }

    #[test]
    fn the_other_policies() {
        assert!(!RestartPolicy::Never.restarts_after(PodEnd::Exited(137)));
        assert!(RestartPolicy::OnFailure.restarts_after(PodEnd::Exited(1)));
        assert!(!RestartPolicy::OnFailure.restarts_after(PodEnd::Succeeded));
        assert!(RestartPolicy::Always.restarts_after(PodEnd::Succeeded));
    }
}
