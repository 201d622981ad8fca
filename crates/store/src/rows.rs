//! Row ↔ domain conversions.

use std::str::FromStr;

use opendlc_core::{Event, Job, JobTimes, Pod, Reason, StatusPeriod};
use rusqlite::Row;

use crate::seal::Sealer;
use crate::StoreError;

pub const JOB_COLUMNS: &str =
    "seq, job_id, display_name, job_type, status, reason_code, reason_message, \
     priority, workspace_id, resource_id, user_id, accessibility, user_command, roles, envs, tags, \
     request, max_running_minutes, ports, restart_count, gmt_create, gmt_submitted, \
     gmt_running, gmt_finish, gmt_successed, gmt_failed, gmt_stopped, infra_restart_count";

fn corrupt(what: &str, err: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Corrupt(format!("{what}: {err}"))),
    )
}

fn parsed<T: FromStr>(row: &Row<'_>, idx: usize, what: &str) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| corrupt(what, e))
}

fn json<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
    what: &str,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| corrupt(what, e))
}

pub fn reason(code: Option<String>, message: Option<String>) -> Option<Reason> {
    match (code, message) {
        (None, None) => None,
        (code, message) => Some(Reason {
            code: code.unwrap_or_default(),
            message: message.unwrap_or_default(),
        }),
    }
}

/// A job from its row, its sealed values opened.
pub fn job(row: &Row<'_>, sealer: &Sealer) -> rusqlite::Result<Job> {
    let mut job = Job {
        seq: row.get(0)?,
        job_id: row.get(1)?,
        display_name: row.get(2)?,
        job_type: parsed(row, 3, "job type")?,
        status: parsed(row, 4, "job status")?,
        reason: reason(row.get(5)?, row.get(6)?),
        priority: row.get(7)?,
        workspace_id: row.get(8)?,
        resource_id: row.get(9)?,
        user_id: row.get(10)?,
        accessibility: row.get(11)?,
        user_command: row.get(12)?,
        roles: json(row, 13, "roles")?,
        envs: json(row, 14, "envs")?,
        tags: json(row, 15, "tags")?,
        request: json(row, 16, "request")?,
        max_running_minutes: row.get(17)?,
        ports: json(row, 18, "ports")?,
        restart_count: row.get(19)?,
        infra_restart_count: row.get(27)?,
        times: JobTimes {
            created: row.get(20)?,
            submitted: row.get(21)?,
            running: row.get(22)?,
            finished: row.get(23)?,
            succeeded: row.get(24)?,
            failed: row.get(25)?,
            stopped: row.get(26)?,
        },
    };
    crate::sealing::open_job_values(sealer, &mut job.request, &mut job.envs).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(job)
}

pub const POD_COLUMNS: &str = "pod_uid, job_id, pod_id, role, idx, status, ip, node_name, pid, \
     exit_code, exit_signal, reason, gmt_create, gmt_start, gmt_finish, current";

pub fn pod(row: &Row<'_>) -> rusqlite::Result<Pod> {
    Ok(Pod {
        pod_uid: row.get(0)?,
        job_id: row.get(1)?,
        pod_id: row.get(2)?,
        role: parsed(row, 3, "pod role")?,
        index: row.get(4)?,
        status: parsed(row, 5, "pod status")?,
        ip: row.get(6)?,
        node_name: row.get(7)?,
        pid: row.get(8)?,
        exit_code: row.get(9)?,
        exit_signal: row.get(10)?,
        reason: row.get(11)?,
        created: row.get(12)?,
        started: row.get(13)?,
        finished: row.get(14)?,
        current: row.get(15)?,
    })
}

pub fn status_period(row: &Row<'_>) -> rusqlite::Result<StatusPeriod> {
    Ok(StatusPeriod {
        status: parsed(row, 0, "history status")?,
        start: row.get(1)?,
        end: row.get(2)?,
        reason: reason(row.get(3)?, row.get(4)?),
    })
}

pub fn event(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        time: row.get(0)?,
        job_id: row.get(1)?,
        pod_id: row.get(2)?,
        text: row.get(3)?,
    })
}

pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values serialize to JSON")
}
