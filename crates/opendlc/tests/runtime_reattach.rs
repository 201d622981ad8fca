//! Pods outlive their supervisor: a new one re-attaches to them, and pods whose shim died are
//! reported lost.

mod runtime_support;

use std::path::Path;
use std::time::Duration;

use opendlc_runtime::pod_files::Limits;
use opendlc_runtime::PodEvent;
use runtime_support::*;

#[tokio::test]
async fn a_new_supervisor_reattaches_and_sees_the_pod_end() {
    let mut h = Harness::new();
    let pod = h.pod(
        "survivor",
        "echo before; while [ ! -e go ]; do sleep 0.02; done; echo after; exit 4",
    );
    let dir = pod.dir.clone();
    h.runtime.launch(pod).await.unwrap();
    eventually("the first line", || log_lines(&dir) == ["before"]).await;

    // The server is killed: its supervisor and watchers are gone, the pod is not.
    h.restart();
    let shim = started(&dir).shim_pid;
    assert!(is_running(shim));
    h.runtime.reattach("uid-survivor", &dir).unwrap();
    std::fs::write(h.data.path().join("go"), "").unwrap();

    let exit = exited(h.next_event().await);
    assert_eq!(exit.code, Some(4));
    assert_eq!(log_lines(&dir), ["before", "after"]);
    // A pod that has ended re-attaches to its recorded exit at once.
    h.restart();
    h.runtime.reattach("uid-survivor", &dir).unwrap();
    assert_eq!(exited(h.next_event().await).code, Some(4));
}

#[tokio::test]
async fn a_pod_that_never_started_is_lost() {
    let mut h = Harness::new();
    let dir = h.data.path().join("pods").join("half");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("spec.json"), "{}").unwrap();
    assert!(opendlc_runtime::was_started(&dir));
    assert!(!opendlc_runtime::was_started(h.data.path()));
    h.runtime.reattach("uid-half", &dir).unwrap();
    match h.next_event().await {
        PodEvent::Lost { pod_uid, reason } => {
            assert_eq!(pod_uid, "uid-half");
            assert!(reason.contains("started.json"), "{reason}");
        }
        other => panic!("expected Lost, got {other:?}"),
    }
}

/// A pod whose spec.json a shim still holds locked (it is starting: the server was killed
/// between the shim's start and its started.json) is waited for, not reported lost; if the
/// shim lets go of it without starting the command, the pod is lost.
#[tokio::test]
async fn a_pod_whose_shim_is_still_starting_is_waited_for() {
    let mut h = Harness::new();
    let dir = h.data.path().join("pods").join("starting");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("spec.json"), "{}").unwrap();
    let pod = opendlc_runtime::pod_dir::PodDir::new(&dir);
    let shim = opendlc_runtime::pod_dir::lock_spec(&pod).unwrap().unwrap();
    h.runtime.reattach("uid-starting", &dir).unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), h.next_event()).await;
    assert!(early.is_err(), "reported while the shim starts: {early:?}");
    drop(shim);
    match h.next_event().await {
        PodEvent::Lost { pod_uid, reason } => {
            assert_eq!(pod_uid, "uid-starting");
            assert!(reason.contains("without starting the command"), "{reason}");
        }
        other => panic!("expected Lost, got {other:?}"),
    }
}

/// After a restart, a pod whose launch got no further than spec.json (no shim holds its lock,
/// nothing recorded) is launched again; one whose lock a shim holds is watched.
#[tokio::test]
async fn a_launch_that_no_shim_took_up_is_launched_again() {
    use opendlc_runtime::contract::{PodRef, Recovery};
    use opendlc_runtime::Runtime;
    let h = Harness::new();
    let dir = h.data.path().join("pods").join("cut");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("spec.json"), "{}").unwrap();
    let pod = PodRef {
        job_id: "dlc-cut".into(),
        pod_id: "dlc-cut-worker-0".into(),
        pod_uid: "uid-cut".into(),
        dir: dir.clone(),
    };
    assert_eq!(
        h.runtime.recover(&pod, false).unwrap(),
        Recovery::NotStarted
    );
    let held = opendlc_runtime::pod_dir::PodDir::new(&dir);
    let _shim = opendlc_runtime::pod_dir::lock_spec(&held).unwrap().unwrap();
    assert_eq!(
        h.runtime.recover(&pod, false).unwrap(),
        Recovery::Watching { started: None }
    );
}

