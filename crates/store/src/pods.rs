//! Pods: incarnations, their start and exit.

use opendlc_core::job::RoleSpec;
use opendlc_core::time::Millis;
use opendlc_core::{Pod, PodStatus};
use rusqlite::{params, Transaction};

use crate::rows::{self, POD_COLUMNS};
use crate::{events, Result, Store};

pub(crate) fn insert(tx: &Transaction<'_>, pod: &Pod) -> Result<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO pods ({POD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    ))?
    .execute(params![
        pod.pod_uid,
        pod.job_id,
        pod.pod_id,
        pod.role.as_str(),
        pod.index,
        pod.status.as_str(),
        pod.ip,
        pod.node_name,
        pod.pid,
        pod.exit_code,
        pod.exit_signal,
        pod.reason,
        pod.created,
        pod.started,
        pod.finished,
        pod.current,
    ])?;
    Ok(())
}

/// How a pod incarnation ended.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEnd {
    pub status: PodStatus,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub reason: Option<String>,
    pub at: Millis,
}

impl Store {
    /// Every incarnation of every pod of a job, current ones first, in pod order.
    pub fn pods(&self, job_id: &str) -> Result<Vec<Pod>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {POD_COLUMNS} FROM pods WHERE job_id = ?1 ORDER BY current DESC, role, idx, gmt_create"
            ))?;
            let pods = stmt.query_map([job_id], rows::pod)?.collect::<Result<_, _>>()?;
            Ok(pods)
        })
    }

    /// Records a pod's start, with its start event ("Pod … started on NODE (pid N)", then
    /// `how` it runs after a colon when given).
    pub fn pod_started(
        &self,
        pod: &Pod,
        pid: u32,
        ip: &str,
        node: &str,
        at: Millis,
        how: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE pods SET status = 'Running', pid = ?2, ip = ?3, node_name = ?4, gmt_start = ?5
                 WHERE pod_uid = ?1",
            )?
            .execute(params![pod.pod_uid, pid, ip, node, at])?;
            let mut text = format!("Pod {} started on {node} (pid {pid})", pod.pod_id);
            if let Some(how) = how {
                text = format!("{text}: {how}");
            }
            events::insert(tx, &pod.job_id, Some(&pod.pod_id), at, &text)
        })
    }

    /// An elastic job grows: `pod` is added (Pending) with the job's new `roles`, and an event
    /// says so.
    pub fn add_pod(&self, pod: &Pod, roles: &[RoleSpec], event_text: &str) -> Result<()> {
        self.write(|tx| {
            insert(tx, pod)?;
            set_roles(tx, &pod.job_id, roles)?;
            events::insert(tx, &pod.job_id, Some(&pod.pod_id), pod.created, event_text)
        })
    }

    /// An elastic job shrinks: pod incarnation `pod_uid` (ended) leaves its current pods, the
    /// job takes its new `roles`, and an event says so.
    pub fn retire_pod(
        &self,
        job_id: &str,
        pod_uid: &str,
        roles: &[RoleSpec],
        at: Millis,
        event_text: &str,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("UPDATE pods SET current = 0 WHERE pod_uid = ?1 AND job_id = ?2")?
                .execute(params![pod_uid, job_id])?;
            set_roles(tx, job_id, roles)?;
            events::insert(tx, job_id, None, at, event_text)
        })
    }

    /// Records a pod's end once; a second report for the same incarnation changes nothing.
    /// Returns whether this call recorded it.
    pub fn pod_ended(&self, pod: &Pod, end: &PodEnd, event_text: &str) -> Result<bool> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE pods SET status = ?2, exit_code = ?3, exit_signal = ?4, reason = ?5, gmt_finish = ?6
                     WHERE pod_uid = ?1 AND status IN ('Pending', 'Running', 'Unknown')",
                )?
                .execute(params![
                    pod.pod_uid,
                    end.status.as_str(),
                    end.exit_code,
                    end.exit_signal,
                    end.reason,
                    end.at
                ])?;
            if changed > 0 {
                events::insert(tx, &pod.job_id, Some(&pod.pod_id), end.at, event_text)?;
            }
            Ok(changed > 0)
        })
    }
}

fn set_roles(tx: &Transaction<'_>, job_id: &str, roles: &[RoleSpec]) -> Result<()> {
    tx.prepare_cached("UPDATE jobs SET roles = ?2 WHERE job_id = ?1")?
        .execute(params![job_id, rows::to_json(&roles)])?;
    Ok(())
}
