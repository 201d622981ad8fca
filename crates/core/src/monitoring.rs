//! `Settings.ErrorMonitoringArgs`: the flags of PAI's fault-tolerance monitor (AIMaster), read
//! once at submission. Every flag PAI documents is known; any other is refused, and so is a
//! value of the wrong kind, so a typo never turns fault tolerance off unnoticed.
//!
//! | flag | default | here |
//! |---|---|---|
//! | `--job-execution-mode=Sync\|Async` | Sync | Sync: a failure restarts the whole gang; Async: a failed pod restarts alone, with the same name and rank, while the others run on |
//! | `--enable-job-restart=BOOL` | False | with `EnableErrorMonitoringInAIMaster`: a failed pod restarts the job even where its role's RestartPolicy is Never |
//! | `--max-num-of-job-restart=N` | 3 | the job's restart budget for failures of its own (exit codes, crashes, memory, hangs); failures from outside it (lost pods, kills) have a budget of N of their own |
//! | `--enable-job-hang-detection=BOOL` | False | with `EnableErrorMonitoringInAIMaster`: no log output from any pod for the interval makes the job hung: restarted, or failed once the budget is spent |
//! | `--job-hang-interval=SECS` | 1800 | that interval |
//! | `--enable-log-hang-detection=BOOL` | False | the same detection (it watches the pods' log output) |
//! | `--enable-job-exit-hang-detection=BOOL` | False | with `EnableErrorMonitoringInAIMaster`: a pod that ended while the others still run after the interval makes the job hung |
//! | `--job-exit-hang-interval=SECS` | 1800 | that interval |
//! | `--enable-c4d-hang-detection=BOOL` | False | Lingjun's C4D diagnostics: none here (noted on the job) |
//!
//! Values follow `--flag=value` or `--flag value`; a bare boolean flag means True. Booleans are
//! `True`/`False` in any case.

/// What the flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMonitoring {
    pub async_execution: bool,
    pub job_restart: bool,
    pub max_restarts: u32,
    /// Seconds without log output after which the job is hung; `None`: not watched.
    pub hang_interval: Option<u64>,
    /// Seconds a pod may have ended while the others still run; `None`: not watched.
    pub exit_hang_interval: Option<u64>,
    pub c4d: bool,
}

pub const DEFAULT_MAX_RESTARTS: u32 = 3;
/// The hang intervals PAI's AIMaster uses when none is given.
pub const DEFAULT_HANG_INTERVAL_SECS: u64 = 1800;

impl Default for ErrorMonitoring {
    fn default() -> Self {
        ErrorMonitoring {
            async_execution: false,
            job_restart: false,
            max_restarts: DEFAULT_MAX_RESTARTS,
            hang_interval: None,
            exit_hang_interval: None,
            c4d: false,
        }
    }
}

const FLAGS: &[&str] = &[
    "--job-execution-mode",
    "--enable-job-restart",
    "--max-num-of-job-restart",
    "--enable-job-hang-detection",
    "--job-hang-interval",
    "--enable-log-hang-detection",
    "--enable-job-exit-hang-detection",
    "--job-exit-hang-interval",
    "--enable-c4d-hang-detection",
];

