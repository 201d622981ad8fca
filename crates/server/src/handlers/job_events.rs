//! GetJobEvents: the job's events as `YYYY-MM-DD HH:MM:SS text` lines.

use axum::response::Response;
use opendlc_api::{GetJobEventsRequest, GetJobEventsResponseBody};
use opendlc_core::time::Millis;

use super::{access, query};
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// Events returned when MaxEventsNum is absent (PAI's `dlc` CLI asks for 2000).
pub const DEFAULT_MAX_EVENTS: u64 = 2000;

/// Where GetJobEvents and GetPodLogs start without a StartTime: 7 days ago (the spec's default).
pub const DEFAULT_LOOKBACK_MS: i64 = 7 * 24 * 3600 * 1000;

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetJobEventsRequest::from_query(&request.query)?;
    let job_id = request.param(0);
    access::readable_job(state, request, job_id)?;
    let events = read_events(
        state,
        job_id,
        None,
        q.max_events_num,
        &q.start_time,
        &q.end_time,
        (
            Some(opendlc_core::time::now_millis() - DEFAULT_LOOKBACK_MS),
            None,
        ),
    )?;
    ok(&GetJobEventsResponseBody {
        request_id: Some(request.request_id.clone()),
        job_id: Some(job_id.to_string()),
        events: Some(events),
    })
}

/// Event lines of a job (or of one of its pods), oldest first; without StartTime or EndTime,
/// within `default_window` (`None`: the first, the last).
pub fn read_events(
    state: &AppState,
    job_id: &str,
    pod_id: Option<&str>,
    max: Option<i64>,
    start: &Option<String>,
    end: &Option<String>,
    default_window: (Option<Millis>, Option<Millis>),
) -> Result<Vec<String>, ApiError> {
    let max = query::count(max, "MaxEventsNum", DEFAULT_MAX_EVENTS, 10_000)?;
    let start = query::time(start, "StartTime")?
        .or(default_window.0)
        .unwrap_or(i64::MIN);
    let end = query::time(end, "EndTime")?
        .or(default_window.1)
        .unwrap_or(i64::MAX);
    let events = state
        .store
        .events(job_id, pod_id, start, end, max as usize)?;
    Ok(events
        .into_iter()
        .map(|e| format!("{} {}", opendlc_core::time::format_event(e.time), e.text))
        .collect())
}
