//! An extension to the PAI-DLC API, for the web console: the pool, its quotas and the queue.
//!
//! `GET /api/v1/capacity` (action `GetCapacity`, signed like every request; a share token does
//! not open it) answers what the pool and each quota (`ResourceId`) hold, use and have free, and
//! the queue in order with why each job waits. Totals count every job; the jobs listed are only
//! those the caller may read (IDENTITY.md), the others are counted in `HiddenQueued` and
//! `HiddenRunning`. Resources read `{"CPU": cores, "MemoryMiB": n, "GPU": n}`; the pool's CPU
//! is overcommitted as the scheduler counts it.

use axum::response::Response;
use opendlc_core::identity::Owned;
use opendlc_core::scheduler::PUBLIC_POOL;
use opendlc_core::time::format_wire;
use opendlc_core::{Job, JobStatus, Resources};
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// Statuses in which a job holds its resources (admitted, not yet released).
const HOLDING: &[JobStatus] = &[
    JobStatus::EnvPreparing,
    JobStatus::SanityChecking,
    JobStatus::Running,
    JobStatus::Restarting,
    JobStatus::Stopping,
    JobStatus::SucceededReserving,
    JobStatus::FailedReserving,
];

/// Statuses of a job waiting for its resources.
const WAITING: &[JobStatus] = &[JobStatus::Creating, JobStatus::Queuing, JobStatus::Bidding];

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let caller = request.caller()?;
    let holding = state.store.jobs_in_statuses(HOLDING)?;
    let waiting = state.store.jobs_in_statuses(WAITING)?;

    let used = sum(holding.iter());
    let quotas: Vec<Value> = state
        .quotas
        .iter()
        .map(|(id, limit)| {
            let used = sum(holding.iter().filter(|j| &j.resource_id == id));
            let queued = waiting.iter().filter(|j| &j.resource_id == id).count();
            json!({
                "ResourceId": id,
                "Total": resources(limit),
                "Used": resources(&used),
                "Free": resources(&limit.saturating_sub(&used)),
                "QueueLength": queued,
            })
        })
        .collect();

    // Queue order: the scheduler's positions; jobs not yet considered (just created) last.
    let waits: Vec<_> = waiting
        .iter()
        .map(|j| state.engine.wait_of(&j.job_id))
        .collect();
    let mut order: Vec<usize> = (0..waiting.len()).collect();
    order.sort_by_key(|&i| {
        (
            waits[i].as_ref().map_or(usize::MAX, |w| w.position),
            waiting[i].seq,
        )
    });
    let queue_length = waiting.len();
    let mut queue = Vec::new();
    for i in order {
        let job = &waiting[i];
        if !readable(caller, job) {
            continue;
        }
        let mut item = job_item(job);
        if let Some(wait) = &waits[i] {
            let reason = wait.reason(job.reason.as_ref());
            item["Position"] = wait.position.into();
            item["ReasonCode"] = reason.code.into();
            item["ReasonMessage"] = reason.message.into();
            if let Some(eta) = wait.eta {
                item["EstimatedStartTime"] = format_wire(eta).into();
            }
        }
        queue.push(item);
    }

    let running: Vec<Value> = holding
        .iter()
        .filter(|j| readable(caller, j))
        .map(job_item)
        .collect();

    ok(&json!({
        "RequestId": request.request_id,
        "Pool": {
            "Name": PUBLIC_POOL,
            "Total": resources(&state.pool),
            "Used": resources(&used),
            "Free": resources(&state.pool.saturating_sub(&used)),
        },
        "Quotas": quotas,
        "QueueLength": queue_length,
        "Queue": queue,
        "HiddenQueued": queue_length - queue.len(),
        "Running": running,
        "HiddenRunning": holding.len() - running.len(),
    }))
}

fn readable(caller: &Caller, job: &Job) -> bool {
    caller.can_read(Owned {
        owner_id: &job.user_id,
        workspace_id: &job.workspace_id,
        accessibility: &job.accessibility,
    })
}

fn sum<'a>(jobs: impl Iterator<Item = &'a Job>) -> Resources {
    jobs.fold(Resources::default(), |acc, j| acc + j.total_resources())
}

fn resources(r: &Resources) -> Value {
    json!({
        "CPU": r.cpu_milli as f64 / 1000.0,
        "MemoryMiB": r.memory_mib,
        "GPU": r.gpu,
    })
}

fn job_item(job: &Job) -> Value {
    json!({
        "JobId": job.job_id,
        "DisplayName": job.display_name,
        "JobType": job.job_type.to_string(),
        "Status": job.status.to_string(),
        "Priority": job.priority,
        "ResourceId": job.resource_id,
        "UserId": job.user_id,
        "WorkspaceId": job.workspace_id,
        "Request": resources(&job.total_resources()),
        "ReasonCode": job.reason.as_ref().map(|r| r.code.clone()),
        "ReasonMessage": job.reason.as_ref().map(|r| r.message.clone()),
        "GmtCreateTime": format_wire(job.times.created),
        "GmtRunningTime": job.times.running.map(format_wire),
    })
}
