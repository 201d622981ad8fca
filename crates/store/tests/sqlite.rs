//! How the store configures SQLite for the whole process (a test binary of its own: nothing
//! else may use SQLite before the first store opens).

mod common;

use common::{job, open};

/// SQLite keeps no count of its memory (a mutex of the whole process at each allocation):
/// the store turned it off before SQLite's first use.
#[test]
fn sqlite_counts_no_memory_once_a_store_opened() {
    let (_dir, store) = open();
    store.insert_job(&job("dlcmem", "a", 1_000)).unwrap();
    store.get_job("dlcmem").unwrap();
    // SAFETY: sqlite3_memory_used takes no argument and reads a counter.
    let used = unsafe { rusqlite::ffi::sqlite3_memory_used() };
    assert_eq!(used, 0);
}