/// A pod whose shim was killed is reported lost, what is left of it is killed, and what it
/// made outside its directory (its scratch) is removed as its shim would have.
#[tokio::test]
async fn a_killed_shim_makes_its_pod_lost_and_the_pod_is_killed() {
    let mut h = Harness::new();
    let scratch = h.data.path().join("scratch-orphan");
    let mut pod = h.pod(
        "orphan",
        &format!(
            "mkdir -p {}/session; echo $$ > leader.pid; sleep 1000",
            scratch.display()
        ),
    );
    pod.scratch = vec![scratch.clone()];
    let dir = pod.dir.clone();
    let leader_file = h.data.path().join("leader.pid");
    launch_and_wait_for(&h, pod, &leader_file).await;
    let leader = read_pid(&leader_file);
    assert!(scratch.join("session").is_dir());

    kill_9(started(&dir).shim_pid);
    match h.next_event().await {
        PodEvent::Lost { reason, .. } => assert!(reason.contains("killed by signal 9"), "{reason}"),
        other => panic!("expected Lost, got {other:?}"),
    }
    eventually("the orphaned pod to be killed", || !is_running(leader)).await;
    assert!(!scratch.exists());
}

#[tokio::test]
async fn a_killed_shims_cgroup_is_removed_with_its_pod() {
    let mut h = Harness::new();
    // Named for this run: a cgroup is host-wide.
    let name = format!("caged-{}", std::process::id());
    let mut pod = h.pod(&name, "echo $$ > caged.pid; sleep 1000");
    pod.limits = Some(Limits {
        cpu_milli: Some(500),
        memory_mib: Some(256),
    });
    let dir = pod.dir.clone();
    let leader_file = h.data.path().join("caged.pid");
    launch_and_wait_for(&h, pod, &leader_file).await;
    let cgroups = cgroup_dirs(&format!("uid-{name}"));
    let enforced = !started(&dir)
        .limits
        .unwrap_or_default()
        .contains("not enforced");
    if !enforced || cgroups.is_empty() {
        eprintln!("skipping: this host gives pods no cgroup");
        h.runtime.stop(&dir).unwrap();
        h.next_event().await;
        return;
    }

    kill_9(started(&dir).shim_pid);
    assert!(matches!(h.next_event().await, PodEvent::Lost { .. }));
    for dir in &cgroups {
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
    assert!(!is_running(read_pid(&leader_file)));
}

#[tokio::test]
async fn stop_kills_a_pod_whose_shim_is_gone() {
    let mut h = Harness::new();
    let pod = h.pod("headless", "echo $$ > headless.pid; sleep 1000");
    let dir = pod.dir.clone();
    let leader_file = h.data.path().join("headless.pid");
    launch_and_wait_for(&h, pod, &leader_file).await;
    let leader = read_pid(&leader_file);

    // Nobody watches (the server is down) when the shim dies.
    h.restart();
    kill_9(started(&dir).shim_pid);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(is_running(leader));

    h.runtime.stop(&dir).unwrap();
    eventually("the pod to be killed", || !is_running(leader)).await;
    h.runtime.reattach("uid-headless", &dir).unwrap();
    assert!(matches!(h.next_event().await, PodEvent::Lost { .. }));
}

/// Launches `pod` and waits for the pid its command writes to `file`.
async fn launch_and_wait_for(h: &Harness, pod: opendlc_runtime::PodLaunch, file: &Path) {
    h.runtime.launch(pod).await.unwrap();
    eventually("the leader's pid", || {
        file.exists() && std::fs::read_to_string(file).unwrap().ends_with('\n')
    })
    .await;
}

fn kill_9(pid: u32) {
    let status = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}
