use axum::response::Response;
use opendlc_api::{ListJobsRequest, ListJobsResponseBody};
use opendlc_core::time::now_millis;
use opendlc_core::{JobStatus, JobType};
use opendlc_store::{JobFilter, NameMatch, NumericRange, RequestField, SortField, TimeField};

use crate::auth::Caller;
use crate::handlers::{access, query};
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;
use crate::views::{job_item, Names};

/// Without StartTime/EndTime, ListJobs shows the jobs of the last 7 days (documented default).
const DEFAULT_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// ListJobs: filters, sort and paging of the spec, applied in the store: on a blocking thread,
/// as a search over a long history takes milliseconds of every core; on one of the few threads
/// that answer requests it held back the requests queued behind it (a bulk clean-up's listing
/// delayed every other client's GetJob by 80 ms).
pub async fn list(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = ListJobsRequest::from_query(&request.query)?;
    let filter = filter(state, request.caller()?, &q)?;
    let store = state.store.clone();
    let (jobs, total) = tokio::task::spawn_blocking(move || store.list_jobs(&filter))
        .await
        .map_err(|e| ApiError::internal("list the jobs", e))??;
    let names = Names::load(&state.store)?;
    ok(&ListJobsResponseBody {
        request_id: Some(request.request_id.clone()),
        jobs: Some(
            jobs.iter()
                .map(|job| job_item(job, &names, &state.cluster_id))
                .collect(),
        ),
        total_count: Some(total as i64),
    })
}

fn filter(state: &AppState, caller: &Caller, q: &ListJobsRequest) -> Result<JobFilter, ApiError> {
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
    // JobId, when given, wins over JobIds (the spec says so).
    let job_ids = match query::text(&q.job_id) {
        Some(one) => vec![one],
        None => query::list(&q.job_ids),
    };
    let mut resource_ids = query::list(&q.resource_ids);
    resource_ids.extend(query::text(&q.resource_id));
    let show_own = q.show_own.unwrap_or(true);
    // Username names a user; an unknown name matches no job (an id no job has).
    let by_name = match query::text(&q.username) {
        Some(name) => Some(
            state
                .store
                .user_by_name(&name)?
                .map_or_else(String::new, |u| u.user_id),
        ),
        None => None,
    };
    let user_id = match (query::text(&q.user_id_for_filter), by_name) {
        (Some(id), Some(named)) if id != named => Some(String::new()),
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => show_own.then(|| caller.user_id().to_string()),
    };
    let all_workspaces = q.from_all_workspaces.unwrap_or(false);
    Ok(JobFilter {
        display_name: query::text(&q.display_name),
        display_name_match: name_match(&q.display_name_search_mode)?,
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
        assigned_nodes: assigned_nodes(&q.enable_assign_node)?,
        numeric_range: numeric_range(q)?,
        visible_to: access::visibility(caller),
        sort,
        descending: query::descending(&q.order, true)?,
        offset: (page_number - 1) * page_size,
        limit: page_size,
    })
}

/// `EnableAssignNode`: "true" or "false" (any case).
fn assigned_nodes(value: &Option<String>) -> Result<Option<bool>, ApiError> {
    match query::text(value)
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid(
            "EnableAssignNode",
            format!("must be true or false, got \"{other}\""),
        )),
    }
}

/// `NumericRangeField` with `NumericRangeMin`/`NumericRangeMax` (inclusive): RequestGPU,
/// RequestCPU (cores) or RequestMemory (GiB), the job's totals as GetJob says them.
fn numeric_range(q: &ListJobsRequest) -> Result<Option<NumericRange>, ApiError> {
    let (min, max) = (q.numeric_range_min, q.numeric_range_max);
    let field = match query::text(&q.numeric_range_field).as_deref() {
        None if min.is_none() && max.is_none() => return Ok(None),
        None => {
            return Err(ApiError::invalid(
                "NumericRangeField",
                "is needed with NumericRangeMin or NumericRangeMax: RequestGPU, RequestCPU or \
                 RequestMemory",
            ))
        }
        Some("RequestGPU") => RequestField::Gpu,
        Some("RequestCPU") => RequestField::Cpu,
        Some("RequestMemory") => RequestField::MemoryGib,
        Some(other) => {
            return Err(ApiError::invalid(
                "NumericRangeField",
                format!("must be RequestGPU, RequestCPU or RequestMemory, got \"{other}\""),
            ))
        }
    };
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            return Err(ApiError::invalid(
                "NumericRangeMin",
                format!("is more than NumericRangeMax ({min} > {max})"),
            ));
        }
    }
    Ok(Some(NumericRange { field, min, max }))
}

/// `DisplayNameSearchMode`: the spec's wildcard (the default) and fulltext match anywhere in
/// the name, prefix at its start, term (and opendlc's exact) the whole name; any case but for
/// the whole name.
fn name_match(mode: &Option<String>) -> Result<NameMatch, ApiError> {
    match query::text(mode).map(|m| m.to_ascii_lowercase()).as_deref() {
        None | Some("wildcard" | "fulltext") => Ok(NameMatch::Substring),
        Some("prefix") => Ok(NameMatch::Prefix),
        Some("term" | "exact") => Ok(NameMatch::Exact),
        Some(other) => Err(ApiError::invalid(
            "DisplayNameSearchMode",
            format!("must be wildcard, fulltext, prefix or term, got \"{other}\""),
        )),
    }
}
