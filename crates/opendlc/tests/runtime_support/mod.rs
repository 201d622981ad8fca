//! Helpers for the runtime's process tests: a supervisor on the real `opendlc` binary, in a
//! temporary data directory.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use opendlc_runtime::logs::{read_log, read_log_records, LogQuery, LogRecord};
use opendlc_runtime::{LocalRuntime, PodEvent, PodLaunch, ShimStarted};
use tokio::sync::mpsc;

pub struct Harness {
    pub runtime: LocalRuntime,
    pub events: mpsc::UnboundedReceiver<PodEvent>,
    pub data: tempfile::TempDir,
}

impl Harness {
    pub fn new() -> Self {
        let (runtime, events) = runtime();
        Self {
            runtime,
            events,
            data: tempfile::tempdir().unwrap(),
        }
    }

    /// A launch of `command` in the data directory, with a 5 s grace period.
    pub fn pod(&self, name: &str, command: &str) -> PodLaunch {
        PodLaunch {
            pod_id: format!("dlctest-worker-{name}"),
            pod_uid: format!("uid-{name}"),
            dir: self.data.path().join("pods").join(name),
            command: command.to_string(),
            view: None,
            workdir: self.data.path().to_path_buf(),
            env: BTreeMap::new(),
            grace_period: Duration::from_secs(5),
            limits: None,
            cpus: Vec::new(),
            image: None,
            hosts: BTreeMap::new(),
            scratch: Vec::new(),
        }
    }

    pub async fn next_event(&mut self) -> PodEvent {
        tokio::time::timeout(Duration::from_secs(20), self.events.recv())
            .await
            .expect("no pod event within 20 s")
            .expect("the event channel closed")
    }

    /// Replaces the supervisor with a new one, as a restarted server would have.
    pub fn restart(&mut self) {
        let (runtime, events) = runtime();
        self.runtime = runtime;
        self.events = events;
    }
}

pub fn runtime() -> (LocalRuntime, mpsc::UnboundedReceiver<PodEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let runtime = LocalRuntime::new(PathBuf::from(env!("CARGO_BIN_EXE_opendlc")), tx);
    (runtime, rx)
}

pub fn log_lines(dir: &Path) -> Vec<String> {
    read_log(&dir.join("log"), &LogQuery::last(100_000)).unwrap()
}

pub fn log_records(dir: &Path) -> Vec<LogRecord> {
    read_log_records(&dir.join("log"), &LogQuery::last(100_000))
        .unwrap()
        .records
}

pub fn started(dir: &Path) -> ShimStarted {
    serde_json::from_slice(&std::fs::read(dir.join("started.json")).unwrap()).unwrap()
}

/// Waits (up to 10 s) until `cond` holds.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Is `pid` a live process (not gone, not a zombie)?
pub fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        }
        Err(_) => false,
    }
}

pub fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

pub fn exited(event: PodEvent) -> opendlc_runtime::PodExit {
    match event {
        PodEvent::Exited { exit, .. } => exit,
        other => panic!("expected Exited, got {other:?}"),
    }
}

/// The directories named `name` in the host's cgroup hierarchies (a pod's cgroup is named
/// after its uid).
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, name: &str, depth: u32, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if entry.file_name() == name {
                found.push(path);
            } else if depth > 0 {
                walk(&path, name, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), name, 6, &mut found);
    found
}
