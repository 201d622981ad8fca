//! An extension to the PAI-DLC API: a job's logs as a stream, for `opendlc logs -f`.
//!
//! `GET /api/v1/jobs/{JobId}/logs/stream?PodId=&Tail=&Since=&Follow=` answers
//! `application/x-ndjson`, one object per record:
//! `{"PodId":"…","Time":"2026-11-22T07:15:16.123456Z","Stream":"stdout","Line":"…"}`.
//! It starts with the last `Tail` records (default 2000) of each pod at or after `Since`, then,
//! with `Follow` (default true), sends records as the pods write them and ends once the job has
//! ended and every log is read to its end. Pods that start later are picked up. Each pod's
//! records arrive once and in order; pods are interleaved as their records are read.
//!
//! The task reading the logs ends as soon as the client leaves, even while no record comes:
//! [`LogStreams`] counts the tasks at work, and tests check that it falls back to zero.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use chrono::SecondsFormat;
use opendlc_api::ErrorCode;
use opendlc_runtime::logs::{read_from, read_log_records, LogChunk, LogQuery, LogRecord, Stream};
use tokio::sync::mpsc;

use super::{access, query};
use crate::http::{ApiError, ApiRequest};
use crate::state::AppState;

/// How often a followed stream looks for new records.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// How many log streams are being produced now (each is one task).
#[derive(Clone, Default)]
pub struct LogStreams(Arc<AtomicUsize>);

impl LogStreams {
    pub fn active(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn enter(&self) -> StreamGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        StreamGuard(self.0.clone())
    }
}

/// One stream at work; counted down when its task ends, however it ends.
struct StreamGuard(Arc<AtomicUsize>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct StreamQuery {
    pod_id: Option<String>,
    tail: usize,
    since: Option<chrono::DateTime<chrono::Utc>>,
    follow: bool,
}

fn parse_query(request: &ApiRequest) -> Result<StreamQuery, ApiError> {
    let text = |name: &str| {
        request
            .query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let tail = match text("Tail") {
        Some(v) => opendlc_api::query::parse::<i64>("Tail", &v)?,
        None => None,
    };
    let follow = match text("Follow") {
        Some(v) => opendlc_api::query::parse::<bool>("Follow", &v)?,
        None => None,
    };
    Ok(StreamQuery {
        pod_id: query::text(&text("PodId")),
        tail: query::count(tail, "Tail", 2000, 1_000_000)? as usize,
        since: query::time(&text("Since"), "Since")?.map(opendlc_core::time::to_datetime),
        follow: follow.unwrap_or(true),
    })
}

pub async fn stream(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let q = parse_query(request)?;
    let state_clone = state.clone();
    let job_id = request.param(0).to_string();
    access::readable_job(state, request, &job_id)?;
    if let Some(pod_id) = &q.pod_id {
        let pods = state.store.pods(&job_id)?;
        if !pods.iter().any(|p| &p.pod_id == pod_id) && !pods.is_empty() {
            return Err(ApiError::new(
                ErrorCode::PodNotFound,
                format!("The job {job_id} has no pod {pod_id}."),
            ));
        }
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let guard = state.log_streams.enter();
    tokio::spawn(async move {
        let _guard = guard;
        produce(state_clone, job_id, q, tx).await;
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    }));
    Response::builder()
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .map_err(|e| ApiError::internal("build the log stream", e))
}

/// Reads the pods' logs and sends their records until the job ends (or the client leaves).
async fn produce(state: AppState, job_id: String, q: StreamQuery, tx: mpsc::Sender<Bytes>) {
    // Per pod incarnation: where to continue reading.
    let mut offsets: HashMap<String, u64> = HashMap::new();
    let mut shutdown = state.shutdown.clone();
    loop {
        let (Ok(job), Ok(pods)) = (state.store.get_job(&job_id), state.store.pods(&job_id)) else {
            return; // deleted meanwhile
        };
        let job_ended = job.status.is_terminal();
        let current = pods
            .iter()
            .filter(|p| p.current && q.pod_id.as_ref().is_none_or(|id| id == &p.pod_id));
        for pod in current {
            let path = state
                .jobs_dir
                .pod(&job_id, &pod.pod_uid)
                .join(opendlc_runtime::LOG_FILE);
            let read = match offsets.get(&pod.pod_uid) {
                None => read_log_records(
                    &path,
                    &LogQuery {
                        max_lines: q.tail,
                        since: q.since,
                        until: None,
                    },
                ),
                Some(&offset) => read_from(&path, offset),
            };
            let Ok(mut chunk) = read else { continue };
            loop {
                let LogChunk {
                    records,
                    next_offset,
                } = chunk;
                let more = !records.is_empty() && offsets.contains_key(&pod.pod_uid);
                offsets.insert(pod.pod_uid.clone(), next_offset);
                if !send(&tx, &pod.pod_id, records).await {
                    return;
                }
                // read_from returns at most ~1 MiB at a time: keep going while there is more.
                if !more {
                    break;
                }
                match read_from(&path, next_offset) {
                    Ok(next) => chunk = next,
                    Err(_) => break,
                }
            }
        }
        if !q.follow || job_ended {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_INTERVAL) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
            // The client left (the response body, and with it the receiver, was dropped).
            _ = tx.closed() => return,
        }
    }
}

async fn send(tx: &mpsc::Sender<Bytes>, pod_id: &str, records: Vec<LogRecord>) -> bool {
    if records.is_empty() {
        return true;
    }
    let mut out = Vec::with_capacity(records.len() * 96);
    for r in records {
        let line = serde_json::json!({
            "PodId": pod_id,
            "Time": r.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            "Stream": match r.stream { Stream::Stdout => "stdout", Stream::Stderr => "stderr" },
            "Line": r.text,
        });
        serde_json::to_writer(&mut out, &line).expect("a JSON value serializes");
        out.push(b'\n');
    }
    tx.send(Bytes::from(out)).await.is_ok()
}
