//! Restarts: each restart of a job's pods (the whole gang, or one pod in Async mode) with its
//! cause and where it happened, recorded in the transaction that makes the new incarnations.

use std::collections::BTreeSet;

use opendlc_core::restart::{Cause, Source};
use opendlc_core::time::Millis;
use opendlc_core::{Job, Pod};
use rusqlite::{params, Row, Transaction};

use crate::transitions::{apply, set_reason, Transition};
use crate::{events, pods, Result, Store, StoreError};

/// What a restart renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartLevel {
    /// Every pod of the job.
    Job,
    /// One pod, alone (`--job-execution-mode=Async`).
    Pod,
}

impl RestartLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RestartLevel::Job => "Job",
            RestartLevel::Pod => "Pod",
        }
    }
}

/// One restart, as GetJob's RestartRecord shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Restart {
    /// Its number among the job's restarts, from 1 (given by the store).
    pub n: u32,
    pub time: Millis,
    pub level: RestartLevel,
    pub message: String,
    /// What caused it; `None` for restarts recorded before causes were.
    pub cause: Option<Cause>,
    /// The pod whose end caused it, and where it ran.
    pub pod_id: Option<String>,
    pub node: Option<String>,
    /// Whether `node` is kept out of the job's placements from this restart on.
    pub excluded: bool,
}

fn restart(row: &Row<'_>) -> rusqlite::Result<Restart> {
    let level: String = row.get(2)?;
    let cause: Option<String> = row.get(4)?;
    let value: Option<i32> = row.get(5)?;
    Ok(Restart {
        n: row.get(0)?,
        time: row.get(1)?,
        level: if level == "Pod" {
            RestartLevel::Pod
        } else {
            RestartLevel::Job
        },
        message: row.get(3)?,
        cause: cause.and_then(|c| Cause::from_code(&c, value)),
        pod_id: row.get(6)?,
        node: row.get(7)?,
        excluded: row.get(8)?,
    })
}

/// Records `r` as the job's next restart, and counts it against the budget of its cause's
/// source.
fn insert(tx: &Transaction<'_>, job_id: &str, r: &Restart) -> Result<()> {
    let counter = match r.cause.map(Cause::source) {
        Some(Source::Infrastructure) => "infra_restart_count",
        Some(Source::User) | None => "restart_count",
    };
    tx.execute(
        &format!("UPDATE jobs SET {counter} = {counter} + 1 WHERE job_id = ?1"),
        [job_id],
    )?;
    tx.prepare_cached(
        "INSERT INTO restarts (job_id, n, time, level, message, cause, value, pod_id, node, excluded)
         VALUES (?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM restarts WHERE job_id = ?1),
                 ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        job_id,
        r.time,
        r.level.as_str(),
        r.message,
        r.cause.map(Cause::code),
        r.cause.and_then(Cause::value),
        r.pod_id,
        r.node,
        r.excluded,
    ])?;
    Ok(())
}

impl Store {
    /// Restarts every pod of a job: its current pods become history, `new_pods` are inserted,
    /// the restart is recorded and counted, and the job moves to `t.to` (Restarting) — or, if
    /// it is already there (a restart before the last one got its pods running), only its
    /// reason changes and an event says it restarts again.
    pub fn restart_job(
        &self,
        job_id: &str,
        new_pods: &[Pod],
        t: &Transition,
        record: &Restart,
    ) -> Result<Job> {
        self.write(|tx| {
            tx.execute("UPDATE pods SET current = 0 WHERE job_id = ?1", [job_id])?;
            insert(tx, job_id, record)?;
            for pod in new_pods {
                pods::insert(tx, pod)?;
            }
            let status: String =
                tx.query_row("SELECT status FROM jobs WHERE job_id = ?1", [job_id], |r| {
                    r.get(0)
                })?;
            if status == t.to.as_str() {
                let reason = t.reason.clone().unwrap_or_default();
                set_reason(tx, job_id, &reason)?;
                let text = format!("Job {job_id} is restarting again: {}", reason.message);
                events::insert(tx, job_id, None, t.at, &text)
            } else {
                apply(tx, job_id, t)
            }
        })?;
        self.get_job(job_id)
    }

    /// Restarts one pod of a running job (Async mode): the incarnation `old_uid` becomes
    /// history, `new_pod` takes its place, and the restart is recorded and counted, with an
    /// event; the job keeps its status.
    pub fn restart_pod(&self, old_uid: &str, new_pod: &Pod, record: &Restart) -> Result<Job> {
        let job_id = &new_pod.job_id;
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE pods SET current = 0 WHERE pod_uid = ?1 AND job_id = ?2 AND current = 1",
                params![old_uid, job_id],
            )?;
            if changed == 0 {
                return Err(StoreError::Corrupt(format!(
                    "pod {old_uid} is not a current pod of job {job_id}"
                )));
            }
            insert(tx, job_id, record)?;
            pods::insert(tx, new_pod)?;
            let text = format!("Pod {} is restarting: {}", new_pod.pod_id, record.message);
            events::insert(tx, job_id, Some(&new_pod.pod_id), record.time, &text)
        })?;
        self.get_job(job_id)
    }

    /// A job's restarts, oldest first.
    pub fn restarts(&self, job_id: &str) -> Result<Vec<Restart>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT n, time, level, message, cause, value, pod_id, node, excluded
                 FROM restarts WHERE job_id = ?1 ORDER BY n",
            )?;
            let restarts = stmt
                .query_map([job_id], restart)?
                .collect::<Result<_, _>>()?;
            Ok(restarts)
        })
    }

    /// The nodes a job's restarts keep out of its placements.
    pub fn excluded_nodes(&self, job_id: &str) -> Result<BTreeSet<String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT node FROM restarts WHERE job_id = ?1 AND excluded = 1 AND node IS NOT NULL",
            )?;
            let nodes = stmt
                .query_map([job_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(nodes)
        })
    }

    /// How many of a job's restarts were caused by a pod on `node`.
    pub fn restarts_on(&self, job_id: &str, node: &str) -> Result<u32> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT COUNT(*) FROM restarts WHERE job_id = ?1 AND node = ?2")?
                .query_row(params![job_id, node], |r| r.get(0))?)
        })
    }
}
