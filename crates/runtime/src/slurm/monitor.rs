//! One task that follows every gang: the pods' files on the shared directory (started.json and
//! exit.json, written by the shims on their nodes) and the Slurm jobs' states (`squeue`).

use std::path::Path;
use std::sync::Weak;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::cli::{self, JobState};
use super::{lock, GangNote, Inner};
use crate::contract::{Placement, PodEvent, PodRecipe, Started};
use crate::error::RuntimeError;
use crate::pod::peers;
use crate::pod_dir::{read_json, PodDir};
use crate::pod_files::{PodExit, ShimStarted};

pub(super) struct Watched {
    pub pods: Vec<WatchedPod>,
    pub notes: Option<mpsc::UnboundedSender<GangNote>>,
    last_note: Option<GangNote>,
}

impl Watched {
    pub fn new() -> Self {
        Watched {
            pods: Vec::new(),
            notes: None,
            last_note: None,
        }
    }

    fn note(&mut self, note: GangNote) {
        if self.last_note.as_ref() == Some(&note) {
            return;
        }
        if let Some(notes) = &self.notes {
            let _ = notes.send(note.clone());
        }
        self.last_note = Some(note);
    }
}

pub(super) struct WatchedPod {
    pod_uid: String,
    pod_id: String,
    dir: PodDir,
    /// Set until the pod's start is reported.
    start: Option<oneshot::Sender<Result<Started, RuntimeError>>>,
    done: bool,
}

impl WatchedPod {
    pub fn starting(
        recipe: &PodRecipe,
        tx: oneshot::Sender<Result<Started, RuntimeError>>,
    ) -> Self {
        WatchedPod {
            pod_uid: recipe.pod_uid.clone(),
            pod_id: recipe.pod_id.clone(),
            dir: PodDir::new(&recipe.dir),
            start: Some(tx),
            done: false,
        }
    }

    /// A pod re-attached after a restart: only its end is reported.
    pub fn running(pod_uid: &str, dir: &Path) -> Self {
        WatchedPod {
            pod_uid: pod_uid.to_string(),
            pod_id: pod_uid.to_string(),
            dir: PodDir::new(dir),
            start: None,
            done: false,
        }
    }

    /// Looks at the pod's files; reports its start or its end when they appear.
    fn check(&mut self, events: &mpsc::UnboundedSender<PodEvent>) {
        if self.done {
            return;
        }
        if self.start.is_some() {
            if let Ok(Some(started)) = read_json::<ShimStarted>(&self.dir.started()) {
                // Each task records its node before it runs the shim.
                let placement =
                    peers::read_placement(self.dir.path()).unwrap_or_else(|| Placement {
                        node: "(unknown)".into(),
                        ip: String::new(),
                    });
                if let Some(tx) = self.start.take() {
                    let _ = tx.send(Ok(Started {
                        pid: started.pid,
                        started_at: started.started_at,
                        placement,
                        description: started.limits,
                    }));
                }
            } else if let Ok(Some(exit)) = read_json::<PodExit>(&self.dir.exit()) {
                // The shim could not start the command: a failed launch, no event.
                if let Some(tx) = self.start.take() {
                    let _ = tx.send(Err(RuntimeError::CommandNotStarted {
                        pod_id: self.pod_id.clone(),
                        exit,
                    }));
                }
                self.done = true;
                return;
            } else {
                return;
            }
        }
        if let Ok(Some(exit)) = read_json::<PodExit>(&self.dir.exit()) {
            self.done = true;
            let _ = events.send(PodEvent::Exited {
                pod_uid: self.pod_uid.clone(),
                exit,
            });
        }
    }

    /// The Slurm job is over: whatever the files did not tell, they never will.
    fn conclude(&mut self, how: &str, events: &mpsc::UnboundedSender<PodEvent>) {
        self.check(events);
        if self.done {
            return;
        }
        self.done = true;
        if let Some(tx) = self.start.take() {
            let _ = tx.send(Err(RuntimeError::Slurm(format!(
                "the Slurm job {how} before pod {} started",
                self.pod_id
            ))));
        } else {
            let _ = events.send(PodEvent::Lost {
                pod_uid: self.pod_uid.clone(),
                reason: format!("the Slurm job {how} without recording how the pod ended"),
            });
        }
    }
}

pub(super) fn spawn(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut last_states = Instant::now();
        loop {
            let Some(strong) = inner.upgrade() else {
                return;
            };
            let (file_poll, state_poll) = (strong.config.file_poll, strong.config.state_poll);
            check_files(&strong);
            if last_states.elapsed() >= state_poll {
                last_states = Instant::now();
                let ids: Vec<String> = lock(&strong.gangs).keys().cloned().collect();
                match cli::squeue(&ids).await {
                    Ok(states) => apply_states(&strong, &ids, &states),
                    Err(e) => tracing::warn!("failed to read the Slurm jobs' states: {e}"),
                }
            }
            drop(strong);
            tokio::time::sleep(file_poll).await;
        }
    });
}

fn check_files(inner: &Inner) {
    let mut gangs = lock(&inner.gangs);
    for watched in gangs.values_mut() {
        for pod in &mut watched.pods {
            pod.check(&inner.events);
        }
    }
    gangs.retain(|_, w| !w.pods.iter().all(|p| p.done));
}

fn apply_states(inner: &Inner, asked: &[String], states: &[JobState]) {
    let mut gangs = lock(&inner.gangs);
    for id in asked {
        let Some(watched) = gangs.get_mut(id) else {
            continue;
        };
        let state = states.iter().find(|s| &s.slurm_job_id == id);
        match state {
            Some(s) if s.is_pending() => watched.note(GangNote::Pending {
                slurm_job_id: id.clone(),
                reason: s.reason.clone(),
            }),
            Some(s) if !s.is_over() => watched.note(GangNote::Running {
                slurm_job_id: id.clone(),
                nodes: s.nodes.clone(),
            }),
            _ => {
                let how = match state {
                    Some(s) if s.reason.is_empty() || s.reason == "None" => {
                        format!("{id} ended ({})", s.state)
                    }
                    Some(s) => format!("{id} ended ({}, {})", s.state, s.reason),
                    None => format!("{id} is gone"),
                };
                for pod in &mut watched.pods {
                    pod.conclude(&how, &inner.events);
                }
            }
        }
    }
    gangs.retain(|_, w| !w.pods.iter().all(|p| p.done));
}
