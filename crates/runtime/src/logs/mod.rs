//! Pod log files: the record format, the writer the shim uses, and the readers the server uses
//! (tail with a time window, follow from an offset). Pure std, no async.

mod follow;
mod format;
mod search;
mod tail;
mod writer;

#[cfg(test)]
mod tests;

pub use follow::read_from;
pub use format::{LogRecord, Stream, HEADER_LEN, MAX_TEXT, TIMESTAMP_LEN};
pub use tail::{read_log, read_log_records, LogQuery, DEFAULT_MAX_LINES};
pub use writer::{LineSplitter, LogWriter};

/// Records read from a log, and where to continue reading with [`read_from`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogChunk {
    /// Oldest first.
    pub records: Vec<LogRecord>,
    /// The byte offset just past the last complete record read (or, for a tail, in the file).
    pub next_offset: u64,
}
