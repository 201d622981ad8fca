//! `opendlc submit`: CreateJob from PAI `dlc submit` flags, or from a job file (`-f`).

mod keys;
mod roles;

use std::io::Read;
use std::path::PathBuf;

use opendlc_api::{
    CreateJobRequest, CreateJobRequestCodeSource, CreateJobRequestDataSources, JobSettings,
};
use opendlc_core::JobType;
use serde_json::Value;

use crate::error::{exit, CliError, Result};
use crate::output::{print_document, Format};
use crate::util::{key_values, parse_duration};
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc submit pytorchjob --name mnist --workers 2 --worker_spec ecs.c6.large \\
      --command 'echo rank $RANK of $WORLD_SIZE; python train.py'
  opendlc submit tfjob --name tf --chiefs 1 --ps 1 --workers 2 --command 'python t.py' --wait
  opendlc submit pytorchjob --name quick --command 'echo hi' --follow
  opendlc submit -f job.json            # a CreateJob body (JSON or YAML; - reads stdin)
  opendlc submit -f job.yaml --name override --priority 5   # docs/examples/job.yaml is one
  opendlc submit datajuicerjob --name dj --command 'python process.py'

Role flags: --workers, --masters, --ps, --chiefs, --evaluators, --graphlearns, --launchers,
--heads, each with --<role>_spec, _image, _cpu, _gpu, _memory, _shared_memory (kebab-case
also works: --worker-spec). With no role flag, one Worker is submitted.
Prints the JobId on stdout. --wait exits like `opendlc wait`.";

/// The TYPE argument's help: every job type the API accepts, from [`JobType::ALL`].
fn type_help() -> String {
    let names: Vec<String> = JobType::ALL.iter().map(|t| t.cli_name()).collect();
    format!(
        "The job type: {} (or its API name, PyTorchJob). Optional with -f",
        names.join(", ")
    )
}

/// `--help`'s longer version: each type with what it runs and its roles.
fn type_long_help() -> String {
    let mut help = String::from(
        "The job type, by its `dlc submit` name or its API name (PyTorchJob). Optional with -f.\n",
    );
    for t in JobType::ALL {
        let roles: Vec<&str> = t.roles().iter().map(|r| r.as_str()).collect();
        help.push_str(&format!(
            "\n  {} (roles: {})\n      {}",
            t.cli_name(),
            roles.join(", "),
            t.description(),
        ));
    }
    help
}

