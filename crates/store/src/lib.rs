//! Persistence: SQLite in WAL mode, one writer connection and a few readers.
//!
//! Every state change is one transaction, committed before the API answers, so a `kill -9`
//! loses nothing that was acknowledged (WAL with `synchronous=NORMAL` survives a process crash;
//! only a power loss can take the last commits).

mod error;
mod events;
mod identity;
mod jobs;
mod list;
mod metrics;
mod migrations;
mod pods;
mod restarts;
mod rows;
mod sanity;
mod seal;
mod sealing;
mod search;
mod tensorboards;
mod transitions;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

pub use error::StoreError;
pub use identity::{AccessKeyRecord, Member, Workspace};
pub use list::{
    JobFilter, NameMatch, NameSearch, NumericRange, RequestField, SortField, TimeField, Visibility,
};
pub use metrics::{RunningPod, SampledPod, DELETE_CHUNK, SPLIT_AT};
pub use pods::PodEnd;
pub use restarts::{Restart, RestartLevel};
pub use sanity::SanityRecord;
pub use seal::{Sealer, KEY_FILE};
pub use tensorboards::{TensorboardFilter, TensorboardUpdate};
pub use transitions::{Admission, Transition};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct Store {
    path: PathBuf,
    sealer: Sealer,
    /// Fair: writers take turns in the order they came. The engine writes in many short
    /// transactions one after the other; with an unfair lock it takes it back each time, and an
    /// API request waiting to write (CreateJob) waits for all of them.
    writer: parking_lot::FairMutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// [`Store::checkpoint`]'s connection, opened at its first call.
    checkpointer: Mutex<Option<Connection>>,
    /// How ListJobs reads the DisplayName's trigram index.
    name_search: Mutex<NameSearch>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// Secrets are sealed with the key in [`KEY_FILE`] beside the database, created on
    /// first open; the database and its `-wal`/`-shm` files are made readable by this user
    /// only (mode 0600). Secrets an older version stored in clear are sealed now.
    pub fn open(path: &Path) -> Result<Store> {
        configure_sqlite();
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let key_path = dir.unwrap_or(Path::new(".")).join(KEY_FILE);
        let (sealer, created) = Sealer::load_or_create(&key_path)?;
        protect_files(path)?;
        let mut writer = open_connection(path)?;
        writer.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        migrations::migrate(&mut writer)?;
        if let Err(e) = sealing::seal_plain_secrets(&mut writer, &sealer, created) {
            // A key made for a database that turns out to need another is not left behind
            // for the next start to take.
            if created {
                let _ = std::fs::remove_file(&key_path);
            }
            return Err(e);
        }
        Ok(Store {
            path: path.to_path_buf(),
            sealer,
            writer: parking_lot::FairMutex::new(writer),
            readers: Mutex::new(Vec::new()),
            checkpointer: Mutex::new(None),
            name_search: Mutex::new(NameSearch::default()),
        })
    }

    /// Sets how ListJobs reads the DisplayName's trigram index: for tests of each way with few
    /// jobs.
    #[doc(hidden)]
    pub fn tune_name_search(&self, tuning: NameSearch) {
        *self.name_search.lock().unwrap_or_else(|e| e.into_inner()) = tuning;
    }

    fn name_search(&self) -> NameSearch {
        *self.name_search.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies what the write-ahead log holds into the database (SQLite's PASSIVE checkpoint),
    /// on a connection of its own: writers go on meanwhile and nobody waits for it (a page a
    /// reader still needs from the log is copied by a later call). The server calls it a few
    /// times a second, so that no commit pays for the copy and its two fsyncs; the writer's
    /// own copy, past 32,768 pages (128 MiB), is for when nobody calls it.
    pub fn checkpoint(&self) -> Result<()> {
        let mut slot = self.checkpointer.lock().unwrap_or_else(|e| e.into_inner());
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => empty.insert(open_connection(&self.path)?),
        };
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on a pooled read connection (WAL lets readers run beside the writer).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let value = f(&conn);
        self.readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        value
    }
}

/// Creates the database file with mode 0600 if it is new (SQLite gives its `-wal` and `-shm`
/// files the database's mode) and makes existing ones 0600.
fn protect_files(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |p: &Path, e: std::io::Error| {
        StoreError::Key(format!("failed to protect {}: {e}", p.display()))
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| failed(path, e))?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(&file, e)),
            _ => {}
        }
    }
    Ok(())
}

/// How long the write-ahead log grows before a commit copies it into the database itself, in
/// pages of 4 KiB (128 MiB): where nobody calls [`Store::checkpoint`] (the CLI's commands, a
/// bulk import). SQLite's default, 1,000 pages, is ~20 jobs' worth: under load a commit paid for
/// a copy many times a second, holding every other writer up.
const WAL_CHECKPOINT_PAGES: i64 = 32_768;

/// How much of the database file each connection maps into memory (SQLite's `mmap_size`).
const MMAP_SIZE: i64 = 1 << 30;

/// Turns SQLite's count of the memory it holds off, once per process, before its first use.
///
/// Kept, it takes one mutex of the whole process at each of SQLite's allocations, and threads
/// reading at once wait for each other there: the API's readers beside the engine's writer,
/// and a DisplayName search read by two threads took as long as on one (7.4 ms instead of 3.5
/// for each half). Where SQLite was used before the first store opened (a caller's own
/// connection), SQLite refuses the change and the count stays on.
fn configure_sqlite() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        let off: std::os::raw::c_int = 0;
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int argument. Once SQLite is initialised
        // the call changes nothing and returns SQLITE_MISUSE, which is ignored (see above).
        let _ =
            unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, off) };
    });
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Pages read in place from the kernel's cache instead of copied into each connection's
    // own: a long read (a week of a job's metrics is ~10,000 pages) no longer copies them all.
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // `rarray(?)`: a list of values bound as one parameter (ListJobs' name candidates).
    rusqlite::vtab::array::load_module(&conn)?;
    // What the name index's triggers write.
    search::register(&conn)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}
