//! `opendlc logs` against a real server: all pods interleaved with a prefix, one pod, and
//! `-f` on a running job (every line once, in order, as it is written).

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_all_pods_are_prefixed_and_one_pod_is_not() {
    let server = TestServer::start().await;
    let job = server.cli_ok(&[
        "submit",
        "pytorchjob",
        "--name",
        "logs",
        "--masters",
        "1",
        "--workers",
        "1",
        "--command",
        "echo hello from $RANK; echo oops >&2",
    ]);
    server.wait_status(&job, "Succeeded").await;

    let all = server.cli_ok(&["logs", &job]);
    let mut lines: Vec<&str> = all.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "[master-0] hello from 0",
            "[master-0] oops",
            "[worker-0] hello from 1",
            "[worker-0] oops"
        ],
        "{all}"
    );
    let one = server.cli_ok(&["logs", &job, &format!("{job}-worker-0"), "--tail", "1"]);
    assert!(one == "oops" || one == "hello from 1", "{one}");
    let stamped = server.cli_ok(&["logs", &job, "master-0", "-t"]);
    assert!(
        stamped
            .lines()
            .all(|l| l.starts_with("20") && l.contains("Z ")),
        "{stamped}"
    );
    let records = server.cli_ok(&["logs", &job, "-o", "json"]);
    for record in records.lines() {
        let v: serde_json::Value = serde_json::from_str(record).expect("NDJSON");
        assert!(v["PodId"].as_str().unwrap().starts_with(&job), "{v}");
    }
    let missing = server.cli(&["logs", &job, "worker-9"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("EntityNotFound.Pod"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_prints_every_line_once_in_order_as_it_comes() {
    let server = TestServer::start().await;
    let job = server.cli_ok(&[
        "submit",
        "pytorchjob",
        "--name",
        "follow",
        "--workers",
        "2",
        "--command",
        "for i in $(seq 1 12); do echo line $i of $RANK; sleep 0.25; done",
    ]);
    let start = Instant::now();
    let mut child = server
        .cli_command(&["logs", &job, "-f"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut received = Vec::new();
    for line in stdout.lines() {
        received.push((start.elapsed(), line.unwrap()));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    let ended = start.elapsed();

    for (rank, pod) in [(0, "worker-0"), (1, "worker-1")] {
        let got: Vec<&str> = received
            .iter()
            .map(|(_, l)| l.as_str())
            .filter(|l| l.starts_with(&format!("[{pod}] ")))
            .collect();
        let want: Vec<String> = (1..=12)
            .map(|i| format!("[{pod}] line {i} of {rank}"))
            .collect();
        assert_eq!(got, want, "all lines: {received:?}");
    }
    // The first lines arrived while the job was still writing (about 3 s), not at the end.
    let first = received.first().unwrap().0;
    assert!(
        ended - first > Duration::from_secs(1),
        "first line at {first:?}, stream ended at {ended:?}"
    );
    let job_status = server.get_job(&job).await["Status"].clone();
    assert_eq!(job_status, "Succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_follow_streams_then_exits_with_the_job() {
    let server = TestServer::start().await;
    let run = server.cli(&[
        "submit",
        "pytorchjob",
        "--name",
        "sf",
        "--command",
        "echo one; sleep 0.3; echo two; exit 5",
    ]);
    assert_eq!(run.code, 0, "plain submit: {run:?}");
    let run = server.cli(&[
        "submit",
        "pytorchjob",
        "--name",
        "sf2",
        "--command",
        "echo one; sleep 0.3; echo two; exit 5",
        "--follow",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run:?}");
    assert!(lines[0].starts_with("dlc"));
    assert_eq!(&lines[1..], ["[worker-0] one", "[worker-0] two"]);
}
