//! A runtime that runs nothing, for tests of the engine: it records what it is asked, and the
//! test decides what happens to each pod (started, failed to start, exited, lost) and when.
//!
//! Launches are answered only when the test says so ([`FakeRuntime::start`],
//! [`FakeRuntime::fail_start`]), so that races — an exit before its launch is reported, a stop
//! during a launch — can be staged in any order.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Utc;
use opendlc_core::placement::NodeRule;
use tokio::sync::mpsc;

use crate::contract::{
    Facts, Gang, Placement, PodEvent, PodRecipe, PodRef, Recovery, Report, Runtime, Started,
};
use crate::error::RuntimeError;
use crate::pod_files::PodExit;

/// The fake's state, shared by its handles (the engine holds one, the test another).
#[derive(Clone)]
pub struct FakeRuntime {
    inner: Arc<Mutex<State>>,
    events: mpsc::UnboundedSender<PodEvent>,
}

#[derive(Default)]
struct State {
    /// Every recipe launched, in order.
    launched: Vec<PodRecipe>,
    /// The node rule of each gang launched, in order (JobId, rule).
    rules: Vec<(String, NodeRule)>,
    /// Where to answer each launch (by PodUid), until the test does.
    pending: BTreeMap<String, (String, mpsc::UnboundedSender<Report>)>,
    /// Pods asked to stop, in order (PodUid).
    stopped: Vec<String>,
    /// Pods that an earlier server had launched (PodUid): `recover` watches them.
    survivors: HashSet<String>,
    /// Survivors whose start the earlier server never heard of (it died first): `recover`
    /// says how they started.
    unheard: HashSet<String>,
    next_pid: u32,
}

impl State {
    /// A start now on `node`, with a pid of its own.
    fn started_on(&mut self, node: &str) -> Started {
        self.next_pid += 1;
        Started {
            pid: self.next_pid,
            started_at: Utc::now(),
            placement: Placement {
                node: node.into(),
                ip: "127.0.0.1".into(),
            },
            description: Some(format!("on the fake node {node}")),
        }
    }
}

impl FakeRuntime {
    /// Pod ends go to `events`, as from a real runtime.
    pub fn new(events: mpsc::UnboundedSender<PodEvent>) -> Self {
        FakeRuntime {
            inner: Arc::new(Mutex::new(State {
                next_pid: 1000,
                ..State::default()
            })),
            events,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every recipe launched so far.
    pub fn launched(&self) -> Vec<PodRecipe> {
        self.state().launched.clone()
    }

    /// Where each gang launched so far might run, in order (JobId, rule).
    pub fn node_rules(&self) -> Vec<(String, NodeRule)> {
        self.state().rules.clone()
    }

    /// The PodUids asked to stop so far.
    pub fn stopped(&self) -> Vec<String> {
        self.state().stopped.clone()
    }

    /// The launches not answered yet (PodUid).
    pub fn pending(&self) -> Vec<String> {
        self.state().pending.keys().cloned().collect()
    }

    /// Makes `recover` find this pod running (launched by an earlier server).
    pub fn survive(&self, pod_uid: &str) {
        self.state().survivors.insert(pod_uid.to_string());
    }

    /// [`FakeRuntime::survive`], for a pod whose start its earlier server never heard of.
    pub fn survive_unheard(&self, pod_uid: &str) {
        let mut state = self.state();
        state.survivors.insert(pod_uid.to_string());
        state.unheard.insert(pod_uid.to_string());
    }

    /// Answers a pending launch: the pod's command runs. Returns false if none was pending.
    pub fn start(&self, pod_uid: &str) -> bool {
        self.start_on(pod_uid, "fake-node")
    }

    /// [`FakeRuntime::start`], on `node`.
    pub fn start_on(&self, pod_uid: &str, node: &str) -> bool {
        let mut state = self.state();
        let Some((job_id, reports)) = state.pending.remove(pod_uid) else {
            return false;
        };
        let started = state.started_on(node);
        reports
            .send(Report::Launched {
                job_id,
                pod_uid: pod_uid.to_string(),
                result: Ok(started),
            })
            .is_ok()
    }

    /// Answers a pending launch with a failure.
    pub fn fail_start(&self, pod_uid: &str, error: &str) -> bool {
        let Some((job_id, reports)) = self.state().pending.remove(pod_uid) else {
            return false;
        };
        reports
            .send(Report::Launched {
                job_id,
                pod_uid: pod_uid.to_string(),
                result: Err(error.to_string()),
            })
            .is_ok()
    }

    /// The pod's command exited with `code`.
    pub fn exit(&self, pod_uid: &str, code: i32) {
        self.end(pod_uid, Some(code), None);
    }

    /// The pod's command was killed by `signal`.
    pub fn kill(&self, pod_uid: &str, signal: i32) {
        self.end(pod_uid, None, Some(signal));
    }

    fn end(&self, pod_uid: &str, code: Option<i32>, signal: Option<i32>) {
        let _ = self.events.send(PodEvent::Exited {
            pod_uid: pod_uid.to_string(),
            exit: PodExit {
                code,
                signal,
                finished_at: Utc::now(),
                reason: None,
            },
        });
    }

    /// The pod is gone without an exit status.
    pub fn lose(&self, pod_uid: &str, reason: &str) {
        let _ = self.events.send(PodEvent::Lost {
            pod_uid: pod_uid.to_string(),
            reason: reason.to_string(),
        });
    }
}

impl Runtime for FakeRuntime {
    fn facts(&self) -> Facts {
        Facts {
            one_host: true,
            local_processes: false,
            containers: false,
        }
    }

    fn launch(&self, gang: Gang, reports: mpsc::UnboundedSender<Report>) {
        let mut state = self.state();
        state.rules.push((gang.job_id.clone(), gang.nodes.clone()));
        for recipe in gang.pods {
            state.pending.insert(
                recipe.pod_uid.clone(),
                (gang.job_id.clone(), reports.clone()),
            );
            state.launched.push(recipe);
        }
    }

    fn stop(&self, pod: &PodRef) -> Result<(), RuntimeError> {
        self.state().stopped.push(pod.pod_uid.clone());
        Ok(())
    }

    fn recover(&self, pod: &PodRef, _stopping: bool) -> Result<Recovery, RuntimeError> {
        let mut state = self.state();
        Ok(if state.unheard.contains(&pod.pod_uid) {
            Recovery::Watching {
                started: Some(state.started_on("fake-node")),
            }
        } else if state.survivors.contains(&pod.pod_uid) {
            Recovery::Watching { started: None }
        } else {
            Recovery::NotStarted
        })
    }
}
