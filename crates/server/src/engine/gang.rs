//! Handing launches to the runtime: one task per pod on the local runtime; on Slurm, the pods
//! launched together become one gang (one Slurm job, one allocation), and what Slurm says
//! while the gang waits becomes the job's reason and events.

use opendlc_core::Reason;
use opendlc_runtime::slurm::{Gang, GangNote, GangPod, PodShape};
use opendlc_runtime::PodLaunch;
use tokio::sync::mpsc;

use super::apply::Engine;
use super::Launched;

impl Engine {
    /// Starts the launches of one job's pods; each outcome comes back as `Launched`.
    pub(super) fn spawn_launches(
        &mut self,
        job_id: &str,
        launches: Vec<PodLaunch>,
        prepared: Result<(), String>,
    ) {
        for launch in &launches {
            self.launch_requested.insert(launch.pod_uid.clone());
        }
        if let Err(e) = prepared {
            for launch in launches {
                let _ = self.launched_tx.send(Launched {
                    job_id: job_id.to_string(),
                    pod_uid: launch.pod_uid,
                    result: Err(e.clone()),
                });
            }
            return;
        }
        let Some(slurm) = self.runtime.slurm().cloned() else {
            for launch in launches {
                let runtime = self.runtime.clone();
                let tx = self.launched_tx.clone();
                let job_id = job_id.to_string();
                tokio::spawn(async move {
                    let pod_uid = launch.pod_uid.clone();
                    let result = runtime.launch(launch).await.map_err(|e| e.to_string());
                    let _ = tx.send(Launched {
                        job_id,
                        pod_uid,
                        result,
                    });
                });
            }
            return;
        };
        let Some(gang) = self.gang_of(job_id, launches) else {
            return;
        };
        let (notes_tx, notes) = mpsc::unbounded_channel();
        tokio::spawn(record_notes(self.store.clone(), job_id.to_string(), notes));
        let tx = self.launched_tx.clone();
        let job_id = job_id.to_string();
        tokio::spawn(async move {
            for (pod_uid, start) in slurm.launch_gang(gang, notes_tx).await {
                let tx = tx.clone();
                let job_id = job_id.clone();
                tokio::spawn(async move {
                    let result = match start.await {
                        Ok(result) => result.map_err(|e| e.to_string()),
                        Err(_) => Err("the Slurm runtime stopped watching the pod".into()),
                    };
                    let _ = tx.send(Launched {
                        job_id,
                        pod_uid,
                        result,
                    });
                });
            }
        });
    }

    /// The gang of these launches: each pod's shape from its role, the master (RANK 0) first.
    fn gang_of(&self, job_id: &str, mut launches: Vec<PodLaunch>) -> Option<Gang> {
        let active = self.active.get(job_id)?;
        let job = &active.job;
        launches.sort_by_key(|l| {
            l.env
                .get("RANK")
                .and_then(|r| r.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        });
        let pods = launches
            .into_iter()
            .map(|launch| {
                let resources = active
                    .pods
                    .iter()
                    .find(|p| p.pod_uid == launch.pod_uid)
                    .and_then(|pod| job.roles.iter().find(|r| r.role == pod.role))
                    .map(|r| r.resources)
                    .unwrap_or_default();
                let shape = PodShape {
                    cpus: u32::try_from(resources.cpu_milli.div_ceil(1000).max(1))
                        .unwrap_or(u32::MAX),
                    memory_mib: resources.memory_mib.max(1),
                    gpus: resources.gpu,
                };
                GangPod { launch, shape }
            })
            .collect();
        Some(Gang {
            job_id: job_id.to_string(),
            resource_id: job.resource_id.clone(),
            priority: job.priority,
            pods,
        })
    }
}

/// What Slurm says about a gang before it runs: events, and the job's reason while it waits.
async fn record_notes(
    store: std::sync::Arc<opendlc_store::Store>,
    job_id: String,
    mut notes: mpsc::UnboundedReceiver<GangNote>,
) {
    while let Some(note) = notes.recv().await {
        let (text, reason) = match &note {
            GangNote::Submitted { slurm_job_id } => {
                (format!("Submitted to Slurm as job {slurm_job_id}"), None)
            }
            GangNote::Adopted { slurm_job_id } => (
                format!("Following Slurm job {slurm_job_id} again, submitted before the server restarted"),
                None,
            ),
            GangNote::Pending {
                slurm_job_id,
                reason,
            } => {
                let message = format!("Slurm job {slurm_job_id} is pending: {reason}");
                let reason = Reason::new("SlurmJobPending", message.clone());
                (message, Some(reason))
            }
            GangNote::Running {
                slurm_job_id,
                nodes,
            } => (
                format!("Slurm job {slurm_job_id} is running on {nodes}"),
                None,
            ),
        };
        if let Err(e) = store.add_event(&job_id, &text) {
            tracing::warn!(job.id = %job_id, "failed to record a Slurm event: {e}");
        }
        if let Some(reason) = reason {
            if let Err(e) = store.set_reason(&job_id, &reason) {
                tracing::warn!(job.id = %job_id, "failed to record why the job waits: {e}");
            }
        }
    }
}
