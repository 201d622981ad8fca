//! `opendlc get JOB`: the job's summary, its pods, its status history and why it waits.

use opendlc_api::endpoints::GetJob;
use opendlc_api::{GetJobRequest, GetJobResponseBody};

use crate::error::{exit, Result};
use crate::output::{cell, duration, print_document, time, Format, Table};
use crate::util::short_pod;
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc get dlc1a2b3c4d5e6f
  opendlc get dlc1a2b3c4d5e6f -o json | jq .Status";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job: String,
}

pub fn fetch(ctx: &Ctx, job: &str) -> Result<crate::client::Reply<GetJobResponseBody>> {
    let request = GetJobRequest {
        need_detail: Some(true),
    };
    ctx.client()?.call::<GetJob>(&[job], &request)
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let reply = fetch(ctx, &args.job)?;
    if ctx.format() != Format::Table {
        print_document(ctx.format(), &reply.raw)?;
        return Ok(exit::OK);
    }
    print!("{}", render(&reply.body));
    print!("{}", services(&reply.body, ctx.client()?.base()));
    Ok(exit::OK)
}

/// The addresses of the ports the job's pods declared (`ServiceSpec`), served by the server's
/// proxy while the pod runs; nothing when the job declared none.
pub fn services(job: &GetJobResponseBody, base: &str) -> String {
    let job_id = job.job_id.clone().unwrap_or_default();
    let ports_of = |role: &str| -> Vec<i64> {
        let spec = job.job_specs.iter().flatten().find(|s| {
            s.r#type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(role))
        });
        let service = spec.and_then(|s| s.service_spec.as_ref());
        let default = service.and_then(|s| s.default_port);
        let extra = service
            .and_then(|s| s.extra_ports.clone())
            .unwrap_or_default();
        default.into_iter().chain(extra).collect()
    };
    let mut table = Table::new(&["POD", "PORT", "STATUS", "URL"]);
    let mut any = false;
    for pod in job.pods.iter().flatten() {
        let pod_id = pod.pod_id.as_deref().unwrap_or("");
        for port in ports_of(pod.r#type.as_deref().unwrap_or("")) {
            any = true;
            table.row(vec![
                short_pod(&job_id, pod_id).to_string(),
                port.to_string(),
                cell(&pod.status),
                format!("{base}/services/{job_id}/{pod_id}/{port}/"),
            ]);
        }
    }
    if !any {
        return String::new();
    }
    format!(
        "\nServices (HTTP Basic credentials, or ?token=$(opendlc share {job_id})):\n{}",
        table.render()
    )
}

/// The label and text of a job's reason. The server words why a job waits as "Waiting: …":
/// that becomes the label, not a repeat of it.
fn reason_field<'a>(status: &str, reason: &'a str) -> (&'static str, &'a str) {
    match reason.strip_prefix("Waiting:") {
        Some(rest) => ("Waiting:", rest.trim_start()),
        None if matches!(status, "Creating" | "Queuing" | "Bidding")
            && !reason.contains("Waiting:") =>
        {
            ("Waiting:", reason)
        }
        None => ("Reason:", reason),
    }
}

/// The human view of a job.
pub fn render(job: &GetJobResponseBody) -> String {
    let job_id = job.job_id.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    let mut out = String::new();
    let mut field = |name: &str, value: String| out.push_str(&format!("{name:<11} {value}\n"));
    field("Job:", job_id.clone());
    field("Name:", cell(&job.display_name));
    field("Type:", cell(&job.job_type));
    field("Status:", status.clone());
    if let Some(reason) = job.reason_message.as_deref().filter(|r| !r.is_empty()) {
        let (label, text) = reason_field(&status, reason);
        field(label, text.to_string());
    }
    field("Priority:", cell(&job.priority));
    field("Workspace:", cell(&job.workspace_id));
    field("Created:", time(&job.gmt_create_time));
    field("Running:", time(&job.gmt_running_time));
    field("Finished:", time(&job.gmt_finish_time));
    field(
        "Duration:",
        job.duration.map(duration).unwrap_or_else(|| "-".into()),
    );
    field("Command:", cell(&job.user_command));
    let roles: Vec<String> = job
        .job_specs
        .iter()
        .flatten()
        .map(|s| {
            let spec = s.ecs_spec.clone().unwrap_or_default();
            format!(
                "{} ×{}{}",
                s.r#type.clone().unwrap_or_default(),
                s.pod_count.unwrap_or(1),
                if spec.is_empty() {
                    String::new()
                } else {
                    format!(" ({spec})")
                }
            )
        })
        .collect();
    field("Roles:", roles.join(", "));

    let pods = job.pods.clone().unwrap_or_default();
    if !pods.is_empty() {
        let mut table = Table::new(&["POD", "TYPE", "STATUS", "IP", "STARTED", "FINISHED"]);
        for pod in &pods {
            table.row(vec![
                short_pod(&job_id, pod.pod_id.as_deref().unwrap_or("")).to_string(),
                cell(&pod.r#type),
                cell(&pod.status),
                cell(&pod.ip),
                time(&pod.gmt_start_time),
                time(&pod.gmt_finish_time),
            ]);
        }
        out.push_str("\nPods:\n");
        out.push_str(&table.render());
    }
    let history = job.status_history.clone().unwrap_or_default();
    if !history.is_empty() {
        let mut table = Table::new(&["STATUS", "SINCE", "REASON"]);
        for item in &history {
            table.row(vec![
                cell(&item.status),
                time(&item.start_time),
                cell(&item.reason_message),
            ]);
        }
        out.push_str("\nStatus history:\n");
        out.push_str(&table.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: &str, reason: &str) -> GetJobResponseBody {
        GetJobResponseBody {
            status: Some(status.into()),
            reason_message: Some(reason.into()),
            ..Default::default()
        }
    }

    #[test]
    fn why_a_job_waits_is_said_once() {
        let text = render(&job(
            "Queuing",
            "Waiting: needs 2 GPU, 0 free in pool public.",
        ));
        assert!(
            text.contains("Waiting:    needs 2 GPU, 0 free in pool public.\n"),
            "{text}"
        );
        assert!(!text.contains("Waiting: Waiting:"), "{text}");
        let text = render(&job("Queuing", "Queued behind a reservation."));
        assert!(text.contains("Waiting:    Queued behind"), "{text}");
        // A preempted job: its reason, then why it waits now.
        let text = render(&job("Queuing", "Preempted by dlc1. Waiting: needs 1 CPU."));
        assert!(
            text.contains("Reason:     Preempted by dlc1. Waiting: needs 1 CPU."),
            "{text}"
        );
        let text = render(&job("Failed", "The pod worker-0 exited with 1."));
        assert!(text.contains("Reason:     The pod worker-0"), "{text}");
    }

    #[test]
    fn declared_ports_are_listed_with_their_addresses() {
        let mut body: GetJobResponseBody = serde_json::from_value(serde_json::json!({
            "JobId": "dlc1",
            "JobSpecs": [{"Type": "Worker", "ServiceSpec": {"DefaultPort": 8080, "ExtraPorts": [9090]}}],
            "Pods": [{"PodId": "dlc1-worker-0", "Type": "worker", "Status": "Running"}],
        }))
        .unwrap();
        let text = services(&body, "http://127.0.0.1:8080");
        assert!(
            text.contains("http://127.0.0.1:8080/services/dlc1/dlc1-worker-0/8080/"),
            "{text}"
        );
        assert!(text.contains("/dlc1-worker-0/9090/"), "{text}");
        body.job_specs = None;
        assert_eq!(services(&body, "http://127.0.0.1:8080"), "");
    }
}
