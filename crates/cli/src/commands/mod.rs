//! One module per verb; each has its `Args` (the help text is its doc comments) and `run`.

pub mod cleanup;
pub mod config;
pub mod delete;
mod diagnose;
pub mod events;
pub mod get;
pub mod jobs;
pub mod logs;
pub mod share;
pub mod specs;
pub mod stop;
pub mod submit;
pub mod update;
pub mod wait;

use crate::error::Result;
use crate::Ctx;

/// The client commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write or show the client configuration (~/.opendlc/config).
    #[command(after_help = config::EXAMPLES)]
    Config(config::Args),
    /// Submit a job from flags (PAI `dlc submit` names) or from a CreateJob body (-f).
    #[command(after_help = submit::EXAMPLES)]
    Submit(submit::Args),
    /// List jobs (filters as ListJobs).
    #[command(visible_alias = "ls", after_help = jobs::EXAMPLES)]
    Jobs(jobs::Args),
    /// Show one job: summary, pods, status history, and why it is pending.
    #[command(after_help = get::EXAMPLES)]
    Get(get::Args),
    /// Wait for a job to end, showing its status changes; exit 0 only if it Succeeded.
    #[command(after_help = wait::EXAMPLES)]
    Wait(wait::Args),
    /// Print a job's logs: all pods interleaved (prefixed), or one pod; -f follows.
    #[command(after_help = logs::EXAMPLES)]
    Logs(logs::Args),
    /// Print a job's events, or one pod's.
    #[command(after_help = events::EXAMPLES)]
    Events(events::Args),
    /// Stop jobs (queued ones stop at once, running ones get SIGTERM then SIGKILL).
    #[command(after_help = stop::EXAMPLES)]
    Stop(stop::Args),
    /// Delete finished jobs, with their logs and working directories.
    #[command(visible_alias = "rm", after_help = delete::EXAMPLES)]
    Delete(delete::Args),
    /// Change a job's priority, description or (while queued) command.
    #[command(after_help = update::EXAMPLES)]
    Update(update::Args),
    /// Stop (and with --delete, delete) every job in a status.
    #[command(after_help = cleanup::EXAMPLES)]
    Cleanup(cleanup::Args),
    /// Print a share token: read-only access to one job (or TensorBoard) without a key.
    #[command(after_help = share::EXAMPLES)]
    Share(share::Args),
    /// List the instance types (EcsSpec) a job's roles can ask for.
    #[command(after_help = specs::EXAMPLES)]
    Specs(specs::Args),
}

pub fn dispatch(ctx: &Ctx, command: Command) -> Result<i32> {
    match command {
        Command::Config(args) => config::run(ctx, args),
        Command::Submit(args) => submit::run(ctx, args),
        Command::Jobs(args) => jobs::run(ctx, args),
        Command::Get(args) => get::run(ctx, args),
        Command::Wait(args) => wait::run(ctx, args),
        Command::Logs(args) => logs::run(ctx, args),
        Command::Events(args) => events::run(ctx, args),
        Command::Stop(args) => stop::run(ctx, args),
        Command::Delete(args) => delete::run(ctx, args),
        Command::Update(args) => update::run(ctx, args),
        Command::Cleanup(args) => cleanup::run(ctx, args),
        Command::Specs(args) => specs::run(ctx, args),
        Command::Share(args) => share::run(ctx, args),
    }
}

/// Runs `call` for each job; prints each JobId done (or the raw answers with -o json/yaml);
/// reports each failure on stderr and exits 1 if there was one.
fn for_each_job(
    ctx: &Ctx,
    jobs: &[String],
    mut call: impl FnMut(&str) -> Result<String>,
) -> Result<i32> {
    let mut code = crate::error::exit::OK;
    for job in jobs {
        match call(job) {
            Ok(raw) => match ctx.format() {
                crate::output::Format::Table => println!("{job}"),
                format => crate::output::print_document(format, &raw)?,
            },
            Err(e @ crate::CliError::Api { .. }) => {
                eprintln!("error: {job}: {e}");
                code = crate::error::exit::ERROR;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(code)
}
