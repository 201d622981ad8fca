//! GetJobMetrics: one series of every pod of a job, averaged over `TimeStep` buckets, read at
//! the coarsest resolution kept that fills them (core's `metrics::reads`).

use axum::response::Response;
use opendlc_api::{GetJobMetricsRequest, GetJobMetricsResponseBody, Metric, PodMetric};
use opendlc_core::metrics::{self, MetricType, DEFAULT_TIME_STEP_MS};
use opendlc_core::time::now_millis;

use super::query;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

/// The window when StartTime is absent: the last hour (the spec's default).
const DEFAULT_WINDOW_MS: i64 = 3600 * 1000;

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = GetJobMetricsRequest::from_query(&request.query)?;
    let job_id = request.param(0);
    let metric = metric_type(&q.metric_type)?;
    let now = now_millis();
    let end = query::time(&q.end_time, "EndTime")?.unwrap_or(now);
    let start = query::time(&q.start_time, "StartTime")?.unwrap_or(end - DEFAULT_WINDOW_MS);
    if start > end {
        return Err(ApiError::invalid(
            "StartTime",
            "must not be later than EndTime",
        ));
    }
    let step = match query::text(&q.time_step) {
        None => DEFAULT_TIME_STEP_MS,
        Some(text) => {
            metrics::parse_time_step(&text).map_err(|e| ApiError::invalid("TimeStep", e))?
        }
    };
    super::access::readable_job(state, request, job_id)?;
    let reads = metrics::reads(start, end, step, now);
    let points = state.store.metric_series(job_id, metric, &reads)?;
    let pod_metrics = metrics::aggregate(&points, step)
        .into_iter()
        .map(|(pod_id, series)| PodMetric {
            pod_id: Some(pod_id),
            metrics: Some(
                series
                    .into_iter()
                    .map(|(time, value)| Metric {
                        time: Some(time),
                        value: Some(value),
                    })
                    .collect(),
            ),
        })
        .collect();
    ok(&GetJobMetricsResponseBody {
        request_id: Some(request.request_id.clone()),
        job_id: Some(job_id.to_string()),
        pod_metrics: Some(pod_metrics),
    })
}

fn metric_type(value: &Option<String>) -> Result<MetricType, ApiError> {
    let names = || {
        MetricType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match query::text(value) {
        None => Err(ApiError::new(
            opendlc_api::ErrorCode::MissingParameter,
            format!("MetricType is required: one of {}.", names()),
        )),
        Some(text) => MetricType::parse(&text).ok_or_else(|| {
            ApiError::invalid(
                "MetricType",
                format!("\"{text}\" is not one of {}", names()),
            )
        }),
    }
}
