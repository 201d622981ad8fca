//! TensorBoards: their settings, status and process. Not tied to a job's rows: a TensorBoard
//! outlives the job it reads.

use opendlc_core::tensorboard::{Tensorboard, TensorboardStatus};
use opendlc_core::time::Millis;
use rusqlite::{params, Row};

use rusqlite::OptionalExtension;

use crate::rows::to_json;
use crate::{Result, Store, Visibility};

const COLUMNS: &str = "tensorboard_id, display_name, job_id, workspace_id, user_id, accessibility,
    priority, summary_path, logdir, request, max_running_minutes, status, reason_code,
    reason_message, port, pid, gmt_create, gmt_modify, gmt_start, gmt_finish";

fn row(r: &Row<'_>) -> rusqlite::Result<Tensorboard> {
    let status: String = r.get(11)?;
    Ok(Tensorboard {
        tensorboard_id: r.get(0)?,
        display_name: r.get(1)?,
        job_id: r.get(2)?,
        workspace_id: r.get(3)?,
        user_id: r.get(4)?,
        accessibility: r.get(5)?,
        priority: r.get(6)?,
        summary_path: r.get(7)?,
        logdir: r.get(8)?,
        request: r.get(9)?,
        max_running_minutes: r.get(10)?,
        status: TensorboardStatus::parse(&status).unwrap_or(TensorboardStatus::Failed),
        reason_code: r.get(12)?,
        reason_message: r.get(13)?,
        port: r.get(14)?,
        pid: r.get(15)?,
        created: r.get(16)?,
        modified: r.get(17)?,
        started: r.get(18)?,
        finished: r.get(19)?,
    })
}

/// ListTensorboards' filters (all optional) and paging.
#[derive(Debug, Clone, Default)]
pub struct TensorboardFilter {
    pub tensorboard_id: Option<String>,
    pub job_id: Option<String>,
    pub display_name: Option<String>,
    pub status: Option<TensorboardStatus>,
    pub workspace_id: Option<String>,
    pub user_id: Option<String>,
    pub accessibility: Option<String>,
    /// Only the TensorBoards the caller may read (their own, their workspaces' when they
    /// administer them, PUBLIC ones of their workspaces); `None`: all (a server administrator).
    pub visible_to: Option<Visibility>,
    pub created_from: Millis,
    pub created_to: Millis,
    /// `display_name` instead of the creation time.
    pub sort_by_name: bool,
    pub descending: bool,
    pub limit: u64,
    pub offset: u64,
}

/// A status change, with the reason and the process fields that go with it.
#[derive(Debug, Clone)]
pub struct TensorboardUpdate {
    pub status: TensorboardStatus,
    pub reason_code: Option<String>,
    pub reason_message: Option<String>,
    pub port: Option<u16>,
    pub pid: Option<u32>,
    pub started: Option<Millis>,
    pub finished: Option<Millis>,
    pub at: Millis,
}