/// TYPE: a job type by its `dlc submit` name (`pytorchjob`) or its API name (`PyTorchJob`).
fn parse_job_type(name: &str) -> std::result::Result<JobType, String> {
    JobType::from_any_name(name).ok_or_else(|| {
        let names: Vec<String> = JobType::ALL.iter().map(|t| t.cli_name()).collect();
        format!("unknown job type: expected one of {}", names.join(", "))
    })
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(
        value_name = "TYPE",
        value_parser = parse_job_type,
        help = type_help(),
        long_help = type_long_help()
    )]
    pub job_type: Option<JobType>,
    /// A CreateJob request body, JSON or YAML ('-' for stdin); flags given too override its fields.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The job's name (DisplayName).
    #[arg(long)]
    pub name: Option<String>,
    /// The command every pod runs (UserCommand), with sh -c.
    #[arg(long)]
    pub command: Option<String>,
    #[command(flatten)]
    pub roles: roles::RoleArgs,
    /// Priority, 1 (lowest, the default) to 9.
    #[arg(long)]
    pub priority: Option<i64>,
    /// Workspace id (default: `default`).
    #[arg(
        long = "workspace_id",
        visible_alias = "workspace-id",
        value_name = "ID"
    )]
    pub workspace_id: Option<String>,
    /// Resource group id (empty: the public pool, the only one yet).
    #[arg(long = "resource_id", visible_alias = "resource-id", value_name = "ID")]
    pub resource_id: Option<String>,
    /// Environment variables for every pod: NAME=VALUE, comma-separated or repeated.
    #[arg(long, value_delimiter = ',', value_name = "NAME=VALUE")]
    pub envs: Vec<String>,
    /// Data source ids to mount, comma-separated.
    #[arg(
        long = "data_sources",
        visible_alias = "data-sources",
        value_delimiter = ',',
        value_name = "IDS"
    )]
    pub data_sources: Vec<String>,
    /// Data to mount by URI: URI::MOUNT_PATH, comma-separated.
    #[arg(
        long = "data_source_uris",
        visible_alias = "data-source-uris",
        value_delimiter = ',',
        value_name = "URI::PATH"
    )]
    pub data_source_uris: Vec<String>,
    /// Code source id.
    #[arg(long = "code_source", visible_alias = "code-source", value_name = "ID")]
    pub code_source: Option<String>,
    /// Code source branch.
    #[arg(long = "code_branch", visible_alias = "code-branch")]
    pub code_branch: Option<String>,
    /// Code source commit.
    #[arg(long = "code_commit", visible_alias = "code-commit")]
    pub code_commit: Option<String>,
    /// pip packages to install first, comma-separated.
    #[arg(
        long = "thirdparty_libs",
        visible_alias = "thirdparty-libs",
        value_delimiter = ',',
        value_name = "PKGS"
    )]
    pub thirdparty_libs: Vec<String>,
    /// A directory holding requirements.txt.
    #[arg(
        long = "thirdparty_lib_dir",
        visible_alias = "thirdparty-lib-dir",
        value_name = "DIR"
    )]
    pub thirdparty_lib_dir: Option<String>,
    /// Tags (Settings.Tags): NAME=VALUE, comma-separated or repeated.
    #[arg(long, value_delimiter = ',', value_name = "NAME=VALUE")]
    pub tags: Vec<String>,
    /// Stop the job after this many minutes running (0: no limit).
    #[arg(
        long = "job_max_running_time_minutes",
        visible_alias = "job-max-running-time-minutes",
        value_name = "MIN"
    )]
    pub job_max_running_time_minutes: Option<i64>,
    /// Success policy (TFJob: ChiefWorker or AllWorkers).
    #[arg(long = "success_policy", visible_alias = "success-policy")]
    pub success_policy: Option<String>,
    /// A description of the job.
    #[arg(long)]
    pub description: Option<String>,
    /// Then wait for the job to end, as `opendlc wait` (and exit as it does).
    #[arg(long)]
    pub wait: bool,
    /// Then print the job's logs as they come, until it ends (implies --wait).
    #[arg(long)]
    pub follow: bool,
    /// With --wait: give up after this long (exit 4).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<std::time::Duration>,
}

/// The CreateJob fields the flags set (absent ones stay `None`).
fn from_flags(args: &Args) -> Result<CreateJobRequest> {
    let mut data_sources: Vec<CreateJobRequestDataSources> = args
        .data_sources
        .iter()
        .map(|id| CreateJobRequestDataSources {
            data_source_id: Some(id.clone()),
            ..Default::default()
        })
        .collect();
    for item in &args.data_source_uris {
        let (uri, mount) = item.split_once("::").ok_or_else(|| {
            CliError::usage(format!(
                "--data_source_uris: expected URI::MOUNT_PATH, got {item:?}"
            ))
        })?;
        data_sources.push(CreateJobRequestDataSources {
            uri: Some(uri.to_string()),
            mount_path: Some(mount.to_string()),
            ..Default::default()
        });
    }
    let code_source = args
        .code_source
        .as_ref()
        .map(|id| CreateJobRequestCodeSource {
            code_source_id: Some(id.clone()),
            branch: args.code_branch.clone(),
            commit: args.code_commit.clone(),
            ..Default::default()
        });
    let envs = key_values(&args.envs, "--envs")?;
    let tags = key_values(&args.tags, "--tags")?;
    Ok(CreateJobRequest {
        display_name: args.name.clone(),
        job_type: args.job_type.map(|t| t.as_str().to_string()),
        job_specs: (!args.roles.specs.is_empty()).then(|| args.roles.specs.clone()),
        user_command: args.command.clone(),
        data_sources: (!data_sources.is_empty()).then_some(data_sources),
        code_source,
        thirdparty_libs: (!args.thirdparty_libs.is_empty()).then(|| args.thirdparty_libs.clone()),
        thirdparty_lib_dir: args.thirdparty_lib_dir.clone(),
        envs: (!envs.is_empty()).then_some(envs),
        job_max_running_time_minutes: args.job_max_running_time_minutes,
        workspace_id: args.workspace_id.clone(),
        resource_id: args.resource_id.clone(),
        priority: args.priority,
        settings: (!tags.is_empty()).then(|| JobSettings {
            tags: Some(tags),
            ..Default::default()
        }),
        success_policy: args.success_policy.clone(),
        description: args.description.clone(),
        ..Default::default()
    })
}