impl ErrorMonitoring {
    /// Reads `ErrorMonitoringArgs`; the error says which flag or value is wrong, and why.
    pub fn parse(args: Option<&str>) -> Result<Self, String> {
        let mut given: Vec<(&str, &str)> = Vec::new();
        let mut words = args.unwrap_or_default().split_whitespace().peekable();
        while let Some(word) = words.next() {
            let Some(flag) = word.strip_prefix("--") else {
                return Err(format!("\"{word}\" is not a flag (flags start with --)"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, value),
                None => (flag, words.next_if(|w| !w.starts_with("--")).unwrap_or("")),
            };
            let Some(&known) = FLAGS.iter().find(|f| f[2..] == *name) else {
                return Err(format!(
                    "unknown flag --{name}; the flags are {}",
                    FLAGS.join(", ")
                ));
            };
            given.push((known, value));
        }
        let value = |flag: &str| {
            given
                .iter()
                .rev()
                .find(|(f, _)| *f == flag)
                .map(|(_, v)| *v)
        };
        let boolean = |flag: &str| -> Result<bool, String> {
            match value(flag) {
                None => Ok(false),
                Some(v) if v.is_empty() || v.eq_ignore_ascii_case("true") => Ok(true),
                Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
                Some(v) => Err(format!("{flag} takes True or False, got \"{v}\"")),
            }
        };
        let number = |flag: &str, default: u64, max: u64| -> Result<u64, String> {
            match value(flag) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(format!(
                        "{flag} takes a whole number from 0 to {max}, got \"{v}\""
                    )),
                },
            }
        };
        let async_execution = match value("--job-execution-mode") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("sync") => false,
            Some(v) if v.eq_ignore_ascii_case("async") => true,
            Some(v) => {
                return Err(format!(
                    "--job-execution-mode takes Sync or Async, got \"{v}\""
                ))
            }
        };
        const DAY: u64 = 86_400;
        let hang =
            boolean("--enable-job-hang-detection")? | boolean("--enable-log-hang-detection")?;
        let hang_interval = number("--job-hang-interval", DEFAULT_HANG_INTERVAL_SECS, 30 * DAY)?;
        let exit_hang = boolean("--enable-job-exit-hang-detection")?;
        let exit_interval = number(
            "--job-exit-hang-interval",
            DEFAULT_HANG_INTERVAL_SECS,
            30 * DAY,
        )?;
        Ok(ErrorMonitoring {
            async_execution,
            job_restart: boolean("--enable-job-restart")?,
            max_restarts: number(
                "--max-num-of-job-restart",
                u64::from(DEFAULT_MAX_RESTARTS),
                1000,
            )? as u32,
            hang_interval: hang.then_some(hang_interval.max(1)),
            exit_hang_interval: exit_hang.then_some(exit_interval.max(1)),
            c4d: boolean("--enable-c4d-hang-detection")?,
        })
    }

    /// What a job should be told about flags that do less here than on PAI.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.c4d {
            notes.push(
                "Settings.ErrorMonitoringArgs --enable-c4d-hang-detection has no effect here: \
                 C4D diagnostics are Lingjun's"
                    .to_string(),
            );
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_given_is_the_defaults() {
        assert_eq!(ErrorMonitoring::parse(None), Ok(ErrorMonitoring::default()));
        assert_eq!(
            ErrorMonitoring::parse(Some("  ")),
            Ok(ErrorMonitoring::default())
        );
    }

    #[test]
    fn the_documented_flags_are_read() {
        let m = ErrorMonitoring::parse(Some(
            "--job-execution-mode=Sync --enable-job-restart=True --max-num-of-job-restart 5 \
             --enable-log-hang-detection --job-hang-interval=60 \
             --enable-job-exit-hang-detection=true --job-exit-hang-interval=30",
        ))
        .unwrap();
        assert_eq!(
            m,
            ErrorMonitoring {
                async_execution: false,
                job_restart: true,
                max_restarts: 5,
                hang_interval: Some(60),
                exit_hang_interval: Some(30),
                c4d: false,
            }
        );
        let off = ErrorMonitoring::parse(Some("--enable-job-hang-detection=False")).unwrap();
        assert_eq!(off.hang_interval, None);
        let on = ErrorMonitoring::parse(Some("--enable-job-hang-detection")).unwrap();
        assert_eq!(on.hang_interval, Some(DEFAULT_HANG_INTERVAL_SECS));
    }

    #[test]
    fn unknown_flags_and_bad_values_are_refused_saying_which() {
        let err = |args| ErrorMonitoring::parse(Some(args)).unwrap_err();
        assert!(err("--enable-job-restrat=True").contains("unknown flag --enable-job-restrat"));
        assert!(err("--max-num-of-job-restart=lots").contains("--max-num-of-job-restart takes"));
        assert!(err("--enable-job-restart=yes").contains("takes True or False"));
        assert!(err("--job-execution-mode=Later").contains("Sync or Async"));
        assert!(err("restart").contains("not a flag"));
    }

    #[test]
    fn what_does_less_here_is_noted() {
        let m = ErrorMonitoring::parse(Some(
            "--job-execution-mode=Async --enable-c4d-hang-detection",
        ))
        .unwrap();
        assert_eq!(m.notes().len(), 1, "Async does here what it does on PAI");
        assert!(ErrorMonitoring::default().notes().is_empty());
    }
}