impl Store {
    pub fn insert_tensorboard(&self, tb: &Tensorboard) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO tensorboards ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                 ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))?
            .execute(params![
                tb.tensorboard_id,
                tb.display_name,
                tb.job_id,
                tb.workspace_id,
                tb.user_id,
                tb.accessibility,
                tb.priority,
                tb.summary_path,
                tb.logdir,
                tb.request,
                tb.max_running_minutes,
                tb.status.as_str(),
                tb.reason_code,
                tb.reason_message,
                tb.port,
                tb.pid,
                tb.created,
                tb.modified,
                tb.started,
                tb.finished,
            ])?;
            Ok(())
        })
    }

    pub fn get_tensorboard(&self, id: &str) -> Result<Option<Tensorboard>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM tensorboards WHERE tensorboard_id = ?1"
                ))?
                .query_row([id], row)
                .optional()?)
        })
    }

    /// TensorBoards whose process may be alive (Creating or Running).
    pub fn active_tensorboards(&self) -> Result<Vec<Tensorboard>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tensorboards WHERE status IN ('Creating', 'Running')"
            ))?;
            let tbs = stmt.query_map([], row)?.collect::<Result<_, _>>()?;
            Ok(tbs)
        })
    }

    /// One page of the matching TensorBoards and how many match in all.
    pub fn list_tensorboards(&self, f: &TensorboardFilter) -> Result<(Vec<Tensorboard>, u64)> {
        let condition = "(?1 IS NULL OR tensorboard_id = ?1) AND (?2 IS NULL OR job_id = ?2)
            AND (?3 IS NULL OR instr(lower(display_name), lower(?3)) > 0)
            AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR workspace_id = ?5)
            AND (?6 IS NULL OR user_id = ?6) AND (?7 IS NULL OR accessibility = ?7)
            AND gmt_create >= ?8 AND gmt_create <= ?9
            AND (?10 IS NULL OR user_id = ?10
                 OR workspace_id IN (SELECT value FROM json_each(?11))
                 OR (accessibility = 'PUBLIC' AND workspace_id IN (SELECT value FROM json_each(?12))))";
        let order = match (f.sort_by_name, f.descending) {
            (true, true) => "display_name DESC, gmt_create DESC",
            (true, false) => "display_name ASC, gmt_create ASC",
            (false, true) => "gmt_create DESC, tensorboard_id DESC",
            (false, false) => "gmt_create ASC, tensorboard_id ASC",
        };
        let status = f.status.map(TensorboardStatus::as_str);
        let visible = f.visible_to.as_ref();
        let viewer = visible.map(|v| v.user_id.as_str());
        let admin_of = to_json(&visible.map(|v| v.admin_of.clone()).unwrap_or_default());
        let member_of = to_json(&visible.map(|v| v.member_of.clone()).unwrap_or_default());
        self.read(|conn| {
            let args = params![
                f.tensorboard_id,
                f.job_id,
                f.display_name,
                status,
                f.workspace_id,
                f.user_id,
                f.accessibility,
                f.created_from,
                f.created_to,
                viewer,
                admin_of,
                member_of,
            ];
            let total: u64 = conn
                .prepare_cached(&format!(
                    "SELECT COUNT(*) FROM tensorboards WHERE {condition}"
                ))?
                .query_row(args, |r| r.get(0))?;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tensorboards WHERE {condition} ORDER BY {order}
                 LIMIT {} OFFSET {}",
                f.limit, f.offset
            ))?;
            let page = stmt.query_map(args, row)?.collect::<Result<_, _>>()?;
            Ok((page, total))
        })
    }

    /// Sets the status (and the process fields) of a TensorBoard; false if there is none.
    pub fn update_tensorboard_status(&self, id: &str, u: &TensorboardUpdate) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE tensorboards SET status = ?2, reason_code = ?3, reason_message = ?4,
                     port = ?5, pid = ?6, gmt_start = COALESCE(?7, gmt_start),
                     gmt_finish = ?8, gmt_modify = ?9 WHERE tensorboard_id = ?1",
                )?
                .execute(params![
                    id,
                    u.status.as_str(),
                    u.reason_code,
                    u.reason_message,
                    u.port,
                    u.pid,
                    u.started,
                    u.finished,
                    u.at,
                ])?;
            Ok(n > 0)
        })
    }

    /// UpdateTensorboard: the settings given (`None` keeps the current one); false if there is
    /// no such TensorBoard.
    pub fn update_tensorboard_settings(
        &self,
        id: &str,
        max_running_minutes: Option<i64>,
        accessibility: Option<&str>,
        priority: Option<&str>,
        at: Millis,
    ) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE tensorboards SET
                     max_running_minutes = COALESCE(?2, max_running_minutes),
                     accessibility = COALESCE(?3, accessibility),
                     priority = COALESCE(?4, priority), gmt_modify = ?5
                     WHERE tensorboard_id = ?1",
                )?
                .execute(params![
                    id,
                    max_running_minutes,
                    accessibility,
                    priority,
                    at
                ])?;
            Ok(n > 0)
        })
    }

    pub fn delete_tensorboard(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM tensorboards WHERE tensorboard_id = ?1")?
                .execute([id])?;
            Ok(())
        })
    }
}