/// A job file: JSON or YAML, a CreateJob body.
fn read_file(path: &PathBuf) -> Result<Value> {
    let err = |source| CliError::Read {
        path: path.clone(),
        source,
    };
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(err)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(err)?
    };
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text)
            .map_err(|e| CliError::usage(format!("{}: not valid JSON: {e}", path.display())))?
    } else {
        serde_yaml_ng::from_str(&text)
            .map_err(|e| CliError::usage(format!("{}: not valid YAML: {e}", path.display())))?
    };
    if !value.is_object() {
        return Err(CliError::usage(format!(
            "{}: expected a CreateJob body (an object with JobType, JobSpecs, UserCommand, …)",
            path.display()
        )));
    }
    Ok(value)
}

/// The CreateJob body: the file (if any), with the flags' fields laid over it.
pub fn body(args: &Args) -> Result<Value> {
    let flags = serde_json::to_value(from_flags(args)?).expect("requests serialize");
    let Some(path) = &args.file else {
        if args.job_type.is_none() {
            return Err(CliError::usage(
                "the job type is missing: `opendlc submit pytorchjob …` or `opendlc submit -f job.json`",
            ));
        }
        let mut body = flags;
        if body.get("JobSpecs").is_none() {
            body["JobSpecs"] = serde_json::json!([{"Type": "Worker", "PodCount": 1}]);
        }
        return Ok(body);
    };
    let mut body = read_file(path)?;
    if let (Value::Object(base), Value::Object(over)) = (&mut body, flags) {
        base.extend(over);
    }
    if let Some(message) = keys::unknown_key(&body) {
        return Err(CliError::usage(format!("{}: {message}", path.display())));
    }
    Ok(body)
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let body = body(&args)?;
    let reply = ctx.client()?.create_job_value(&body)?;
    let job_id = reply.body.job_id.clone().unwrap_or_default();
    match ctx.format() {
        Format::Table => println!("{job_id}"),
        format => print_document(format, &reply.raw)?,
    }
    if args.follow {
        super::logs::follow_job(ctx, &job_id)?;
    }
    if args.wait || args.follow {
        let options = super::wait::Options {
            timeout: args.timeout,
            quiet_result: true,
            ..Default::default()
        };
        return super::wait::wait_job(ctx, &job_id, &options);
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Submit {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> std::result::Result<Args, clap::Error> {
        let argv = std::iter::once("submit").chain(argv.iter().copied());
        Submit::try_parse_from(argv).map(|s| s.args)
    }

    #[test]
    fn every_job_type_the_api_accepts_is_a_submit_type() {
        for t in JobType::ALL {
            for name in [t.cli_name(), t.as_str().to_string()] {
                let args = parse(&[&name, "--command", "true"]).unwrap();
                assert_eq!(args.job_type, Some(*t), "{name}");
                let body = body(&args).unwrap();
                assert_eq!(body["JobType"], t.as_str(), "{name}");
            }
        }
    }

    #[test]
    fn an_unknown_type_lists_every_type() {
        let err = parse(&["pytorch", "--command", "true"])
            .unwrap_err()
            .to_string();
        for t in JobType::ALL {
            assert!(err.contains(&t.cli_name()), "{err}");
        }
    }

    #[test]
    fn the_help_lists_every_type_with_its_roles() {
        let short = type_help();
        let long = type_long_help();
        for t in JobType::ALL {
            assert!(short.contains(&t.cli_name()), "{short}");
            assert!(long.contains(t.description()), "{long}");
        }
        assert!(long.contains("mpijob (roles: Launcher, Worker)"), "{long}");
    }

    #[test]
    fn a_job_file_with_an_unknown_key_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("job.yaml");
        std::fs::write(&file, "displayname: x\nJobType: PyTorchJob\n").unwrap();
        let args = parse(&["-f", file.to_str().unwrap()]).unwrap();
        let err = body(&args).unwrap_err().to_string();
        assert!(
            err.contains(r#"unknown key "displayname" (did you mean "DisplayName"?)"#),
            "{err}"
        );
    }
}
