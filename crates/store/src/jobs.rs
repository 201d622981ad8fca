//! Jobs: create, read, update, delete.

use opendlc_core::{Job, JobStatus, StatusPeriod};
use rusqlite::{params, OptionalExtension};

use crate::rows::{self, to_json, JOB_COLUMNS};
use crate::sealing::sealed_job_columns;
use crate::transitions::{self, Transition};
use crate::{events, Result, Store, StoreError};

impl Store {
    /// Records a new job (status Creating) with its first history entry and event; returns
    /// its submission sequence number.
    pub fn insert_job(&self, job: &Job) -> Result<i64> {
        Ok(self.insert_all(&[(job, &[][..], None)])?[0])
    }

    /// A job as CreateJob stores it: [`insert_job`](Self::insert_job) with `notes` as its
    /// first events and `then` (Creating → Queuing, say) made at once, in the same transaction.
    pub fn insert_job_noting(&self, job: &Job, notes: &[String], then: &Transition) -> Result<i64> {
        Ok(self.insert_all(&[(job, notes, Some(then))])?[0])
    }

    /// Records many new jobs in one transaction (as [`insert_job`](Self::insert_job) each);
    /// returns their sequence numbers, in order.
    pub fn insert_jobs(&self, jobs: &[Job]) -> Result<Vec<i64>> {
        let new: Vec<_> = jobs.iter().map(|job| (job, &[][..], None)).collect();
        self.insert_all(&new)
    }

    /// Many [`insert_job_noting`](Self::insert_job_noting) in one transaction (all or none):
    /// CreateJob's group commit.
    pub fn insert_jobs_noting(&self, jobs: &[(&Job, &[String], Transition)]) -> Result<Vec<i64>> {
        let new: Vec<_> = jobs
            .iter()
            .map(|(job, notes, then)| (*job, *notes, Some(then)))
            .collect();
        self.insert_all(&new)
    }

    /// New jobs, each with its first events and the transition it makes at once, if any.
    fn insert_all(&self, jobs: &[(&Job, &[String], Option<&Transition>)]) -> Result<Vec<i64>> {
        let columns: Vec<(String, String)> = jobs
            .iter()
            .map(|(job, ..)| sealed_job_columns(&self.sealer, &job.request, &job.envs))
            .collect();
        self.write(|tx| {
            jobs.iter()
                .zip(&columns)
                .map(|((job, notes, then), columns)| {
                    let seq = insert(tx, job, columns, notes)?;
                    if let Some(then) = then {
                        transitions::apply(tx, &job.job_id, then)?;
                    }
                    Ok(seq)
                })
                .collect()
        })
    }

    pub fn get_job(&self, job_id: &str) -> Result<Job> {
        self.read(|conn| {
            conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?1"))?
                .query_row([job_id], |r| rows::job(r, &self.sealer))
                .optional()?
                .ok_or_else(|| StoreError::JobNotFound(job_id.to_string()))
        })
    }

    pub fn status_history(&self, job_id: &str) -> Result<Vec<StatusPeriod>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT status, start_time, end_time, reason_code, reason_message
                 FROM status_history WHERE job_id = ?1 ORDER BY seq",
            )?;
            let history = stmt
                .query_map([job_id], rows::status_period)?
                .collect::<Result<_, _>>()?;
            Ok(history)
        })
    }

    /// Jobs in any of `statuses`, oldest first: what the scheduler and recovery work from.
    pub fn jobs_in_statuses(&self, statuses: &[JobStatus]) -> Result<Vec<Job>> {
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ({list}) ORDER BY seq"
            ))?;
            let jobs = stmt
                .query_map([], |r| rows::job(r, &self.sealer))?
                .collect::<Result<_, _>>()?;
            Ok(jobs)
        })
    }

    /// Replaces the mutable fields UpdateJob may change (the caller checked the status).
    pub fn update_job(&self, job: &Job) -> Result<()> {
        let images: Vec<&str> = job.images().collect();
        let (request, _) = sealed_job_columns(&self.sealer, &job.request, &job.envs);
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE jobs SET priority = ?2, accessibility = ?3, roles = ?4, request = ?5,
                       images = ?6, user_command = ?7 WHERE job_id = ?1",
                )?
                .execute(params![
                    job.job_id,
                    job.priority,
                    job.accessibility,
                    to_json(&job.roles),
                    request,
                    images.join("\n"),
                    job.user_command,
                ])?;
            if changed == 0 {
                return Err(StoreError::JobNotFound(job.job_id.clone()));
            }
            Ok(())
        })
    }

    /// Deletes a job with its pods, history, events and metrics. The caller checked it is
    /// terminal. Its metrics go first, a chunk per transaction (the writer is free between
    /// them); the job goes in the last one, with what is left: a job seen deleted stays
    /// deleted, and one interrupted before can be deleted again.
    pub fn delete_job(&self, job_id: &str) -> Result<()> {
        self.delete_job_metrics(job_id)?;
        self.write(|tx| {
            for table in ["events", "status_history", "pods"] {
                tx.execute(&format!("DELETE FROM {table} WHERE job_id = ?1"), [job_id])?;
            }
            if tx.execute("DELETE FROM jobs WHERE job_id = ?1", [job_id])? == 0 {
                return Err(StoreError::JobNotFound(job_id.to_string()));
            }
            Ok(())
        })
    }
}

/// Inserts a new job, its first history entry and its events; `columns` are its sealed
/// `request` and `envs`.
fn insert(
    tx: &rusqlite::Transaction<'_>,
    job: &Job,
    (request, envs): &(String, String),
    notes: &[String],
) -> Result<i64> {
    let images: Vec<&str> = job.images().collect();
    tx.prepare_cached(
        "INSERT INTO jobs (job_id, display_name, job_type, status, reason_code, reason_message,
           priority, workspace_id, resource_id, user_id, accessibility, user_command, images,
           roles, envs, tags, request, max_running_minutes, ports, restart_count, gmt_create)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    )?
    .execute(params![
        job.job_id,
        job.display_name,
        job.job_type.as_str(),
        job.status.as_str(),
        job.reason.as_ref().map(|r| &r.code),
        job.reason.as_ref().map(|r| &r.message),
        job.priority,
        job.workspace_id,
        job.resource_id,
        job.user_id,
        job.accessibility,
        job.user_command,
        images.join("\n"),
        to_json(&job.roles),
        envs,
        to_json(&job.tags),
        request,
        job.max_running_minutes,
        to_json(&job.ports),
        job.restart_count,
        job.times.created,
    ])?;
    let seq = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO status_history (job_id, status, start_time) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![job.job_id, job.status.as_str(), job.times.created])?;
    let created = format!("Job {} is created", job.job_id);
    events::insert(tx, &job.job_id, None, job.times.created, &created)?;
    for note in notes {
        events::insert(tx, &job.job_id, None, job.times.created, note)?;
    }
    Ok(seq)
}
