//! TensorBoards: a `tensorboard` process reading a job's summaries (or any directory), served
//! through the server.

use std::fmt;

use crate::time::Millis;

/// The statuses of the spec (`Tensorboard.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorboardStatus {
    /// The process is starting; it becomes Running once it answers HTTP.
    Creating,
    Running,
    /// Stopped by StopTensorboard or by MaxRunningTimeMinutes.
    Stopped,
    /// The process exited by itself with status 0.
    Succeeded,
    /// The process could not start or exited with an error (ReasonMessage says why).
    Failed,
}

impl TensorboardStatus {
    pub const ALL: [TensorboardStatus; 5] = [
        TensorboardStatus::Creating,
        TensorboardStatus::Running,
        TensorboardStatus::Stopped,
        TensorboardStatus::Succeeded,
        TensorboardStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TensorboardStatus::Creating => "Creating",
            TensorboardStatus::Running => "Running",
            TensorboardStatus::Stopped => "Stopped",
            TensorboardStatus::Succeeded => "Succeeded",
            TensorboardStatus::Failed => "Failed",
        }
    }

    /// Case-insensitive (the spec's example says `running`).
    pub fn parse(text: &str) -> Option<TensorboardStatus> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// A process may be alive in this status.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TensorboardStatus::Creating | TensorboardStatus::Running
        )
    }
}

/// One source of a TensorBoard: the name its runs get, and the directory read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub name: Option<String>,
    pub dir: String,
}

impl Tensorboard {
    /// The directories it reads, named when it has several sources.
    pub fn runs(&self) -> Vec<Run> {
        if self.logdir.starts_with('/') {
            return vec![Run {
                name: None,
                dir: self.logdir.clone(),
            }];
        }
        self.logdir
            .split(',')
            .filter_map(|entry| entry.split_once(':'))
            .map(|(name, dir)| Run {
                name: Some(name.to_string()),
                dir: dir.to_string(),
            })
            .collect()
    }

