//! DataJuicerJob: Data-Juicer's data processing, as `JobSettings.DataJuicerConfig` asks.
//!
//! - `CommandType` `shell` (the default): the UserCommand runs as it is.
//!   `config`: the UserCommand is a Data-Juicer config, a path to a YAML file or the YAML
//!   itself; the pods run `dj-process --config <it>` (the engine writes inline YAML to the
//!   job's directory first).
//! - `ExecutionMode` `standalone` (the default): one pod does the work, so the job must have
//!   exactly one. `distributed`: a Ray cluster, the Master pod its head and the Worker pods
//!   joining it, as for a RayJob; the Master runs the command with `RAY_ADDRESS` set, and with
//!   `config` Data-Juicer is told to use its Ray executor (`--executor_type ray`).
//! - `EnableResourceEstimation` and `ResourceLimit` size PAI's cloud resources; a job here
//!   has the resources its JobSpecs ask for, so they are accepted and recorded only.
//!
//! Roles: Master and Workers, any number of each as far as the roles go ([`validate`] checks
//! them against the mode); every pod decides the job's success.

use opendlc_api::{CreateJobRequest, DataJuicerConfig};

use super::{Framework, RoleRule};
use crate::job::RoleSpec;
use crate::job_type::Role;
use crate::shell::quote as shell_quote;
use crate::submission::Invalid;

/// Data-Juicer's command-line entry point.
pub const PROGRAM: &str = "dj-process";

pub struct DataJuicer;

const ROLES: &[RoleRule] = &[RoleRule::new(Role::Master), RoleRule::new(Role::Worker)];

impl Framework for DataJuicer {
    fn description(&self) -> &'static str {
        "Data-Juicer data processing: one pod, or a Ray cluster (ExecutionMode distributed)"
    }

    fn roles(&self) -> &'static [RoleRule] {
        ROLES
    }

    fn validate(&self, req: &CreateJobRequest, roles: &[RoleSpec]) -> Result<(), Invalid> {
        let count = |pick: fn(&RoleSpec) -> bool| {
            roles
                .iter()
                .filter(|r| pick(r))
                .map(|r| r.pod_count)
                .sum::<u32>()
        };
        validate(req, count(|_| true), count(|r| r.role == Role::Master))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standalone,
    Distributed,
}

/// What a DataJuicerJob's UserCommand is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Shell,
    /// A config file at this path.
    ConfigFile(String),
    /// A config given inline, to be written to a file.
    ConfigText(String),
}

/// A DataJuicerJob's settings, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub mode: Mode,
    pub command: Command,
}

impl Plan {
    pub fn of(req: &CreateJobRequest) -> Plan {
        let config = config(req);
        let mode = match config.and_then(|c| c.execution_mode.as_deref()) {
            Some("distributed") => Mode::Distributed,
            _ => Mode::Standalone,
        };
        let user_command = req.user_command.as_deref().unwrap_or_default().trim();
        let command = match config.and_then(|c| c.command_type.as_deref()) {
            Some("config") if is_path(user_command) => Command::ConfigFile(user_command.into()),
            Some("config") => Command::ConfigText(user_command.into()),
            _ => Command::Shell,
        };
        Plan { mode, command }
    }

    /// The pods' command: `user_command` itself, or Data-Juicer run on the config (at
    /// `config_file` when it was given inline).
    pub fn pod_command(&self, user_command: &str, config_file: &str) -> String {
        let path = match &self.command {
            Command::Shell => return user_command.to_string(),
            Command::ConfigFile(path) => path.as_str(),
            Command::ConfigText(_) => config_file,
        };
        let executor = match self.mode {
            Mode::Distributed => " --executor_type ray",
            Mode::Standalone => "",
        };
        format!("exec {PROGRAM} --config {}{executor}", shell_quote(path))
    }
}

fn config(req: &CreateJobRequest) -> Option<&DataJuicerConfig> {
    req.settings.as_ref()?.data_juicer_config.as_ref()
}

/// One word naming a YAML file, rather than YAML text.
fn is_path(text: &str) -> bool {
    !text.contains(char::is_whitespace) && (text.ends_with(".yaml") || text.ends_with(".yml"))
}

/// Checks a DataJuicerJob's settings against its pods (`pods`: how many it has in all).
pub fn validate(req: &CreateJobRequest, pods: u32, masters: u32) -> Result<(), Invalid> {
    if let Some(config) = config(req) {
        let field = |name: &str| format!("Settings.DataJuicerConfig.{name}");
        if let Some(mode) = config.execution_mode.as_deref() {
            if !["standalone", "distributed"].contains(&mode) {
                return Err(Invalid::value(
                    field("ExecutionMode"),
                    format!("must be standalone or distributed, got \"{mode}\""),
                ));
            }
        }
        if let Some(kind) = config.command_type.as_deref() {
            if !["shell", "config"].contains(&kind) {
                return Err(Invalid::value(
                    field("CommandType"),
                    format!("must be shell or config, got \"{kind}\""),
                ));
            }
        }
    }
    let plan = Plan::of(req);
    match plan.mode {
        Mode::Standalone if pods != 1 => Err(Invalid::value(
            "JobSpecs",
            format!(
                "a standalone DataJuicerJob runs on one pod, got {pods} \
                 (ExecutionMode distributed spreads the work over a Ray cluster)"
            ),
        )),
        Mode::Distributed if masters != 1 => Err(Invalid::value(
            "JobSpecs",
            "a distributed DataJuicerJob needs one Master pod (the Ray head) and its Workers",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendlc_api::JobSettings;

    fn req(mode: Option<&str>, kind: Option<&str>, command: &str) -> CreateJobRequest {
        CreateJobRequest {
            user_command: Some(command.into()),
            settings: Some(JobSettings {
                data_juicer_config: Some(DataJuicerConfig {
                    execution_mode: mode.map(String::from),
                    command_type: kind.map(String::from),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_config_becomes_dj_process() {
        let plan = Plan::of(&req(None, Some("config"), "/data/process.yaml"));
        assert_eq!(
            plan.command,
            Command::ConfigFile("/data/process.yaml".into())
        );
        assert_eq!(
            plan.pod_command("/data/process.yaml", "unused"),
            "exec dj-process --config '/data/process.yaml'"
        );
        let plan = Plan::of(&req(
            Some("distributed"),
            Some("config"),
            "project_name: x\nnp: 2",
        ));
        assert!(matches!(plan.command, Command::ConfigText(_)));
        assert_eq!(
            plan.pod_command("", "/jobs/j/dj.yaml"),
            "exec dj-process --config '/jobs/j/dj.yaml' --executor_type ray"
        );
        let plan = Plan::of(&req(None, None, "python run.py"));
        assert_eq!(plan.pod_command("python run.py", ""), "python run.py");
    }

    #[test]
    fn settings_and_pods_are_checked() {
        assert!(validate(&req(None, None, "x"), 1, 0).is_ok());
        let err = validate(&req(None, None, "x"), 2, 1).unwrap_err();
        assert!(err.to_string().contains("standalone"), "{err}");
        assert!(validate(&req(Some("distributed"), None, "x"), 3, 1).is_ok());
        assert!(validate(&req(Some("distributed"), None, "x"), 2, 0).is_err());
        let err = validate(&req(Some("cluster"), None, "x"), 1, 0).unwrap_err();
        assert!(err.to_string().contains("ExecutionMode"), "{err}");
        let err = validate(&req(None, Some("yaml"), "x"), 1, 0).unwrap_err();
        assert!(err.to_string().contains("CommandType"), "{err}");
    }
}
