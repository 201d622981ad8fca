//! What `wait` prints when a job fails, is stopped or stalls: each pod's last events and log
//! lines (like the seed script's `wait_job_complete`), on stderr.

use opendlc_api::endpoints::GetPodLogs;
use opendlc_api::{GetJobResponseBody, GetPodLogsRequest};

use crate::util::short_pod;
use crate::Ctx;

const EVENTS: i64 = 5;
const LOG_LINES: i64 = 20;

/// Prints the diagnostics; failures to fetch them are reported, not raised.
pub fn print(ctx: &Ctx, job: &GetJobResponseBody) {
    let job_id = job.job_id.clone().unwrap_or_default();
    if let Some(reason) = job.reason_message.as_deref().filter(|r| !r.is_empty()) {
        eprintln!("reason: {reason}");
    }
    for pod in job.pods.iter().flatten() {
        let Some(pod_id) = pod.pod_id.as_deref() else {
            continue;
        };
        let name = short_pod(&job_id, pod_id);
        let status = pod.status.as_deref().unwrap_or("-");
        eprintln!("── {name} ({status}): last events");
        match super::events::pod_events(ctx, &job_id, pod_id, Some(EVENTS)) {
            Ok(reply) => reply
                .body
                .events
                .unwrap_or_default()
                .iter()
                .for_each(|e| eprintln!("   {e}")),
            Err(e) => eprintln!("   (events unavailable: {e})"),
        }
        eprintln!("── {name} ({status}): last {LOG_LINES} log lines");
        let request = GetPodLogsRequest {
            max_lines: Some(LOG_LINES),
            ..Default::default()
        };
        match ctx
            .client()
            .and_then(|c| c.call::<GetPodLogs>(&[&job_id, pod_id], &request))
        {
            Ok(reply) => reply
                .body
                .logs
                .unwrap_or_default()
                .iter()
                .for_each(|l| eprintln!("   {l}")),
            Err(e) => eprintln!("   (logs unavailable: {e})"),
        }
    }
}
