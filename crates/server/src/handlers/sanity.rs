//! GetJobSanityCheckResult and ListJobSanityCheckResults: the phases of a job's sanity check
//! rounds (`CheckNumber` 1, 2, … ; see engine::sanity). Both answer `RequestID`, as the spec
//! spells it there.

use axum::response::Response;
use opendlc_api::{
    GetJobSanityCheckResultRequest, GetJobSanityCheckResultResponseBody,
    ListJobSanityCheckResultsRequest, ListJobSanityCheckResultsResponseBody, SanityCheckResultItem,
};
use opendlc_core::sanity::Phase;
use opendlc_store::SanityRecord;

use super::{access, query};
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

fn item(r: &SanityRecord) -> SanityCheckResultItem {
    let time = |t: Option<i64>| {
        t.map(|ms| {
            opendlc_core::time::to_datetime(ms)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
        })
    };
    SanityCheckResultItem {
        phase: Some(r.phase.clone()),
        status: Some(r.status.clone()),
        message: Some(r.message.clone()),
        started_at: time(r.started),
        finished_at: time(r.finished),
        check_number: Some(i64::from(r.check_number)),
    }
}

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetJobSanityCheckResultRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    let phase = match query::text(&q.sanity_check_phase) {
        None => None,
        Some(text) => Some(Phase::parse(&text).ok_or_else(|| {
            ApiError::invalid(
                "SanityCheckPhase",
                format!("must be one of CheckInit, DeviceCheck, SingleNodeCommCheck, TwoNodeCommCheck, AllNodeCommCheck; got \"{text}\""),
            )
        })?),
    };
    let records = state.store.sanity_results(&job.job_id)?;
    let rounds = records.iter().map(|r| r.check_number).max().unwrap_or(0);
    let number = match q.sanity_check_number {
        None => rounds,
        Some(n) if n >= 1 && n <= i64::from(rounds) => n as u32,
        Some(n) => {
            return Err(ApiError::invalid(
                "SanityCheckNumber",
                format!(
                    "job {} has {rounds} sanity check round(s), so {n} is not one",
                    job.job_id
                ),
            ))
        }
    };
    let items = records
        .iter()
        .filter(|r| r.check_number == number)
        .filter(|r| phase.is_none_or(|p| r.phase == p.as_str()))
        .map(item)
        .collect();
    ok(&GetJobSanityCheckResultResponseBody {
        job_id: Some(job.job_id),
        sanity_check_result: Some(items),
        request_id: Some(request.request_id.clone()),
    })
}

pub fn list(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = ListJobSanityCheckResultsRequest::from_query(&request.query)?;
    let job = access::readable_job(state, request, request.param(0))?;
    let descending = query::descending(&q.order, false)?;
    let records = state.store.sanity_results(&job.job_id)?;
    let mut rounds: Vec<Vec<SanityCheckResultItem>> = Vec::new();
    let mut current = None;
    for r in &records {
        if current != Some(r.check_number) {
            rounds.push(Vec::new());
            current = Some(r.check_number);
        }
        rounds.last_mut().expect("pushed above").push(item(r));
    }
    if descending {
        rounds.reverse();
    }
    ok(&ListJobSanityCheckResultsResponseBody {
        total_count: Some(rounds.len() as i64),
        sanity_check_results: Some(rounds),
        request_id: Some(request.request_id.clone()),
    })
}
