use axum::response::Response;
use opendlc_api::{ListJobsRequest, ListJobsResponseBody};
use opendlc_core::time::now_millis;
use opendlc_core::{JobStatus, JobType};
use opendlc_store::{JobFilter, SortField, TimeField};

use crate::handlers::query;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;
use crate::views::job_item;

/// Without StartTime/EndTime, ListJobs shows the jobs of the last 7 days (documented default).
const DEFAULT_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// ListJobs: filters, sort and paging of the spec, applied in the store.
pub fn list(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = ListJobsRequest::from_query(&request.query)?;
    let filter = filter(state, &q)?;
    let (jobs, total) = state.store.list_jobs(&filter)?;
    ok(&ListJobsResponseBody {
        request_id: Some(request.request_id.clone()),
        jobs: Some(jobs.iter().map(job_item).collect()),
        total_count: Some(total as i64),
    })
}

fn filter(state: &AppState, q: &ListJobsRequest) -> Result<JobFilter, ApiError> {
    let job_types = query::list(&q.job_type);
    for t in &job_types {
        t.parse::<JobType>()
            .map_err(|e| ApiError::invalid("JobType", e))?;
    }
    let statuses = query::list(&q.status);
    for s in &statuses {
        s.parse::<JobStatus>()
            .map_err(|e| ApiError::invalid("Status", e))?;
    }
    let time_field = match query::text(&q.time_range_field).as_deref() {
        None | Some("GmtCreateTime") => TimeField::GmtCreateTime,
        Some("GmtRunningTime") => TimeField::GmtRunningTime,
        Some("GmtFinishTime") => TimeField::GmtFinishTime,
        Some(other) => {
            return Err(ApiError::invalid(
                "TimeRangeField",
                format!("must be GmtCreateTime, GmtRunningTime or GmtFinishTime, got \"{other}\""),
            ))
        }
    };
    let mut start = query::time(&q.start_time, "StartTime")?;
    let end = query::time(&q.end_time, "EndTime")?;
    if start.is_none() && end.is_none() {
        start = Some(now_millis() - DEFAULT_WINDOW_MS);
    }
    let sort = match query::text(&q.sort_by).as_deref() {
        None | Some("GmtCreateTime") => SortField::GmtCreateTime,
        Some("GmtFinishTime") => SortField::GmtFinishTime,
        Some("GmtRunningTime") => SortField::GmtRunningTime,
        Some("DisplayName") => SortField::DisplayName,
        Some("JobType") => SortField::JobType,
        Some("Status") => SortField::Status,
        Some("Priority") => SortField::Priority,
        Some(other) => {
            return Err(ApiError::invalid(
                "SortBy",
                format!(
                    "must be one of GmtCreateTime, GmtFinishTime, GmtRunningTime, DisplayName, JobType, Status, Priority; got \"{other}\""
                ),
            ))
        }
    };
    let page_size = query::count(q.page_size, "PageSize", 10, 100)?;
    let page_number = query::count(q.page_number, "PageNumber", 1, 1000)?;
    let mut job_ids = query::list(&q.job_ids);
    job_ids.extend(query::text(&q.job_id));
    let mut resource_ids = query::list(&q.resource_ids);
    resource_ids.extend(query::text(&q.resource_id));
    let show_own = q.show_own.unwrap_or(true);
    let user_id = query::text(&q.user_id_for_filter)
        .or_else(|| show_own.then(|| state.caller_id.to_string()));
    let all_workspaces = q.from_all_workspaces.unwrap_or(false);
    Ok(JobFilter {
        display_name: query::text(&q.display_name),
        display_name_exact: q
            .display_name_search_mode
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("exact")),
        job_types,
        statuses,
        time_field,
        start,
        end,
        job_ids,
        tags: q.tags.clone().unwrap_or_default(),
        workspace_id: query::text(&q.workspace_id).filter(|_| !all_workspaces),
        resource_ids,
        user_id,
        accessibility: query::text(&q.accessibility),
        user_command_search: query::text(&q.user_command_search),
        reason_search: query::text(&q.reason_search),
        image_search: query::text(&q.image_search),
        sort,
        descending: query::descending(&q.order, true)?,
        offset: (page_number - 1) * page_size,
        limit: page_size,
    })
}
