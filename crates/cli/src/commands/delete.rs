//! `opendlc delete JOB…`: DeleteJob for each (finished) job.

use opendlc_api::endpoints::DeleteJob;
use opendlc_api::DeleteJobRequest;

use crate::error::Result;
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc delete dlc1a2b3c4d5e6f
  opendlc delete dlc1… dlc2…    # only finished jobs: stop running ones first
  opendlc cleanup --status Failed --delete";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job ids.
    #[arg(required = true, value_name = "JOB")]
    pub jobs: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let client = ctx.client()?;
    super::for_each_job(ctx, &args.jobs, |job| {
        client
            .call::<DeleteJob>(&[job], &DeleteJobRequest::default())
            .map(|r| r.raw)
    })
}
