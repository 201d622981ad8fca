//! Stopping pods: SIGTERM reaches the command, and a command that ignores it is killed once
//! the grace period is over.

mod runtime_support;

use std::time::{Duration, Instant};

use runtime_support::*;

#[tokio::test]
async fn stop_sends_sigterm_to_the_command() {
    let mut h = Harness::new();
    let pod = h.pod(
        "term",
        "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    );
    let dir = pod.dir.clone();
    h.runtime.launch(pod).await.unwrap();
    eventually("the command to be ready", || log_lines(&dir) == ["ready"]).await;

    h.runtime.stop(&dir).unwrap();
    h.runtime.stop(&dir).unwrap(); // idempotent
    let exit = exited(h.next_event().await);
    assert_eq!((exit.code, exit.signal, exit.reason), (Some(7), None, None));
    // dash may also report the sleep that SIGTERM killed ("Terminated").
    let lines = log_lines(&dir);
    assert_eq!(lines[0], "ready");
    assert!(lines.contains(&"got TERM".to_string()), "{lines:?}");
    h.runtime.stop(&dir).unwrap(); // and harmless once the pod has ended
}

#[tokio::test]
async fn a_command_ignoring_sigterm_is_killed_after_the_grace_period() {
    let mut h = Harness::new();
    let mut pod = h.pod(
        "stubborn",
        "trap '' TERM; echo ready; while :; do sleep 0.05; done",
    );
    pod.grace_period = Duration::from_millis(400);
    let dir = pod.dir.clone();
    h.runtime.launch(pod).await.unwrap();
    eventually("the command to be ready", || log_lines(&dir) == ["ready"]).await;

    let asked = Instant::now();
    h.runtime.stop(&dir).unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(100),
        "stop must not wait for the grace period"
    );
    let exit = exited(h.next_event().await);
    let waited = asked.elapsed();
    assert_eq!((exit.code, exit.signal), (None, Some(9)));
    assert_eq!(
        exit.reason.as_deref(),
        Some("killed after the grace period of 400 ms")
    );
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn stop_right_after_launch_still_stops_the_pod() {
    let mut h = Harness::new();
    let pod = h.pod("quick", "sleep 1000");
    let dir = pod.dir.clone();
    h.runtime.launch(pod).await.unwrap();
    h.runtime.stop(&dir).unwrap();
    let exit = exited(h.next_event().await);
    assert_eq!(exit.signal, Some(15));
}
