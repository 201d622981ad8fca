//! Finding positions in a log file without reading all of it: the end of the last complete
//! record, and (records being time-ordered) the first record at or after a given time.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::format::parse_line;

/// Small reads for probing: a record header is 30 bytes, and most lines are short.
const PROBE: usize = 4096;

/// Reads at `offset` until `buf` is full or the file ends; returns the bytes read.
pub(crate) fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The offset just past the last `\n` at or before `size`: bytes after it are a record still
/// being written (or torn by a crash), which readers leave alone.
pub(crate) fn complete_end(file: &File, size: u64) -> io::Result<u64> {
    let mut buf = vec![0; PROBE];
    let mut end = size;
    while end > 0 {
        let start = end.saturating_sub(PROBE as u64);
        let n = read_at_most(file, &mut buf[..(end - start) as usize], start)?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The first line start `s` with `from <= s < limit`, if any.
fn next_line_start(file: &File, from: u64, limit: u64) -> io::Result<Option<u64>> {
    if from == 0 {
        return Ok((limit > 0).then_some(0));
    }
    // A line starts at `from` if the byte before it is a newline.
    let mut buf = vec![0; PROBE];
    let mut pos = from - 1;
    while pos < limit {
        let n = read_at_most(file, &mut buf, pos)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
            let start = pos + i as u64 + 1;
            return Ok((start < limit).then_some(start));
        }
        pos += n as u64;
    }
    Ok(None)
}

/// The timestamp of the record starting at `start` (`None` if the line is not a record) and the
/// offset of the next line (at most `limit`).
fn line_at(file: &File, start: u64, limit: u64) -> io::Result<(Option<Vec<u8>>, u64)> {
    let mut buf = vec![0; PROBE];
    let n = read_at_most(file, &mut buf, start)?;
    let line_end = buf[..n].iter().position(|&b| b == b'\n');
    let head = &buf[..line_end.unwrap_or(n)];
    // The first PROBE bytes hold the header even when the text runs on past them.
    let timestamp = parse_line(head).map(|r| r.timestamp.to_vec());
    let next = match line_end {
        Some(i) => start + i as u64 + 1,
        None => next_line_start(file, start + n as u64, limit)?.unwrap_or(limit),
    };
    Ok((timestamp, next.min(limit)))
}

/// The offset of the first record in `[lo, hi)` whose timestamp satisfies `pred`, or `hi` if
/// none does. `pred` must be monotonic over the file (false … false true … true), which holds
/// for "at or after T" and "after T" because timestamps never decrease. `lo` must be a line
/// start and `hi` a line start or the end of the complete records. Lines that are not records
/// count as "false".
pub(crate) fn lower_bound(
    file: &File,
    mut lo: u64,
    mut hi: u64,
    pred: impl Fn(&[u8]) -> bool,
) -> io::Result<u64> {
    // Invariant: every record starting before `lo` fails `pred`; the one at `hi` (if any) passes.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let Some(probe) = next_line_start(file, mid.max(lo + 1), hi)? else {
            // No line starts in (lo, hi) past mid: the few lines left all start before mid.
            return linear_scan(file, lo, hi, &pred);
        };
        let (timestamp, next) = line_at(file, probe, hi)?;
        match timestamp {
            Some(ts) if pred(&ts) => hi = probe,
            _ => lo = next,
        }
        if lo < hi && hi - lo <= PROBE as u64 {
            return linear_scan(file, lo, hi, &pred);
        }
    }
    Ok(lo)
}

fn linear_scan(
    file: &File,
    mut pos: u64,
    hi: u64,
    pred: &impl Fn(&[u8]) -> bool,
) -> io::Result<u64> {
    while pos < hi {
        let (timestamp, next) = line_at(file, pos, hi)?;
        if timestamp.is_some_and(|ts| pred(&ts)) {
            return Ok(pos);
        }
        pos = next;
    }
    Ok(hi)
}
