//! The log stream extension: every record once, in order, until the job ends.

mod common;

use std::time::{Duration, Instant};

use common::{pytorch_job, TestServer};
use serde_json::Value;

async fn stream(server: &TestServer, job_id: &str, query: &str) -> (u16, Vec<Value>) {
    let path = format!("/api/v1/jobs/{job_id}/logs/stream?{query}");
    let response = server
        .signed(&server.admin, "GET", &path, None)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let records = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (status, records)
}

fn lines_of<'a>(records: &'a [Value], pod_id: &str) -> Vec<&'a str> {
    records
        .iter()
        .filter(|r| r["PodId"] == pod_id)
        .map(|r| r["Line"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_delivers_every_line_once_in_order_until_the_job_ends() {
    let server = TestServer::start().await;
    let command = "for i in $(seq 1 40); do echo $RANK-$i; sleep 0.05; done; echo done >&2";
    let job_id = server
        .create_job(pytorch_job(
            "follow",
            &[("Master", 1), ("Worker", 1)],
            command,
        ))
        .await;

    let started = Instant::now();
    let (status, records) = stream(&server, &job_id, "").await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the stream followed the job"
    );
    assert_eq!(
        server.get_job(&job_id).await["Status"],
        "Succeeded",
        "it ended with the job"
    );
    for (rank, role) in [(0, "master"), (1, "worker")] {
        let mut expected: Vec<String> = (1..=40).map(|i| format!("{rank}-{i}")).collect();
        expected.push("done".into());
        assert_eq!(lines_of(&records, &format!("{job_id}-{role}-0")), expected);
    }
    let stderr = records.iter().find(|r| r["Line"] == "done").unwrap();
    assert_eq!(stderr["Stream"], "stderr");
    assert!(stderr["Time"].as_str().unwrap().ends_with('Z'));

    let (_, tail) = stream(
        &server,
        &job_id,
        &format!("PodId={job_id}-worker-0&Tail=3&Follow=false"),
    )
    .await;
    assert_eq!(
        lines_of(&tail, &format!("{job_id}-worker-0")),
        ["1-39", "1-40", "done"]
    );
    assert_eq!(tail.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_errors_use_the_envelope() {
    let server = TestServer::start().await;
    server
        .error(
            "GET",
            "/api/v1/jobs/dlcnope/logs/stream",
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;
    let job_id = server
        .create_job(pytorch_job("x", &[("Worker", 1)], "true"))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    let path = format!("/api/v1/jobs/{job_id}/logs/stream?Tail=0");
    server
        .error("GET", &path, None, 400, "InvalidParameter")
        .await;
    let path = format!("/api/v1/jobs/{job_id}/logs/stream?PodId=nope");
    server
        .error("GET", &path, None, 404, "EntityNotFound.Pod")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_stream_does_not_hold_up_shutdown() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job("long", &[("Worker", 1)], "echo up; sleep 3"))
        .await;
    server.wait_status(&job_id, "Running").await;
    let request = server.signed(
        &server.admin,
        "GET",
        &format!("/api/v1/jobs/{job_id}/logs/stream"),
        None,
    );
    let reader = tokio::spawn(async move { request.send().await.unwrap().text().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = tokio::time::timeout(Duration::from_secs(2), server.stop()).await;
    assert!(
        stopped.is_ok(),
        "the server shut down while a stream was open"
    );
    let text = reader.await.unwrap().unwrap_or_default();
    assert!(text.contains("\"Line\":\"up\""), "{text}");
}
