//! Object store DataSources (`crate::sources::objects`) in the job's life: staged before its
//! first pods are launched (the gang goes to the runtime once they are), and, for read-write
//! ones, written back once its pods have ended, before it takes its final status. Both run
//! beside the engine, which goes on meanwhile; the job's events say what was done.

use opendlc_core::lifecycle::Outcome;
use opendlc_core::Job;
use opendlc_runtime::contract::{Gang, Report};

use super::active::WriteBack;
use super::apply::Engine;
use super::Command;
use crate::sources::{self, objects::Stage};

impl Engine {
    /// The job's object store sources as `sources.yaml` resolves them now; none, without
    /// reading it, for a job whose DataSources are all local paths (most jobs: this runs at
    /// every launch and every end).
    pub(super) fn object_stages(&self, job: &Job) -> Vec<Stage> {
        if !sources::may_name_objects(&job.request) {
            return Vec::new();
        }
        let Ok(config) = sources::load(&self.data_dir) else {
            return Vec::new();
        };
        let place = sources::Place {
            workspace_id: &job.workspace_id,
            protected: &[&self.data_dir, self.jobs_dir.root()],
        };
        sources::resolve(
            &config,
            &job.request,
            &self.jobs_dir.job(&job.job_id),
            place,
        )
        .map(|r| r.stages)
        .unwrap_or_default()
    }

    /// Hands the gang to the runtime once the job's object sources are staged: at once when it
    /// has none, or an earlier launch of the job staged them (pods launched later, a restart).
    /// A source that cannot be staged fails the gang's pods with the reason.
    pub(super) fn launch_gang(&self, job: &Job, gang: Gang) {
        let stages: Vec<Stage> = self
            .object_stages(job)
            .into_iter()
            .filter(|s| !s.is_staged())
            .collect();
        if stages.is_empty() {
            self.runtime.launch(gang, self.reports_tx.clone());
            return;
        }
        let runtime = self.runtime.clone();
        let reports = self.reports_tx.clone();
        let store = self.store.clone();
        let cache = self.data_dir.join("cache").join("objects");
        let owner = self
            .isolation
            .as_ref()
            .map(|i| i.identity_of(&self.store, &job.user_id));
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for stage in &stages {
                let note = match sources::objects::stage(&client, &cache, stage, owner).await {
                    Ok(note) => note,
                    Err(e) => {
                        tracing::warn!(job.id = %gang.job_id, "{e}");
                        for pod in gang.pods {
                            let _ = reports.send(Report::Launched {
                                job_id: gang.job_id.clone(),
                                pod_uid: pod.pod_uid,
                                result: Err(e.clone()),
                            });
                        }
                        return;
                    }
                };
                if let Err(e) = store.add_event(&gang.job_id, &note) {
                    tracing::warn!(job.id = %gang.job_id, "failed to record an event: {e}");
                }
            }
            runtime.launch(gang, reports);
        });
    }

    /// Whether the job's final status waits for its read-write object sources to be written
    /// back: starts writing them back the first time, says to wait while that goes on.
    pub(super) fn waits_for_write_back(&mut self, job_id: &str, outcome: &Outcome) -> bool {
        let Some(active) = self.active.get(job_id) else {
            return false;
        };
        match active.write_back {
            WriteBack::Done => return false,
            WriteBack::InFlight => return true,
            WriteBack::NotStarted => {}
        }
        let stages: Vec<Stage> = self
            .object_stages(&active.job)
            .into_iter()
            .filter(|s| s.writable && s.is_staged())
            .collect();
        let Some(commands) = self.commands_tx.clone().filter(|_| !stages.is_empty()) else {
            if let Some(active) = self.active.get_mut(job_id) {
                active.write_back = WriteBack::Done;
            }
            return false;
        };
        if let Some(active) = self.active.get_mut(job_id) {
            active.write_back = WriteBack::InFlight;
        }
        let (job_id, outcome) = (job_id.to_string(), outcome.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut notes = Vec::new();
            for stage in &stages {
                notes.push(match sources::objects::write_back(&client, stage).await {
                    Ok(note) => note,
                    Err(e) => format!("Writing back failed: {e}"),
                });
            }
            let _ = commands.send(Command::WrittenBack {
                job_id,
                outcome,
                notes,
            });
        });
        true
    }

    /// The write-back is done: its notes become events, and the job takes its final status.
    pub(super) fn written_back(&mut self, job_id: &str, outcome: Outcome, notes: Vec<String>) {
        for note in notes {
            if let Err(e) = self.store.add_event(job_id, &note) {
                tracing::warn!(job.id = %job_id, "failed to record an event: {e}");
            }
        }
        let Some(active) = self.active.get_mut(job_id) else {
            return;
        };
        active.write_back = WriteBack::Done;
        self.finish(job_id, outcome);
    }
}
