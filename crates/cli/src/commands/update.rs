//! `opendlc update JOB --priority N`: UpdateJob.

use opendlc_api::endpoints::UpdateJob;
use opendlc_api::UpdateJobRequest;

use crate::error::{exit, CliError, Result};
use crate::output::{print_document, Format};
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc update dlc1a2b3c4d5e6f --priority 9
  opendlc update dlc1a2b3c4d5e6f --description 'baseline run'
  opendlc update dlc1a2b3c4d5e6f --command 'python train.py --lr 0.1'   # while still queued";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job: String,
    /// The new priority, 1 (lowest) to 9.
    #[arg(long)]
    pub priority: Option<i64>,
    /// The new description.
    #[arg(long)]
    pub description: Option<String>,
    /// The new command (only while Creating or Queuing).
    #[arg(long)]
    pub command: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    if args.priority.is_none() && args.description.is_none() && args.command.is_none() {
        return Err(CliError::usage(
            "nothing to update: give --priority, --description or --command",
        ));
    }
    let request = UpdateJobRequest {
        priority: args.priority,
        description: args.description,
        user_command: args.command,
        ..Default::default()
    };
    let reply = ctx.client()?.call::<UpdateJob>(&[&args.job], &request)?;
    match ctx.format() {
        Format::Table => println!("{}", args.job),
        format => print_document(format, &reply.raw)?,
    }
    Ok(exit::OK)
}
