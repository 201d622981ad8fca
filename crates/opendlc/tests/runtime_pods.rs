//! A pod's life under the local runtime, with the real shim: output, exit, environment,
//! working directory, failures to start, and what the pod leaves behind.

mod runtime_support;

use std::time::Duration;

use opendlc_runtime::logs::Stream;
use opendlc_runtime::{PodEvent, RuntimeError};
use runtime_support::*;

#[tokio::test]
async fn output_and_exit_code_land_in_the_pod_directory() {
    let mut h = Harness::new();
    let pod = h.pod("out", "echo out; echo err >&2; printf 'no newline'; exit 3");
    let dir = pod.dir.clone();
    let started = h.runtime.launch(pod).await.unwrap();

    let event = h.next_event().await;
    assert_eq!(event.pod_uid(), "uid-out");
    let exit = exited(event);
    assert_eq!(
        (exit.code, exit.signal, exit.reason.as_deref()),
        (Some(3), None, None)
    );
    assert!(exit.finished_at >= started.started_at);

    let records = log_records(&dir);
    let texts = |stream| -> Vec<&str> {
        records
            .iter()
            .filter(|r| r.stream == stream)
            .map(|r| r.text.as_str())
            .collect()
    };
    assert_eq!(texts(Stream::Stdout), ["out", "no newline"]);
    assert_eq!(texts(Stream::Stderr), ["err"]);
    assert!(records
        .iter()
        .all(|r| r.time >= started.started_at && r.time <= exit.finished_at));

    let recorded = started_file(&dir);
    assert_eq!((recorded.pid, recorded.pgid), (started.pid, started.pid));
    assert!(dir.join("exit.json").exists());
}

fn started_file(dir: &std::path::Path) -> opendlc_runtime::ShimStarted {
    started(dir)
}

#[tokio::test]
async fn env_and_workdir_are_applied_and_private_variables_are_not_inherited() {
    // std serialises its own environment accesses, so this is safe next to other tests.
    std::env::set_var("OPENDLC_TEST_SECRET", "leaked");
    let mut h = Harness::new();
    let workdir = h.data.path().join("work");
    std::fs::create_dir(&workdir).unwrap();
    let mut pod = h.pod("env", r#"pwd; echo "$GREETING"; echo "${OPENDLC_TEST_SECRET-unset}"; echo "${HOME:+home is inherited}""#);
    pod.workdir = workdir.clone();
    pod.env.insert("GREETING".into(), "hello world".into());
    let dir = pod.dir.clone();
    h.runtime.launch(pod).await.unwrap();
    assert_eq!(exited(h.next_event().await).code, Some(0));
    let expected_home = if std::env::var_os("HOME").is_some() {
        vec!["home is inherited"]
    } else {
        vec![""]
    };
    let mut expected = vec![workdir.to_str().unwrap(), "hello world", "unset"];
    expected.extend(expected_home);
    assert_eq!(log_lines(&dir), expected);
}

#[tokio::test]
async fn a_command_that_cannot_start_is_reported() {
    let mut h = Harness::new();
    let mut pod = h.pod("nowhere", "echo never");
    pod.workdir = h.data.path().join("missing");
    let dir = pod.dir.clone();
    let err = h.runtime.launch(pod).await.unwrap_err();
    let RuntimeError::CommandNotStarted { pod_id, exit } = &err else {
        panic!("expected CommandNotStarted, got {err:?}");
    };
    assert_eq!(pod_id, "dlctest-worker-nowhere");
    assert_eq!(exit.code, Some(127));
    let reason = exit.reason.as_deref().unwrap();
    assert!(
        reason.contains("working directory") && reason.contains("missing"),
        "{reason}"
    );
    assert!(
        err.to_string()
            .starts_with("failed to start pod dlctest-worker-nowhere: "),
        "{err}"
    );
    assert!(dir.join("exit.json").exists());
    // No event follows a failed launch.
    let next = tokio::time::timeout(Duration::from_millis(300), h.events.recv()).await;
    assert!(next.is_err(), "unexpected event {next:?}");
}

#[tokio::test]
async fn processes_left_by_the_command_are_killed_when_it_exits() {
    let mut h = Harness::new();
    let mut command = "sleep 1000 & echo $! > bg.pid".to_string();
    let escapes = std::path::Path::new("/usr/bin/setsid").exists();
    if escapes {
        // A process in a session of its own escapes the process group, not the shim.
        command.push_str("; setsid sleep 1000 & echo $! > escaped.pid");
    }
    command.push_str("; sleep 0.1; echo leader done");
    let pod = h.pod("bg", &command);
    let dir = pod.dir.clone();
    h.runtime.launch(pod).await.unwrap();
    assert_eq!(exited(h.next_event().await).code, Some(0));
    assert_eq!(log_lines(&dir), ["leader done"]);
    let bg = read_pid(&h.data.path().join("bg.pid"));
    eventually("the background process to die", || !is_running(bg)).await;
    if escapes {
        let escaped = read_pid(&h.data.path().join("escaped.pid"));
        eventually("the escaped process to die", || !is_running(escaped)).await;
    }
}

#[tokio::test]
async fn many_lines_and_long_lines_are_all_logged() {
    let mut h = Harness::new();
    // 20,000 short lines on both streams, and one 200 KB line.
    let pod = h.pod(
        "lots",
        "i=0; while [ $i -lt 10000 ]; do echo \"o$i\"; echo \"e$i\" >&2; i=$((i+1)); done; \
         head -c 200000 /dev/zero | tr '\\0' x; echo",
    );
    let dir = pod.dir.clone();
    h.runtime.launch(pod).await.unwrap();
    assert_eq!(exited(h.next_event().await).code, Some(0));
    let records = log_records(&dir);
    let out: Vec<_> = records
        .iter()
        .filter(|r| r.stream == Stream::Stdout)
        .collect();
    let err: Vec<_> = records
        .iter()
        .filter(|r| r.stream == Stream::Stderr)
        .collect();
    assert_eq!(err.len(), 10_000);
    assert!(err
        .iter()
        .enumerate()
        .all(|(i, r)| r.text == format!("e{i}")));
    let (short, long) = out.split_at(10_000);
    assert!(short
        .iter()
        .enumerate()
        .all(|(i, r)| r.text == format!("o{i}")));
    let joined: String = long.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(joined.len(), 200_000);
    assert!(long[..long.len() - 1].iter().all(|r| r.continued) && !long.last().unwrap().continued);
    let _ = PodEvent::Lost {
        pod_uid: String::new(),
        reason: String::new(),
    }; // the type is public
}
