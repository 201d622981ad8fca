//! GetJobMetrics: pods are sampled while they run; samples outlive the job; MetricType,
//! StartTime/EndTime and TimeStep are honoured and validated.

mod common;

use std::time::Duration;

use common::{pytorch_job, TestServer};
use serde_json::Value;

async fn server() -> TestServer {
    TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.metrics.interval = Duration::from_millis(200);
    })
    .await
}

async fn metrics(server: &TestServer, job_id: &str, query: &str) -> Value {
    server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/metrics?{query}"),
            None,
        )
        .await
}

/// Values of the one pod's series.
fn values(body: &Value, pod_id: &str) -> Vec<(i64, f64)> {
    let pods = body["PodMetrics"].as_array().expect("PodMetrics");
    let pod = pods
        .iter()
        .find(|p| p["PodId"] == pod_id)
        .unwrap_or_else(|| panic!("no series of {pod_id}: {body}"));
    pod["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Time"].as_i64().unwrap(), m["Value"].as_f64().unwrap()))
        .collect()
}

/// Burns one core for ~2.5 s while holding 200 MB.
const BURN: &str = "python3 -c \"import time\nx = bytearray(200 * 1024 * 1024)\nt = time.time()\nwhile time.time() - t < 2.5: pass\"";

#[tokio::test]
async fn a_busy_job_has_cpu_and_memory_samples_that_outlive_it() {
    let server = server().await;
    let job_id = server
        .create_job(pytorch_job("burn", &[("Worker", 1)], BURN))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    let pod_id = format!("{job_id}-worker-0");

    let cpu = metrics(&server, &job_id, "MetricType=CpuCoreUsage&TimeStep=1s").await;
    assert_eq!(cpu["JobId"], job_id.as_str());
    let cpu = values(&cpu, &pod_id);
    let peak = cpu.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    // A busy loop uses a whole core on an idle machine; on a loaded one it gets its share
    // (how much depends on what else runs), still above an idle pod's ~0%.
    assert!(peak > 1.0 && peak < 150.0, "a busy core shows: {cpu:?}");

    let memory = values(
        &metrics(&server, &job_id, "MetricType=MemoryUsage&TimeStep=1s").await,
        &pod_id,
    );
    let peak = memory.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    assert!(peak > 150e6, "200 MB are resident: {memory:?}");

    // Time in milliseconds, buckets of 1 s, oldest first.
    let now_ms = opendlc_core::time::now_millis();
    for w in cpu.windows(2) {
        assert!(w[0].0 < w[1].0 && w[1].0 - w[0].0 >= 1000, "{cpu:?}");
    }
    assert!(cpu
        .iter()
        .all(|(t, _)| (now_ms - 60_000..=now_ms).contains(t)));

    // Every series is readable; rates are measured (maybe zero), GPU is absent without NVML.
    for metric in [
        "DiskReadRate",
        "DiskWriteRate",
        "NetworkInputRate",
        "NetworkOutputRate",
    ] {
        let body = metrics(&server, &job_id, &format!("MetricType={metric}")).await;
        assert!(values(&body, &pod_id).iter().all(|(_, v)| *v >= 0.0));
    }
    if !std::path::Path::new("/dev/nvidiactl").exists() {
        for metric in ["GpuCoreUsage", "GpuMemoryUsage"] {
            let body = metrics(&server, &job_id, &format!("MetricType={metric}")).await;
            assert_eq!(
                body["PodMetrics"],
                serde_json::json!([]),
                "{metric}: {body}"
            );
        }
    }

    // Still there a while after the job ended.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = values(
        &metrics(&server, &job_id, "MetricType=CpuCoreUsage&TimeStep=1s").await,
        &pod_id,
    );
    assert_eq!(again, cpu, "no sample after the end, none lost");
}