    /// `logdir` for named sources (names without `:` or `,`, directories without `,`: what
    /// `--logdir_spec` can carry).
    pub fn logdir_spec(runs: &[(String, String)]) -> String {
        runs.iter()
            .map(|(name, dir)| format!("{name}:{dir}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for TensorboardStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TensorBoard as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensorboard {
    pub tensorboard_id: String,
    pub display_name: String,
    /// The job whose summaries it reads, if created from one (it outlives the job).
    pub job_id: Option<String>,
    pub workspace_id: String,
    pub user_id: String,
    pub accessibility: String,
    pub priority: Option<String>,
    /// SummaryPath as given (or derived from the job).
    pub summary_path: String,
    /// What tensorboard reads: one directory (an absolute path, `--logdir`), or several
    /// sources as its `--logdir_spec` takes them, `name:/dir,name2:/dir2` (see
    /// [`Tensorboard::runs`]).
    pub logdir: String,
    /// The CreateTensorboard body, echoed by GetTensorboard.
    pub request: String,
    /// 0 or absent: no limit.
    pub max_running_minutes: Option<i64>,
    pub status: TensorboardStatus,
    pub reason_code: Option<String>,
    pub reason_message: Option<String>,
    /// Where the process listens (127.0.0.1) and its pid, while active.
    pub port: Option<u16>,
    pub pid: Option<u32>,
    pub created: Millis,
    pub modified: Millis,
    /// When the current (or last) run started.
    pub started: Option<Millis>,
    pub finished: Option<Millis>,
}

/// `tb` + 13 lowercase alphanumerics, like a JobId.
pub fn new_tensorboard_id() -> String {
    let job_id = crate::ids::new_job_id();
    format!("tb{}", &job_id[3..])
}

/// What a TensorBoard's process may use (CreateTensorboard's `Cpu`, cores, and `Memory`, GB
/// taken as GiB); `None` is unlimited. They limit the process (a cgroup of its own); they take
/// nothing from the pool the jobs are scheduled in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessLimits {
    pub cpu_milli: Option<u64>,
    pub memory_mib: Option<u64>,
}

impl ProcessLimits {
    /// `cpu` and `memory` as CreateTensorboard has them: absent or 0 is no limit; a negative
    /// value, or one larger than `pool`, is refused naming the field.
    pub fn validate(
        cpu: Option<i64>,
        memory: Option<i64>,
        pool: crate::Resources,
    ) -> Result<ProcessLimits, crate::error::Invalid> {
        let check = |field: &str, value: Option<i64>, unit: u64, most: u64, what: &str| match value
            .filter(|v| *v != 0)
        {
            None => Ok(None),
            Some(v) if v < 0 => Err(crate::error::Invalid::value(
                field,
                format!("must be positive (0 or absent means no limit), got {v}"),
            )),
            Some(v) if v as u64 > most / unit => Err(crate::error::Invalid::value(
                field,
                format!("{v} is more than this server's pool has ({what})"),
            )),
            Some(v) => Ok(Some(v as u64 * unit)),
        };
        Ok(ProcessLimits {
            cpu_milli: check(
                "Cpu",
                cpu,
                1000,
                pool.cpu_milli,
                &format!("{} cores", pool.cpu_milli / 1000),
            )?,
            memory_mib: check(
                "Memory",
                memory,
                1024,
                pool.memory_mib,
                &format!("{} GB", pool.memory_mib / 1024),
            )?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.cpu_milli.is_none() && self.memory_mib.is_none()
    }
}

impl Tensorboard {
    /// The limits its CreateTensorboard body asked for (checked when it was created).
    pub fn limits(&self) -> ProcessLimits {
        let body: opendlc_api::CreateTensorboardRequest =
            serde_json::from_str(&self.request).unwrap_or_default();
        let positive = |v: Option<i64>, unit: u64| v.filter(|v| *v > 0).map(|v| v as u64 * unit);
        ProcessLimits {
            cpu_milli: positive(body.cpu, 1000),
            memory_mib: positive(body.memory, 1024),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_statuses() {
        let id = new_tensorboard_id();
        assert_eq!(id.len(), 15);
        assert!(id.starts_with("tb"));
        assert_eq!(
            TensorboardStatus::parse("running"),
            Some(TensorboardStatus::Running)
        );
        assert_eq!(TensorboardStatus::parse("Gone"), None);
    }

    #[test]
    fn limits_are_positive_and_fit_the_pool() {
        let pool = crate::Resources::new(4000, 8192, 0);
        let limits = ProcessLimits::validate(Some(1), Some(2), pool).unwrap();
        assert_eq!(
            (limits.cpu_milli, limits.memory_mib),
            (Some(1000), Some(2048))
        );
        assert!(ProcessLimits::validate(None, Some(0), pool)
            .unwrap()
            .is_empty());
        let err = ProcessLimits::validate(Some(-1), None, pool).unwrap_err();
        assert_eq!(err.field(), "Cpu");
        let err = ProcessLimits::validate(None, Some(9), pool).unwrap_err();
        assert_eq!(err.field(), "Memory");
        assert!(err.to_string().contains("8 GB"), "{err}");
        assert!(ProcessLimits::validate(Some(i64::MAX), None, pool).is_err());
    }

    #[test]
    fn one_directory_or_named_sources() {
        let runs = |logdir: String| {
            Tensorboard {
                tensorboard_id: "tb".into(),
                display_name: "t".into(),
                job_id: None,
                workspace_id: "w".into(),
                user_id: "1".into(),
                accessibility: "PRIVATE".into(),
                priority: None,
                summary_path: String::new(),
                logdir,
                request: String::new(),
                max_running_minutes: None,
                status: TensorboardStatus::Creating,
                reason_code: None,
                reason_message: None,
                port: None,
                pid: None,
                created: 0,
                modified: 0,
                started: None,
                finished: None,
            }
            .runs()
        };
        assert_eq!(
            runs("/data/a".into()),
            [Run {
                name: None,
                dir: "/data/a".into()
            }]
        );
        let spec = Tensorboard::logdir_spec(&[
            ("base".into(), "/data/a".into()),
            ("tuned".into(), "/data/b:c".into()),
        ]);
        assert_eq!(spec, "base:/data/a,tuned:/data/b:c");
        let names: Vec<_> = runs(spec).into_iter().map(|r| (r.name, r.dir)).collect();
        assert_eq!(
            names,
            [
                (Some("base".into()), "/data/a".into()),
                (Some("tuned".into()), "/data/b:c".into())
            ]
        );
    }
}
