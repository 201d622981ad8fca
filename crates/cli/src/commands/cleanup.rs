//! `opendlc cleanup --status Failed [--delete]`: the seed script's `cleanup_jobs`. Stops the
//! jobs in those statuses that are still going and, with --delete, deletes them all.

use std::time::{Duration, Instant};

use opendlc_api::endpoints::{DeleteJob, ListJobs, StopJob};
use opendlc_api::{DeleteJobRequest, ListJobsRequest, StopJobRequest};

use crate::error::{exit, CliError, Result};
use crate::util::is_final;
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc cleanup --status Failed --delete      # delete every failed job
  opendlc cleanup --status Running,Queuing      # stop everything that is going
  opendlc cleanup --status Stopped --name sweep --delete --dry-run

Prints the ids of the jobs it acted on (stdout); what it does to each goes to stderr.
Looks at jobs of any age (not only ListJobs' last 7 days).";

/// How long --delete waits for a job it stopped to end.
const STOP_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The statuses to clean up, comma-separated.
    #[arg(long, short = 's', default_value = "Failed")]
    pub status: String,
    /// Only jobs whose name contains this.
    #[arg(long)]
    pub name: Option<String>,
    /// Delete the jobs too (stopping those still going first).
    #[arg(long)]
    pub delete: bool,
    /// Only print what would be done.
    #[arg(long)]
    pub dry_run: bool,
}

/// Every job matching the filters, through all pages.
fn all_jobs(ctx: &Ctx, args: &Args) -> Result<Vec<(String, String)>> {
    let mut jobs = Vec::new();
    for page in 1.. {
        let request = ListJobsRequest {
            status: Some(args.status.clone()),
            display_name: args.name.clone(),
            start_time: Some("1970-01-01T00:00:00Z".into()),
            page_size: Some(100),
            page_number: Some(page),
            ..Default::default()
        };
        let reply = ctx.client()?.call::<ListJobs>(&[], &request)?;
        let batch = reply.body.jobs.unwrap_or_default();
        let total = reply.body.total_count.unwrap_or(0) as usize;
        let empty = batch.is_empty();
        jobs.extend(
            batch
                .into_iter()
                .map(|j| (j.job_id.unwrap_or_default(), j.status.unwrap_or_default())),
        );
        if empty || jobs.len() >= total || page >= 1000 {
            break;
        }
    }
    Ok(jobs)
}

fn wait_ended(ctx: &Ctx, job: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        let status = super::get::fetch(ctx, job)?.body.status.unwrap_or_default();
        if is_final(&status) {
            return Ok(());
        }
        if start.elapsed() > STOP_WAIT {
            return Err(CliError::usage(format!(
                "{job} is still {status} {}s after it was stopped",
                STOP_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let client = ctx.client()?;
    let mut code = exit::OK;
    for (job, status) in all_jobs(ctx, &args)? {
        let going = !is_final(&status);
        if !going && !args.delete {
            continue;
        }
        if args.dry_run {
            let what = match (going, args.delete) {
                (true, true) => "stop and delete",
                (true, false) => "stop",
                _ => "delete",
            };
            eprintln!("would {what} {job} ({status})");
            println!("{job}");
            continue;
        }
        let result = (|| {
            if going {
                client.call::<StopJob>(&[&job], &StopJobRequest::default())?;
                eprintln!("stopped {job} ({status})");
            }
            if args.delete {
                if going {
                    wait_ended(ctx, &job)?;
                }
                client.call::<DeleteJob>(&[&job], &DeleteJobRequest::default())?;
                eprintln!("deleted {job}");
            }
            Ok::<_, CliError>(())
        })();
        match result {
            Ok(()) => println!("{job}"),
            Err(e) => {
                eprintln!("error: {job}: {e}");
                code = exit::ERROR;
            }
        }
    }
    Ok(code)
}
