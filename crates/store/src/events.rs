//! Events: what happened to a job and its pods, as lines of text with a time.

use opendlc_core::time::Millis;
use opendlc_core::Event;
use rusqlite::{params, Transaction};

use crate::rows;
use crate::{Result, Store};

pub(crate) fn insert(
    tx: &Transaction<'_>,
    job_id: &str,
    pod_id: Option<&str>,
    at: Millis,
    text: &str,
) -> Result<()> {
    tx.prepare_cached("INSERT INTO events (job_id, pod_id, time, text) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![job_id, pod_id, at, text])?;
    Ok(())
}

impl Store {
    /// Records an event of the job (not of one pod), now.
    pub fn add_event(&self, job_id: &str, text: &str) -> Result<()> {
        self.write(|tx| insert(tx, job_id, None, opendlc_core::time::now_millis(), text))
    }

    /// The last `max` events of a job (of one pod when `pod_id` is given) in `[start, end]`,
    /// oldest first.
    pub fn events(
        &self,
        job_id: &str,
        pod_id: Option<&str>,
        start: Millis,
        end: Millis,
        max: usize,
    ) -> Result<Vec<Event>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT time, job_id, pod_id, text FROM events
                 WHERE job_id = ?1 AND (?2 IS NULL OR pod_id = ?2) AND time >= ?3 AND time <= ?4
                 ORDER BY seq DESC LIMIT ?5",
            )?;
            let mut events: Vec<Event> = stmt
                .query_map(params![job_id, pod_id, start, end, max as i64], rows::event)?
                .collect::<Result<_, _>>()?;
            events.reverse();
            Ok(events)
        })
    }
}
