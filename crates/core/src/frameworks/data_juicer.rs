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

use super::{ray, Contents, Framework, JobFiles, Launch, Program, RoleRule};
use super::{Setup, SetupContext};
use crate::error::Invalid;
use crate::job::{Job, RoleSpec};
use crate::job_type::Role;
use crate::shell::quote as shell_quote;

/// Data-Juicer's command-line entry point.
pub const PROGRAM: &str = "dj-process";

/// Where an inline config is written, in the job's directory.
pub const CONFIG_FILE: &str = "data-juicer.yaml";

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

    fn runs_ray(&self, job: &Job) -> bool {
        Plan::of(&job.request).mode == Mode::Distributed
    }

    fn programs(&self, job: &Job) -> Vec<Program> {
        let plan = Plan::of(&job.request);
        let dj = (plan.command != Command::Shell).then_some(Program {
            name: PROGRAM,
            provided_by: "Data-Juicer (pip install py-data-juicer)",
        });
        let ray = (plan.mode == Mode::Distributed).then_some(ray::PROGRAM);
        dj.into_iter().chain(ray).collect()
    }

    fn setup(&self, ctx: &mut SetupContext<'_>) -> Result<Setup, String> {
        let plan = Plan::of(&ctx.job.request);
        let config_file = ctx.job_dir.join(CONFIG_FILE);
        let mut files = Vec::new();
        if let Command::ConfigText(text) = &plan.command {
            files.push(JobFiles {
                dir: ctx.job_dir.to_path_buf(),
                private: false,
                files: vec![(CONFIG_FILE, Contents::Text(text.clone()))],
                failure: format!(
                    "failed to write the Data-Juicer config to {}",
                    config_file.display()
                ),
            });
        }
        let main_role = match plan.mode {
            Mode::Distributed => Role::Master,
            Mode::Standalone => ctx.plans.first().map_or(Role::Master, |p| p.role),
        };
        let command = plan.pod_command(
            &ctx.job.command_of(main_role),
            &config_file.display().to_string(),
        );
        if plan.mode == Mode::Distributed {
            let mut cluster = ray::cluster(ctx, Role::Master, command);
            files.append(&mut cluster.files);
            return Ok(Setup {
                files,
                launch: cluster.launch,
            });
        }
        let commands = ctx
            .plans
            .iter()
            .map(|p| (p.pod_id.clone(), command.clone()))
            .collect();
        Ok(Setup {
            files,
            launch: Launch {
                commands,
                ..Launch::default()
            },
        })
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
    use super::super::testing;
    use super::*;
    use crate::JobType;
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

    /// A job of `req`'s settings with these roles.
    fn job(mode: Option<&str>, kind: Option<&str>, command: &str, specs: &[(Role, u32)]) -> Job {
        let specs: Vec<_> = specs.iter().map(|(r, n)| (*r, *n, None)).collect();
        let mut req = testing::request(JobType::DataJuicerJob, &specs, command);
        req.settings = req_settings(mode, kind);
        testing::submit(&req, false).unwrap()
    }

    fn req_settings(mode: Option<&str>, kind: Option<&str>) -> Option<JobSettings> {
        req(mode, kind, "").settings
    }

    #[test]
    fn standalone_runs_the_command_on_its_one_pod_which_decides_success() {
        let job = job(None, None, "python run.py", &[(Role::Worker, 1)]);
        assert!(job.roles.iter().all(|r| r.considered_in_success));
        assert!(!DataJuicer.runs_ray(&job));
        assert!(DataJuicer.programs(&job).is_empty());
        let setup = testing::setup(&job).unwrap();
        assert!(setup.files.is_empty());
        assert_eq!(setup.launch.commands["dlcx-worker-0"], "python run.py");
        let mut req = testing::request(
            JobType::DataJuicerJob,
            &[(Role::Worker, 2, None)],
            "python run.py",
        );
        req.settings = req_settings(None, None);
        let err = testing::submit(&req, false).unwrap_err();
        assert!(err.to_string().contains("standalone"), "{err}");
    }

    #[test]
    fn an_inline_config_is_written_and_run_on_a_ray_cluster() {
        let job = job(
            Some("distributed"),
            Some("config"),
            "project_name: x\nnp: 2",
            &[(Role::Master, 1), (Role::Worker, 1)],
        );
        assert!(DataJuicer.runs_ray(&job));
        let names: Vec<&str> = DataJuicer.programs(&job).iter().map(|p| p.name).collect();
        assert_eq!(names, [PROGRAM, "ray"]);
        let setup = testing::setup(&job).unwrap();
        assert_eq!(setup.files.len(), 2);
        assert_eq!(
            setup.files[0].files,
            [(CONFIG_FILE, Contents::Text("project_name: x\nnp: 2".into()))]
        );
        assert_eq!(setup.files[1].files[0].0, ray::HEAD_FILE);
        let master = &setup.launch.commands["dlcx-master-0"];
        assert!(
            master.ends_with(
                "\nexec dj-process --config '/d/jobs/dlcx/data-juicer.yaml' --executor_type ray"
            ),
            "{master}"
        );
        assert!(setup.launch.commands["dlcx-worker-0"].starts_with("ray start"));
    }
}
