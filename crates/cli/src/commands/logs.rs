//! `opendlc logs JOB [POD] [-f]`: a job's logs through the log stream extension
//! (`GET /api/v1/jobs/{JobId}/logs/stream`, NDJSON), all pods interleaved by time with a pod
//! prefix, or one pod. Without `-f`, a server lacking the extension is read with GetPodLogs,
//! pod by pod.

use std::io::{BufRead, Write};

use opendlc_api::endpoints::GetPodLogs;
use opendlc_api::GetPodLogsRequest;
use serde::Deserialize;

use crate::error::{exit, CliError, Result};
use crate::output::{print_document, Format};
use crate::util::{parse_since, short_pod};
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc logs dlc1a2b3c4d5e6f                # every pod, lines prefixed [worker-0]
  opendlc logs dlc1a2b3c4d5e6f worker-0       # one pod (or its full id)
  opendlc logs dlc1a2b3c4d5e6f -f             # follow until the job ends
  opendlc logs dlc1a2b3c4d5e6f --tail 100 --since 10m --timestamps
  opendlc logs dlc1a2b3c4d5e6f -o json        # the stream's records, one JSON object a line";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job: String,
    /// A pod: `dlc…-worker-0`, or just `worker-0`. All pods when left out.
    pub pod: Option<String>,
    /// Follow: print lines as the pods write them, until the job has ended.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Start with the last N lines of each pod.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub tail: i64,
    /// Only lines written since this time: RFC 3339, or a duration ago (10m, 2h).
    #[arg(long, value_parser = parse_since, value_name = "TIME")]
    pub since: Option<String>,
    /// Prefix each line with its time (UTC).
    #[arg(long, short = 't')]
    pub timestamps: bool,
}

/// One record of the log stream.
#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "PodId")]
    pod_id: String,
    #[serde(rename = "Time", default)]
    time: String,
    #[serde(rename = "Line")]
    line: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let pod = args
        .pod
        .as_deref()
        .map(|p| super::events::full_pod_id(&args.job, p));
    let query = Query {
        job: &args.job,
        pod: pod.as_deref(),
        tail: args.tail,
        since: args.since.as_deref(),
        follow: args.follow,
        timestamps: args.timestamps,
    };
    match stream(ctx, &query) {
        Err(CliError::Api { code, .. }) if code == "InvalidAction.NotFound" && !args.follow => {
            per_pod(ctx, &query)?;
        }
        Err(CliError::Api { code, .. }) if code == "InvalidAction.NotFound" => {
            return Err(CliError::usage(
                "this server has no log stream (GET /api/v1/jobs/{JobId}/logs/stream), so -f \
                 cannot follow; upgrade the server or leave out -f",
            ))
        }
        other => other?,
    }
    Ok(exit::OK)
}

/// `submit --follow`: every pod, from the start, until the job ends.
pub fn follow_job(ctx: &Ctx, job: &str) -> Result<()> {
    stream(
        ctx,
        &Query {
            job,
            pod: None,
            tail: 2000,
            since: None,
            follow: true,
            timestamps: false,
        },
    )
}

struct Query<'a> {
    job: &'a str,
    pod: Option<&'a str>,
    tail: i64,
    since: Option<&'a str>,
    follow: bool,
    timestamps: bool,
}

fn stream(ctx: &Ctx, q: &Query<'_>) -> Result<()> {
    let mut params = vec![
        ("Tail".to_string(), q.tail.to_string()),
        ("Follow".to_string(), q.follow.to_string()),
    ];
    if let Some(pod) = q.pod {
        params.push(("PodId".to_string(), pod.to_string()));
    }
    if let Some(since) = q.since {
        params.push(("Since".to_string(), since.to_string()));
    }
    let mut reader = ctx.client()?.stream_logs(q.job, &params)?;
    let mut out = std::io::stdout().lock();
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| CliError::BadResponse {
                status: 200,
                detail: format!("the log stream broke off: {e}"),
            })?;
        if n == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        if ctx.format() == Format::Json {
            writeln!(out, "{}", line.trim_end())?;
        } else {
            let record: Record =
                serde_json::from_str(&line).map_err(|e| CliError::BadResponse {
                    status: 200,
                    detail: format!("a log stream record is not valid: {e}"),
                })?;
            let prefix = q.pod.is_none().then(|| short_pod(q.job, &record.pod_id));
            write_line(
                &mut out,
                q.timestamps.then_some(record.time.as_str()),
                prefix,
                &record.line,
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn write_line(
    out: &mut impl Write,
    time: Option<&str>,
    prefix: Option<&str>,
    line: &str,
) -> std::io::Result<()> {
    if let Some(time) = time {
        write!(out, "{time} ")?;
    }
    if let Some(prefix) = prefix {
        write!(out, "[{prefix}] ")?;
    }
    writeln!(out, "{line}")
}

/// Without the stream extension: GetPodLogs for each pod, one pod after the other.
fn per_pod(ctx: &Ctx, q: &Query<'_>) -> Result<()> {
    let pods: Vec<String> = match q.pod {
        Some(pod) => vec![pod.to_string()],
        None => super::get::fetch(ctx, q.job)?
            .body
            .pods
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.pod_id)
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    for pod in &pods {
        let request = GetPodLogsRequest {
            max_lines: Some(q.tail),
            start_time: q.since.map(str::to_string),
            ..Default::default()
        };
        let reply = ctx.client()?.call::<GetPodLogs>(&[q.job, pod], &request)?;
        if ctx.format() != Format::Table {
            print_document(ctx.format(), &reply.raw)?;
            continue;
        }
        let prefix = q.pod.is_none().then(|| short_pod(q.job, pod));
        for line in reply.body.logs.unwrap_or_default() {
            write_line(&mut out, None, prefix, &line)?;
        }
    }
    Ok(())
}
