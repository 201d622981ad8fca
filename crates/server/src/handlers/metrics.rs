//! GetJobMetrics: one series of every pod of a job, averaged over `TimeStep` buckets, read at
//! the coarsest resolution kept that fills them (core's `metrics::reads`).

use axum::response::Response;
use opendlc_api::GetJobMetricsRequest;
use opendlc_core::metrics::{self, MetricType, DEFAULT_TIME_STEP_MS};
use opendlc_core::time::now_millis;
use serde::Serialize;

use super::query;
use crate::http::{ok_sized, ApiError, ApiRequest};
use crate::state::AppState;

/// The window when StartTime is absent: the last hour (the spec's default).
const DEFAULT_WINDOW_MS: i64 = 3600 * 1000;

pub async fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
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
    // A week of a big job's samples takes tens of milliseconds to read and average: on a
    // blocking thread, not on one of the few that answer requests (see ListJobs).
    let (store, id) = (state.store.clone(), job_id.to_string());
    let (series, bytes) = tokio::task::spawn_blocking(move || {
        let points = store.metric_series(&id, metric, &reads)?;
        // `{"Time":1764720000000,"Value":12.3456789},` is about 45 bytes.
        let bytes = 256 + points.len() * 48;
        Ok::<_, ApiError>((metrics::aggregate(&points, step), bytes))
    })
    .await
    .map_err(|e| ApiError::internal("read the job's metrics", e))??;
    ok_sized(&Answer::new(job_id, &series, &request.request_id), bytes)
}

/// The answer as [`opendlc_api::GetJobMetricsResponseBody`] writes it, from the aggregated series as they
/// are: no struct per point, of which a week of a 100-pod job has 200,000.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer<'a> {
    job_id: &'a str,
    pod_metrics: Vec<PodSeries<'a>>,
    request_id: &'a str,
}

impl<'a> Answer<'a> {
    fn new(job_id: &'a str, series: &'a [(String, Vec<(i64, f64)>)], request_id: &'a str) -> Self {
        Answer {
            job_id,
            pod_metrics: series
                .iter()
                .map(|(pod_id, points)| PodSeries {
                    pod_id,
                    metrics: Points(points),
                })
                .collect(),
            request_id,
        }
    }
}

/// A [`opendlc_api::PodMetric`].
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PodSeries<'a> {
    pod_id: &'a str,
    metrics: Points<'a>,
}

/// [`opendlc_api::Metric`]s.
struct Points<'a>(&'a [(i64, f64)]);

impl Serialize for Points<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Point {
            time: i64,
            value: f64,
        }
        serializer.collect_seq(self.0.iter().map(|&(time, value)| Point { time, value }))
    }
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

#[cfg(test)]
mod tests {
    use opendlc_api::{GetJobMetricsResponseBody, Metric, PodMetric};

    use super::*;

    #[test]
    fn the_answer_is_written_as_the_generated_body_writes_it() {
        let series = [
            (
                "dlc1-worker-0".to_string(),
                vec![(1_764_720_000_000, 12.5), (1_764_720_300_000, 0.0)],
            ),
            ("dlc1-worker-1".to_string(), vec![]),
        ];
        let answer = Answer::new("dlc1", &series, "R");
        let generated = GetJobMetricsResponseBody {
            request_id: Some("R".into()),
            job_id: Some("dlc1".into()),
            pod_metrics: Some(
                series
                    .iter()
                    .map(|(pod_id, points)| PodMetric {
                        pod_id: Some(pod_id.clone()),
                        metrics: Some(
                            points
                                .iter()
                                .map(|&(time, value)| Metric {
                                    time: Some(time),
                                    value: Some(value),
                                })
                                .collect(),
                        ),
                    })
                    .collect(),
            ),
        };
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            serde_json::to_value(&generated).unwrap()
        );
    }
}
