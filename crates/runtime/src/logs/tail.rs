//! Reading the last records of a log, optionally within a time window, without reading the
//! whole file: binary search for the window's ends, then read backwards from its end.

use std::fs::File;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::format::{key_at_or_after, key_at_or_before, parse_line, LogRecord};
use super::search::{complete_end, lower_bound, read_at_most};
use super::LogChunk;

/// What GetPodLogs asks for by default.
pub const DEFAULT_MAX_LINES: usize = 2000;

/// Backward reads: large enough that the default 2,000 lines usually take one or two reads.
const CHUNK: usize = 256 * 1024;

/// Which records to read: the last `max_lines` of those with `since <= time <= until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// 0 reads nothing (the caller applies its own default, see [`DEFAULT_MAX_LINES`]).
    pub max_lines: usize,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl LogQuery {
    /// The last `max_lines` records, whatever their time.
    pub fn last(max_lines: usize) -> Self {
        Self {
            max_lines,
            since: None,
            until: None,
        }
    }
}

impl Default for LogQuery {
    fn default() -> Self {
        Self::last(DEFAULT_MAX_LINES)
    }
}

/// The text of the last `q.max_lines` records within `[q.since, q.until]`, oldest first
/// (timestamps and stream tags stripped). A missing file reads as empty.
pub fn read_log(path: &Path, q: &LogQuery) -> io::Result<Vec<String>> {
    Ok(read_log_records(path, q)?
        .records
        .into_iter()
        .map(|r| r.text)
        .collect())
}

/// Like [`read_log`], with each record's time and stream. `next_offset` is the end of the
/// last complete record in the file: pass it to [`super::read_from`] to follow the log.
pub fn read_log_records(path: &Path, q: &LogQuery) -> io::Result<LogChunk> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(LogChunk::default()),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let end_of_file = complete_end(&file, size)?;
    if q.max_lines == 0 {
        return Ok(LogChunk {
            records: Vec::new(),
            next_offset: end_of_file,
        });
    }
    let start = match q.since {
        Some(since) => {
            let key = key_at_or_after(since);
            lower_bound(&file, 0, end_of_file, |ts| ts >= &key[..])?
        }
        None => 0,
    };
    let end = match q.until {
        Some(until) => {
            let key = key_at_or_before(until);
            lower_bound(&file, start, end_of_file, |ts| ts > &key[..])?
        }
        None => end_of_file,
    };
    Ok(LogChunk {
        records: last_records(&file, start, end, q.max_lines)?,
        next_offset: end_of_file,
    })
}

/// The last `max` records in `[start, end)`, oldest first; both ends are line boundaries.
fn last_records(file: &File, start: u64, end: u64, max: usize) -> io::Result<Vec<LogRecord>> {
    let mut newest_first = Vec::new();
    let mut pos = end;
    // The beginning of the file's part after `pos` that is not a whole line yet: a line that
    // started before `pos`, to be completed by the next (earlier) read.
    let mut carry: Vec<u8> = Vec::new();
    while pos > start && newest_first.len() < max {
        let n = CHUNK.min((pos - start) as usize);
        pos -= n as u64;
        let mut buf = vec![0; n + carry.len()];
        let read = read_at_most(file, &mut buf[..n], pos)?;
        if read < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the log file shrank while being read",
            ));
        }
        buf[n..].copy_from_slice(&carry);
        // `buf` ends with a `\n` (it ends at `end` or where the previous carry ended).
        let mut line_end = buf.len() - 1;
        loop {
            let line_start = match buf[..line_end].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if pos == start => 0,
                None => {
                    carry = buf[..=line_end].to_vec();
                    break;
                }
            };
            if let Some(record) = parse_line(&buf[line_start..line_end]).and_then(|r| r.decode()) {
                newest_first.push(record);
                if newest_first.len() == max {
                    break;
                }
            }
            if line_start == 0 {
                break;
            }
            line_end = line_start - 1;
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}
