//! Reading a log forward from an offset, for following it while the pod runs.

use std::fs::File;
use std::io;
use std::path::Path;

use super::format::parse_line;
use super::search::read_at_most;
use super::LogChunk;

/// The most one call reads, so that following a large log from the start takes bounded memory.
const MAX_READ: usize = 1024 * 1024;

/// The complete records from `offset` on (at most about 1 MiB of them), and the offset to pass
/// next time. Call again until it returns no records; then wait (poll, or watch the file) and
/// call again. A record still being written is left for the next call. A missing file reads as
/// empty with the offset unchanged.
pub fn read_from(path: &Path, offset: u64) -> io::Result<LogChunk> {
    let unchanged = || LogChunk {
        records: Vec::new(),
        next_offset: offset,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(unchanged()),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    if size <= offset {
        return Ok(unchanged());
    }
    let mut buf = vec![0; MAX_READ.min((size - offset) as usize)];
    let n = read_at_most(&file, &mut buf, offset)?;
    buf.truncate(n);
    let complete = match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        // No newline in a full read: not a log record (they are far shorter); skip the bytes
        // rather than stall forever.
        None if n == MAX_READ => n,
        None => return Ok(unchanged()),
    };
    let records = buf[..complete]
        .split(|&b| b == b'\n')
        .filter_map(|line| parse_line(line).and_then(|r| r.decode()))
        .collect();
    Ok(LogChunk {
        records,
        next_offset: offset + complete as u64,
    })
}
