//! `opendlc stop JOB…`: StopJob for each job.

use opendlc_api::endpoints::StopJob;
use opendlc_api::StopJobRequest;

use crate::error::Result;
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc stop dlc1a2b3c4d5e6f
  opendlc stop dlc1… dlc2…      # prints each stopped JobId; exit 1 if any failed
  opendlc jobs -s Queuing -o json | jq -r '.Jobs[].JobId' | xargs opendlc stop";

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
            .call::<StopJob>(&[job], &StopJobRequest::default())
            .map(|r| r.raw)
    })
}
