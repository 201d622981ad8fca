//! `opendlc events JOB [POD]`: GetJobEvents or GetPodEvents.

use opendlc_api::endpoints::{GetJobEvents, GetPodEvents};
use opendlc_api::{GetJobEventsRequest, GetPodEventsRequest};

use crate::error::{exit, Result};
use crate::output::{print_document, Format};
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc events dlc1a2b3c4d5e6f
  opendlc events dlc1a2b3c4d5e6f worker-0     # one pod (its id, or its name without the JobId)
  opendlc events dlc1a2b3c4d5e6f --max 20 -o json";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job: String,
    /// A pod: `dlc…-worker-0`, or just `worker-0`.
    pub pod: Option<String>,
    /// At most this many (the latest).
    #[arg(long, value_name = "N")]
    pub max: Option<i64>,
    /// Events at or after this time (RFC 3339).
    #[arg(long)]
    pub start_time: Option<String>,
}

/// `worker-0` → `<job>-worker-0`; a full pod id stays as it is.
pub fn full_pod_id(job: &str, pod: &str) -> String {
    if pod.starts_with(job) {
        pod.to_string()
    } else {
        format!("{job}-{pod}")
    }
}

/// The last `max` events of one pod.
pub fn pod_events(
    ctx: &Ctx,
    job: &str,
    pod: &str,
    max: Option<i64>,
) -> Result<crate::client::Reply<opendlc_api::GetPodEventsResponseBody>> {
    let request = GetPodEventsRequest {
        max_events_num: max,
        ..Default::default()
    };
    ctx.client()?.call::<GetPodEvents>(&[job, pod], &request)
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let (raw, events) = match &args.pod {
        Some(pod) => {
            let pod = full_pod_id(&args.job, pod);
            let request = GetPodEventsRequest {
                max_events_num: args.max,
                start_time: args.start_time,
                ..Default::default()
            };
            let reply = ctx
                .client()?
                .call::<GetPodEvents>(&[&args.job, &pod], &request)?;
            (reply.raw, reply.body.events)
        }
        None => {
            let request = GetJobEventsRequest {
                max_events_num: args.max,
                start_time: args.start_time,
                ..Default::default()
            };
            let reply = ctx.client()?.call::<GetJobEvents>(&[&args.job], &request)?;
            (reply.raw, reply.body.events)
        }
    };
    if ctx.format() != Format::Table {
        print_document(ctx.format(), &raw)?;
        return Ok(exit::OK);
    }
    for event in events.unwrap_or_default() {
        println!("{event}");
    }
    Ok(exit::OK)
}