#[tokio::test]
async fn time_range_and_time_step() {
    let server = server().await;
    let job_id = server
        .create_job(pytorch_job("sleepy", &[("Worker", 2)], "sleep 2"))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    let fine = metrics(&server, &job_id, "MetricType=MemoryUsage&TimeStep=1s").await;
    let pods = fine["PodMetrics"].as_array().unwrap();
    assert_eq!(pods.len(), 2, "{fine}");
    let worker0 = values(&fine, &format!("{job_id}-worker-0"));
    assert!(worker0.len() >= 2, "{worker0:?}");

    // The default step (5m) and a 1h step fold the run into a bucket per pod: one, or two if
    // the run happened to cross a step's boundary (steps are aligned on the epoch).
    for (query, step) in [
        ("MetricType=MemoryUsage", 300_000),
        ("MetricType=MemoryUsage&TimeStep=1h", 3_600_000),
    ] {
        let coarse = metrics(&server, &job_id, query).await;
        for pod in coarse["PodMetrics"].as_array().unwrap() {
            let pod_id = pod["PodId"].as_str().unwrap();
            let mut steps: Vec<i64> = values(&fine, pod_id)
                .iter()
                .map(|(t, _)| t - t % step)
                .collect();
            steps.dedup();
            let times: Vec<i64> = values(&coarse, pod_id).iter().map(|(t, _)| *t).collect();
            assert_eq!(times, steps, "{query}: {coarse}");
        }
    }

    // A window before the job: nothing. A window around the samples: only those.
    let before = metrics(
        &server,
        &job_id,
        "MetricType=MemoryUsage&StartTime=2020-01-01T00:00:00Z&EndTime=2020-01-02T00:00:00Z",
    )
    .await;
    assert_eq!(before["PodMetrics"], serde_json::json!([]));
    let first = worker0[0].0;
    let from = opendlc_core::time::format_wire(first + 1000);
    let later = metrics(
        &server,
        &job_id,
        &format!("MetricType=MemoryUsage&TimeStep=1s&StartTime={from}"),
    )
    .await;
    let later = values(&later, &format!("{job_id}-worker-0"));
    assert!(later.len() < worker0.len() && later.iter().all(|(t, _)| *t > first));
}

/// Samples taken three days ago are no longer kept one by one, nor per minute: a window over
/// them is answered from their 5-minute and hourly buckets, with the averages the samples give.
#[tokio::test]
async fn a_window_days_ago_is_answered_from_the_rollups() {
    use opendlc_core::metrics::PodSample;
    use opendlc_core::time::{format_wire, now_millis};

    let server = server().await;
    let job_id = server
        .create_job(pytorch_job("old", &[("Worker", 1)], "true"))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    // An hour of samples every 5 s, three days ago, written as the sampler writes them; CPU is
    // the minute of the hour.
    let hour = 3_600_000;
    let start = (now_millis() - 3 * 24 * hour) / hour * hour;
    let pod = opendlc_store::SampledPod {
        job_id: job_id.clone(),
        pod_id: format!("{job_id}-worker-0"),
        pod_uid: "an-earlier-incarnation".into(),
    };
    let samples: Vec<_> = (0..720)
        .map(|i| {
            let sample = PodSample {
                cpu: Some((i / 12) as f64),
                ..PodSample::default()
            };
            (start + i * 5_000, pod.clone(), sample)
        })
        .collect();
    let store = opendlc_server::admin::open(server.data_dir.path()).unwrap();
    store.insert_samples(&samples).unwrap();

    let window = format!(
        "MetricType=CpuCoreUsage&StartTime={}&EndTime={}",
        format_wire(start),
        format_wire(start + hour - 1_000)
    );
    let five_minutes: Vec<(i64, f64)> = (0..12)
        .map(|k| (start + k * 300_000, (5 * k + 2) as f64))
        .collect();
    for step in ["&TimeStep=1s", ""] {
        let body = metrics(&server, &job_id, &format!("{window}{step}")).await;
        assert_eq!(values(&body, &pod.pod_id), five_minutes, "{step}: {body}");
    }
    let hourly = metrics(&server, &job_id, &format!("{window}&TimeStep=1h")).await;
    assert_eq!(values(&hourly, &pod.pod_id), [(start, 29.5)]);
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let server = server().await;
    let job_id = server
        .create_job(pytorch_job("ok", &[("Worker", 1)], "true"))
        .await;
    let path = |q: &str| format!("/api/v1/jobs/{job_id}/metrics{q}");
    let err = server
        .error("GET", &path(""), None, 400, "MissingParameter")
        .await;
    assert!(err["Message"].as_str().unwrap().contains("MetricType"));
    for (query, needle) in [
        ("?MetricType=cpu", "CpuCoreUsage"),
        ("?MetricType=cpucoreusage", "MetricType"),
        ("?MetricType=CpuCoreUsage&TimeStep=fast", "TimeStep"),
        ("?MetricType=CpuCoreUsage&TimeStep=0s", "TimeStep"),
        ("?MetricType=CpuCoreUsage&StartTime=yesterday", "StartTime"),
        (
            "?MetricType=CpuCoreUsage&StartTime=2024-01-02T00:00:00Z&EndTime=2024-01-01T00:00:00Z",
            "StartTime",
        ),
    ] {
        let err = server
            .error("GET", &path(query), None, 400, "InvalidParameter")
            .await;
        assert!(
            err["Message"].as_str().unwrap().contains(needle),
            "{query}: {err}"
        );
    }
    server
        .error(
            "GET",
            "/api/v1/jobs/dlcnosuchjob0000/metrics?MetricType=CpuCoreUsage",
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;
}
