//! Sanity check results: per job, per check round (`CheckNumber`), per phase.

use opendlc_core::time::Millis;
use rusqlite::params;

use crate::{Result, Store};

/// One phase of one round, as stored and answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanityRecord {
    pub check_number: u32,
    pub phase: String,
    /// `Running`, `Succeeded` or `Failed`.
    pub status: String,
    pub message: String,
    pub started: Option<Millis>,
    pub finished: Option<Millis>,
}

impl Store {
    /// Writes (or overwrites) the phases of one round.
    pub fn put_sanity_results(&self, job_id: &str, records: &[SanityRecord]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO sanity_results
                 (job_id, check_number, phase, status, message, started, finished)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in records {
                stmt.execute(params![
                    job_id,
                    r.check_number,
                    r.phase,
                    r.status,
                    r.message,
                    r.started,
                    r.finished
                ])?;
            }
            Ok(())
        })
    }

    /// Every stored phase of the job, by round then phase order as written.
    pub fn sanity_results(&self, job_id: &str) -> Result<Vec<SanityRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT check_number, phase, status, message, started, finished
                 FROM sanity_results WHERE job_id = ?1 ORDER BY check_number, rowid",
            )?;
            let rows = stmt
                .query_map([job_id], |r| {
                    Ok(SanityRecord {
                        check_number: r.get(0)?,
                        phase: r.get(1)?,
                        status: r.get(2)?,
                        message: r.get(3)?,
                        started: r.get(4)?,
                        finished: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }
}
