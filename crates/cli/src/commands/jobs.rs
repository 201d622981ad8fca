//! `opendlc jobs [list]`: ListJobs as a table.

use opendlc_api::endpoints::ListJobs;
use opendlc_api::ListJobsRequest;

use crate::error::{exit, Result};
use crate::output::{cell, duration, print_document, time, truncate, Format, Table};
use crate::util::key_values;
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc jobs                             # the latest jobs of the last 7 days
  opendlc jobs list --status Running,Queuing
  opendlc jobs --name mnist --type PyTorchJob --page-size 100
  opendlc jobs --tag team=vision -o json | jq -r '.Jobs[].JobId'";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `list` (the only action; may be left out).
    #[arg(value_parser = ["list"], hide = true)]
    pub action: Option<String>,
    /// Statuses, comma-separated (Creating, Queuing, Bidding, EnvPreparing, Running, Stopping,
    /// Succeeded, Failed, Stopped).
    #[arg(long, short = 's')]
    pub status: Option<String>,
    /// Jobs whose name contains this (case-insensitive).
    #[arg(long)]
    pub name: Option<String>,
    /// Job types, comma-separated (PyTorchJob, TFJob, …).
    #[arg(long = "type")]
    pub job_type: Option<String>,
    /// Job ids, comma-separated.
    #[arg(long)]
    pub job_ids: Option<String>,
    /// Tags the jobs carry: NAME=VALUE, comma-separated or repeated.
    #[arg(long = "tag", value_delimiter = ',', value_name = "NAME=VALUE")]
    pub tags: Vec<String>,
    /// Jobs created at or after this time (RFC 3339).
    #[arg(long)]
    pub start_time: Option<String>,
    /// Jobs created at or before this time (RFC 3339).
    #[arg(long)]
    pub end_time: Option<String>,
    /// Workspace id.
    #[arg(long)]
    pub workspace_id: Option<String>,
    /// Jobs of every workspace.
    #[arg(long)]
    pub all_workspaces: bool,
    /// Sort by GmtCreateTime (default), GmtFinishTime, GmtRunningTime, DisplayName, JobType,
    /// Status or Priority.
    #[arg(long)]
    pub sort_by: Option<String>,
    /// asc or desc (default).
    #[arg(long)]
    pub order: Option<String>,
    /// Jobs per page, 1–100.
    #[arg(long, short = 'n', default_value_t = 50)]
    pub page_size: i64,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: i64,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let tags = key_values(&args.tags, "--tag")?;
    let request = ListJobsRequest {
        status: args.status,
        display_name: args.name,
        job_type: args.job_type,
        job_ids: args.job_ids,
        tags: (!tags.is_empty()).then_some(tags),
        start_time: args.start_time,
        end_time: args.end_time,
        workspace_id: args.workspace_id,
        from_all_workspaces: args.all_workspaces.then_some(true),
        sort_by: args.sort_by,
        order: args.order,
        page_size: Some(args.page_size),
        page_number: Some(args.page),
        ..Default::default()
    };
    let reply = ctx.client()?.call::<ListJobs>(&[], &request)?;
    if ctx.format() != Format::Table {
        print_document(ctx.format(), &reply.raw)?;
        return Ok(exit::OK);
    }
    let jobs = reply.body.jobs.unwrap_or_default();
    let mut table = Table::new(&[
        "JOB ID", "NAME", "TYPE", "STATUS", "PRIORITY", "CREATED", "DURATION", "REASON",
    ]);
    for job in &jobs {
        let status = job.status.clone().unwrap_or_default();
        let reason = match status.as_str() {
            "Queuing" | "Bidding" | "Failed" | "Stopped" => {
                truncate(job.reason_message.as_deref().unwrap_or(""), 50)
            }
            _ => String::new(),
        };
        table.row(vec![
            cell(&job.job_id),
            cell(&job.display_name),
            cell(&job.job_type),
            status,
            cell(&job.priority),
            time(&job.gmt_create_time),
            job.duration.map(duration).unwrap_or_else(|| "-".into()),
            reason,
        ]);
    }
    if table.is_empty() {
        eprintln!("no jobs (ListJobs shows the last 7 days unless --start-time is given)");
    } else {
        table.print()?;
    }
    let total = reply.body.total_count.unwrap_or(0);
    let shown = (args.page - 1) * args.page_size + jobs.len() as i64;
    if total > shown {
        eprintln!(
            "{shown} of {total} jobs; see more with --page {} or --page-size",
            args.page + 1
        );
    }
    Ok(exit::OK)
}
