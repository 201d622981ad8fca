//! Which stored values are sealed, and sealing those an older version stored in clear.

use std::collections::BTreeMap;

use opendlc_api::CreateJobRequest;
use opendlc_core::secrets;
use rusqlite::{params, Connection, OptionalExtension};

use crate::rows::to_json;
use crate::seal::Sealer;
use crate::{Result, StoreError, KEY_FILE};

/// Recorded once every secret of the database is sealed.
const SEALED_FLAG: &str = "secrets-sealed";

/// A job's `request` and `envs` columns: its write-only values sealed.
pub fn sealed_job_columns(
    sealer: &Sealer,
    request: &CreateJobRequest,
    envs: &BTreeMap<String, String>,
) -> (String, String) {
    let (mut request, mut envs) = (request.clone(), envs.clone());
    secrets::for_each(&mut request, &mut envs, |v| *v = sealer.seal(v));
    (to_json(&request), to_json(&envs))
}

/// Opens the sealed values of a job read from its columns.
pub fn open_job_values(
    sealer: &Sealer,
    request: &mut CreateJobRequest,
    envs: &mut BTreeMap<String, String>,
) -> Result<()> {
    secrets::try_for_each(request, envs, |v| {
        *v = sealer.open(v)?;
        Ok::<(), StoreError>(())
    })
}

/// Seals what an older version stored in clear: access-key secrets and jobs' write-only
/// values (then vacuums, so the plain values leave the file). Runs once per database (a flag
/// records it). Once sealed, a key that does not open the database's secrets is refused: one
/// just created (the database lost its key file), or another database's.
pub fn seal_plain_secrets(conn: &mut Connection, sealer: &Sealer, key_created: bool) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS store_flags (name TEXT PRIMARY KEY)")?;
    let done: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM store_flags WHERE name = ?1)",
        [SEALED_FLAG],
        |r| r.get(0),
    )?;
    if done {
        let sealed: Option<String> = conn
            .query_row("SELECT secret FROM access_keys LIMIT 1", [], |r| r.get(0))
            .optional()?;
        if sealed.is_some_and(|secret| sealer.open(&secret).is_err()) {
            return Err(StoreError::Key(if key_created {
                format!(
                    "{KEY_FILE} is missing: this database's secrets are sealed with it; \
                     restore it beside the database"
                )
            } else {
                format!(
                    "{KEY_FILE} does not open this database's secrets (it is not the key they \
                     were sealed with): restore the one that does"
                )
            }));
        }
        return Ok(());
    }
    let tx = conn.transaction()?;
    let keys: Vec<(String, String)> = tx
        .prepare("SELECT access_key_id, secret FROM access_keys")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut sealed_any = false;
    for (id, secret) in keys {
        if !sealer.is_sealed(&secret) {
            sealed_any = true;
            tx.execute(
                "UPDATE access_keys SET secret = ?2 WHERE access_key_id = ?1",
                params![id, sealer.seal(&secret)],
            )?;
        }
    }
    let jobs: Vec<(String, String, String)> = tx
        .prepare("SELECT job_id, request, envs FROM jobs")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, request, envs) in jobs {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("job {id}: {e}"));
        let mut request: CreateJobRequest = serde_json::from_str(&request).map_err(corrupt)?;
        let mut envs: BTreeMap<String, String> = serde_json::from_str(&envs).map_err(corrupt)?;
        let mut changed = false;
        secrets::for_each(&mut request, &mut envs, |v| {
            if !sealer.is_sealed(v) {
                *v = sealer.seal(v);
                changed = true;
            }
        });
        if changed {
            sealed_any = true;
            tx.execute(
                "UPDATE jobs SET request = ?2, envs = ?3 WHERE job_id = ?1",
                params![id, to_json(&request), to_json(&envs)],
            )?;
        }
    }
    tx.execute("INSERT INTO store_flags (name) VALUES (?1)", [SEALED_FLAG])?;
    tx.commit()?;
    if sealed_any {
        // The pages that held the plain values are free but not yet overwritten.
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok(())
}
