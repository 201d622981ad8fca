//! Status transitions: checked against the lifecycle, recorded with their time, reason,
//! StatusHistory entry and event, in one transaction.

use opendlc_core::time::Millis;
use opendlc_core::{Job, JobStatus, JobTimes, Pod, Reason};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::{events, pods, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub to: JobStatus,
    pub reason: Option<Reason>,
    pub at: Millis,
}

impl Transition {
    pub fn new(to: JobStatus, at: Millis) -> Self {
        Transition {
            to,
            reason: None,
            at,
        }
    }

    pub fn because(mut self, code: &str, message: impl Into<String>) -> Self {
        self.reason = Some(Reason::new(code, message));
        self
    }
}

/// A job to admit ([`Store::admit_all`]): the ports its pods listen on and its pods.
pub struct Admission<'a> {
    pub job_id: &'a str,
    pub ports: &'a [u16],
    pub pods: &'a [Pod],
}

/// The times a status stamps when a job enters it, each as its column and its field of
/// `JobTimes` (a stamp, once set, stays).
type Stamp = (&'static str, fn(&mut JobTimes) -> &mut Option<Millis>);

fn stamps(status: JobStatus) -> &'static [Stamp] {
    match status {
        JobStatus::Queuing => &[("gmt_submitted", |t| &mut t.submitted)],
        JobStatus::Running => &[("gmt_running", |t| &mut t.running)],
        JobStatus::Succeeded => &[
            ("gmt_successed", |t| &mut t.succeeded),
            ("gmt_finish", |t| &mut t.finished),
        ],
        JobStatus::Failed => &[
            ("gmt_failed", |t| &mut t.failed),
            ("gmt_finish", |t| &mut t.finished),
        ],
        JobStatus::Stopped => &[
            ("gmt_stopped", |t| &mut t.stopped),
            ("gmt_finish", |t| &mut t.finished),
        ],
        _ => &[],
    }
}

impl Transition {
    /// What the transition changed in the stored job, applied to a copy in memory: its status,
    /// reason and times, as [`Store::get_job`] would read them back.
    pub fn record_in(&self, job: &mut Job) {
        job.status = self.to;
        job.reason.clone_from(&self.reason);
        for (_, field) in stamps(self.to) {
            field(&mut job.times).get_or_insert(self.at);
        }
    }
}

pub(crate) fn apply(tx: &Transaction<'_>, job_id: &str, t: &Transition) -> Result<()> {
    let from: JobStatus = tx
        .prepare_cached("SELECT status FROM jobs WHERE job_id = ?1")?
        .query_row([job_id], |r| r.get::<_, String>(0))
        .optional()?
        .ok_or_else(|| StoreError::JobNotFound(job_id.to_string()))?
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("job status: {e}")))?;
    if !from.can_become(t.to) {
        return Err(StoreError::Transition {
            job_id: job_id.to_string(),
            from,
            to: t.to,
        });
    }
    let (code, message) = match &t.reason {
        Some(r) => (Some(r.code.as_str()), Some(r.message.as_str())),
        None => (None, None),
    };
    let stamps: String = stamps(t.to)
        .iter()
        .map(|(c, _)| format!(", {c} = COALESCE({c}, ?5)"))
        .collect();
    let mut update = tx.prepare_cached(&format!(
        "UPDATE jobs SET status = ?2, reason_code = ?3, reason_message = ?4 {stamps} WHERE job_id = ?1"
    ))?;
    if stamps.is_empty() {
        update.execute(params![job_id, t.to.as_str(), code, message])?;
    } else {
        update.execute(params![job_id, t.to.as_str(), code, message, t.at])?;
    }
    tx.prepare_cached(
        "UPDATE status_history SET end_time = ?2 WHERE job_id = ?1 AND end_time IS NULL",
    )?
    .execute(params![job_id, t.at])?;
    tx.prepare_cached(
        "INSERT INTO status_history (job_id, status, start_time, end_time, reason_code, reason_message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        job_id,
        t.to.as_str(),
        t.at,
        t.to.is_terminal().then_some(t.at),
        code,
        message
    ])?;
    let text = match message {
        Some(m) if !m.is_empty() => format!("Job {job_id} is {}: {m}", t.to),
        _ => format!("Job {job_id} is {}", t.to),
    };
    events::insert(tx, job_id, None, t.at, &text)
}

impl Store {
    /// Moves a job to a new status; fails with `StoreError::Transition` if the lifecycle
    /// does not allow it (e.g. the job already ended). The job is not read back: the engine,
    /// which makes nearly every transition, keeps what it needs of it in memory.
    pub fn transition(&self, job_id: &str, t: &Transition) -> Result<()> {
        self.write(|tx| apply(tx, job_id, t))
    }

    /// Admits queued jobs, in one transaction: records each one's pods' ports and its pods
    /// (Pending) and moves it to `t.to` (EnvPreparing), so that a crash never leaves a
    /// half-admitted job. Returns, in order, whether each was admitted: a job the lifecycle no
    /// longer lets start (stopped meanwhile) is left as it is, the others are admitted all the
    /// same.
    pub fn admit_all(&self, jobs: &[Admission<'_>], t: &Transition) -> Result<Vec<bool>> {
        self.write(|tx| {
            jobs.iter()
                .map(|job| {
                    // The transition first: it checks the status before it writes anything, so
                    // a refused job leaves nothing behind.
                    match apply(tx, job.job_id, t) {
                        Ok(()) => {}
                        Err(StoreError::Transition { .. }) => return Ok(false),
                        Err(e) => return Err(e),
                    }
                    tx.execute(
                        "UPDATE jobs SET ports = ?2 WHERE job_id = ?1",
                        params![job.job_id, crate::rows::to_json(&job.ports)],
                    )?;
                    for pod in job.pods {
                        pods::insert(tx, pod)?;
                    }
                    Ok(true)
                })
                .collect()
        })
    }

    /// Sends a preempted job back to the queue: its pods become history (new incarnations
    /// are made when it is admitted again) and it moves to `t.to` (Queuing). Not a restart: the
    /// restart count is untouched.
    pub fn requeue(&self, job_id: &str, t: &Transition) -> Result<Job> {
        self.write(|tx| {
            tx.execute("UPDATE pods SET current = 0 WHERE job_id = ?1", [job_id])?;
            apply(tx, job_id, t)
        })?;
        self.get_job(job_id)
    }

    /// Updates why a job is in its current status (e.g. what a queued job waits for) without
    /// a new StatusHistory entry.
    pub fn set_reason(&self, job_id: &str, reason: &Reason) -> Result<()> {
        self.write(|tx| set_reason(tx, job_id, reason))
    }

    /// [`Store::set_reason`] for several jobs, in one transaction.
    pub fn set_reasons(&self, reasons: &[(&str, Reason)]) -> Result<()> {
        if reasons.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            reasons
                .iter()
                .try_for_each(|(job_id, reason)| set_reason(tx, job_id, reason))
        })
    }
}

pub(crate) fn set_reason(tx: &Transaction<'_>, job_id: &str, reason: &Reason) -> Result<()> {
    tx.prepare_cached("UPDATE jobs SET reason_code = ?2, reason_message = ?3 WHERE job_id = ?1")?
        .execute(params![job_id, reason.code, reason.message])?;
    tx.prepare_cached(
        "UPDATE status_history SET reason_code = ?2, reason_message = ?3
         WHERE job_id = ?1 AND end_time IS NULL",
    )?
    .execute(params![job_id, reason.code, reason.message])?;
    Ok(())
}
