//! GetTensorboard, ListTensorboards, GetTensorboardSharedUrl.

use axum::response::Response;
use opendlc_api::{
    CreateTensorboardRequest, GetTensorboardRequest, GetTensorboardSharedUrlRequest,
    GetTensorboardSharedUrlResponseBody, ListTensorboardsRequest, ListTensorboardsResponseBody,
};
use opendlc_core::tensorboard::{Tensorboard, TensorboardStatus};
use opendlc_core::time::{format_wire, now_millis};
use opendlc_store::TensorboardFilter;

use super::accessibility;
use crate::auth::token::{Claims, TargetType};
use crate::handlers::access;
use crate::handlers::query;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// ListTensorboards without StartTime: the last 7 days (the spec's default).
const DEFAULT_LIST_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;
/// GetTensorboardSharedUrl without ExpireTimeSeconds: one day.
const DEFAULT_SHARE_SECONDS: i64 = 86_400;
/// The spec's maximum: 7 days.
const MAX_SHARE_SECONDS: i64 = 604_800;

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetTensorboardRequest::from_query(&request.query)?;
    let id = request.param(0);
    // A `Token` was checked by the authentication layer (it opens this TensorBoard only).
    let _ = q.token;
    let tb = access::readable_tensorboard(state, request, id)?;
    let mut view = view(state, &tb);
    view.request_id = Some(request.request_id.clone());
    ok(&view)
}

pub fn list(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = ListTensorboardsRequest::from_query(&request.query)?;
    let page_size = query::count(q.page_size, "PageSize", 10, 100)?;
    let page_number = query::count(q.page_number, "PageNumber", 1, 1000)?;
    let now = now_millis();
    let end = query::time(&q.end_time, "EndTime")?.unwrap_or(i64::MAX);
    let start = query::time(&q.start_time, "StartTime")?.unwrap_or(now - DEFAULT_LIST_WINDOW_MS);
    let status = match query::text(&q.status) {
        None => None,
        Some(s) => Some(TensorboardStatus::parse(&s).ok_or_else(|| {
            ApiError::invalid(
                "Status",
                format!(
                    "must be one of Creating, Running, Stopped, Succeeded, Failed; got \"{s}\""
                ),
            )
        })?),
    };
    let sort_by_name = match query::text(&q.sort_by).as_deref() {
        None | Some("GmtCreateTime") => false,
        Some("DisplayName") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "SortBy",
                format!("must be GmtCreateTime or DisplayName, got \"{other}\""),
            ))
        }
    };
    let source_job = match query::text(&q.source_type) {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("job") => query::text(&q.source_id),
        Some(t) => {
            return Err(ApiError::invalid(
                "SourceType",
                format!("only job is supported, got \"{t}\""),
            ))
        }
    };
    let caller = request.caller()?;
    // ShowOwn (the default) lists the caller's own; without it, what the caller may read
    // (ListJobs' rule).
    let show_own = q.show_own.unwrap_or(true);
    let filter = TensorboardFilter {
        tensorboard_id: query::text(&q.tensorboard_id),
        job_id: query::text(&q.job_id).or(source_job),
        display_name: query::text(&q.display_name),
        status,
        workspace_id: query::text(&q.workspace_id),
        user_id: if show_own {
            Some(caller.user_id().to_string())
        } else {
            query::text(&q.user_id)
        },
        accessibility: accessibility(&q.accessibility)?,
        visible_to: access::visibility(caller),
        created_from: start,
        created_to: end,
        sort_by_name,
        descending: query::descending(&q.order, true)?,
        limit: page_size,
        offset: (page_number - 1) * page_size,
    };
    let (page, total) = state.store.list_tensorboards(&filter)?;
    ok(&ListTensorboardsResponseBody {
        tensorboards: Some(page.iter().map(|tb| view(state, tb)).collect()),
        total_count: Some(total as i64),
        request_id: Some(request.request_id.clone()),
    })
}

/// A URL that opens the TensorBoard without credentials until it expires.
pub fn shared_url(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetTensorboardSharedUrlRequest::from_query(&request.query)?;
    let id = request.param(0);
    let seconds = match query::text(&q.expire_time_seconds) {
        None => DEFAULT_SHARE_SECONDS,
        Some(text) => match text.parse::<i64>() {
            // 0 means the default, as GetToken's ExpireTime.
            Ok(0) => DEFAULT_SHARE_SECONDS,
            Ok(n) if (1..=MAX_SHARE_SECONDS).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(
                    "ExpireTimeSeconds",
                    format!("must be a whole number of seconds from 0 (the default) to {MAX_SHARE_SECONDS}, got \"{text}\""),
                ))
            }
        },
    };
    access::readable_tensorboard(state, request, id)?;
    let now = now_millis() / 1000;
    let token = state.tensorboards.token_key.issue(&Claims {
        target_type: TargetType::Tensorboard,
        target_id: id.to_string(),
        user_id: request.caller()?.user_id().to_string(),
        iat: now,
        exp: now + seconds,
        jti: None,
    });
    ok(&GetTensorboardSharedUrlResponseBody {
        tensorboard_shared_url: Some(format!("{}?token={token}", state.tensorboards.url(id))),
        request_id: Some(request.request_id.clone()),
    })
}

fn view(state: &AppState, tb: &Tensorboard) -> opendlc_api::Tensorboard {
    let req: CreateTensorboardRequest = serde_json::from_str(&tb.request).unwrap_or_default();
    let duration = tb.started.map(|start| {
        let end = if tb.status.is_active() {
            now_millis()
        } else {
            tb.finished.unwrap_or(start)
        };
        ((end - start).max(0) / 1000).to_string()
    });
    opendlc_api::Tensorboard {
        tensorboard_id: Some(tb.tensorboard_id.clone()),
        tensorboard_url: Some(state.tensorboards.url(&tb.tensorboard_id)),
        status: Some(tb.status.as_str().into()),
        duration,
        gmt_create_time: Some(format_wire(tb.created)),
        gmt_modify_time: Some(format_wire(tb.modified)),
        gmt_finish_time: tb.finished.map(format_wire),
        display_name: Some(tb.display_name.clone()),
        data_source_id: req.data_source_id,
        data_source_type: req.data_source_type,
        options: req.options,
        summary_path: Some(tb.summary_path.clone()),
        summary_relative_path: req.summary_relative_path,
        user_id: Some(tb.user_id.clone()),
        reason_code: tb.reason_code.clone(),
        reason_message: tb.reason_message.clone(),
        job_id: tb.job_id.clone(),
        tensorboard_data_sources: req.tensorboard_data_sources,
        tensorboard_spec: req.tensorboard_spec,
        quota_id: req.quota_id,
        priority: tb.priority.clone(),
        accessibility: Some(tb.accessibility.clone()),
        cpu: req.cpu,
        memory: req.memory,
        max_running_time_minutes: tb.max_running_minutes,
        workspace_id: Some(tb.workspace_id.clone()),
        ..Default::default()
    }
}
