//! The pod log's record format.
//!
//! One record per line:
//!
//! ```text
//! 2026-11-22T07:15:16.123456Z O text of a stdout line
//! 2026-11-22T07:15:16.123789Z E text of a stderr line
//! ```
//!
//! - A fixed-width UTC timestamp with microseconds (27 bytes), a space, a one-letter tag, a
//!   space, the text, `\n`. Fixed width makes timestamps comparable as bytes, so a reader can
//!   binary-search the file by time without parsing dates.
//! - Tags: `O` stdout, `E` stderr. Lower case (`o`, `e`) marks a piece of an over-long line
//!   (more than [`MAX_TEXT`] bytes) that continues in the next record of the same stream.
//! - A line ends at `\n`, `\r\n` or a lone `\r` (progress bars redraw with `\r`); the terminator
//!   is not stored. A final line without a terminator is written when the stream closes.
//! - The text is the raw bytes the process wrote (usually UTF-8; readers decode lossily).
//! - Timestamps never decrease within a file, even if the wall clock steps back.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

/// Bytes of the timestamp, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub const TIMESTAMP_LEN: usize = 27;
/// Bytes before the text: timestamp, space, tag, space.
pub const HEADER_LEN: usize = TIMESTAMP_LEN + 3;
/// Longest text of one record; longer lines are split over several records.
pub const MAX_TEXT: usize = 64 * 1024;

/// A timestamp as stored in the log.
pub(crate) type Timestamp = [u8; TIMESTAMP_LEN];

/// Which pipe a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One record of a pod log, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub time: DateTime<Utc>,
    pub stream: Stream,
    /// The line, without its terminator, decoded as UTF-8 (invalid bytes become U+FFFD).
    pub text: String,
    /// True when this is a piece of an over-long line that continues in the next record of the
    /// same stream; joining the pieces gives back the original line.
    pub continued: bool,
}

/// A record as it sits in the file, not yet decoded.
pub(crate) struct RawRecord<'a> {
    pub timestamp: &'a [u8],
    pub stream: Stream,
    pub continued: bool,
    pub text: &'a [u8],
}

impl RawRecord<'_> {
    pub fn decode(&self) -> Option<LogRecord> {
        Some(LogRecord {
            time: parse_timestamp(self.timestamp)?,
            stream: self.stream,
            text: String::from_utf8_lossy(self.text).into_owned(),
            continued: self.continued,
        })
    }
}

/// Splits one line of the file (without its `\n`) into its parts; `None` for anything that is
/// not a record (a torn write, say), which readers skip.
pub(crate) fn parse_line(line: &[u8]) -> Option<RawRecord<'_>> {
    if line.len() < HEADER_LEN - 1 || !is_timestamp(&line[..TIMESTAMP_LEN]) {
        return None;
    }
    if line[TIMESTAMP_LEN] != b' ' || (line.len() >= HEADER_LEN && line[HEADER_LEN - 1] != b' ') {
        return None;
    }
    let (stream, continued) = match line[TIMESTAMP_LEN + 1] {
        b'O' => (Stream::Stdout, false),
        b'E' => (Stream::Stderr, false),
        b'o' => (Stream::Stdout, true),
        b'e' => (Stream::Stderr, true),
        _ => return None,
    };
    Some(RawRecord {
        timestamp: &line[..TIMESTAMP_LEN],
        stream,
        continued,
        text: line.get(HEADER_LEN..).unwrap_or_default(),
    })
}

/// Appends one record, with its `\n`, to `out`.
pub(crate) fn push_record(
    out: &mut Vec<u8>,
    timestamp: &Timestamp,
    stream: Stream,
    continued: bool,
    text: &[u8],
) {
    let tag = match (stream, continued) {
        (Stream::Stdout, false) => b'O',
        (Stream::Stderr, false) => b'E',
        (Stream::Stdout, true) => b'o',
        (Stream::Stderr, true) => b'e',
    };
    out.reserve(HEADER_LEN + text.len() + 1);
    out.extend_from_slice(timestamp);
    out.extend_from_slice(&[b' ', tag, b' ']);
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// Formats microseconds since the Unix epoch (UTC). Years are clamped to 0..=9999 so the width
/// never changes.
pub(crate) fn format_micros(micros: i64) -> Timestamp {
    let time = DateTime::from_timestamp_micros(micros).unwrap_or_default();
    let year = time.year().clamp(0, 9999) as u32;
    let fields: [(u32, usize); 7] = [
        (year, 4),
        (time.month(), 2),
        (time.day(), 2),
        (time.hour(), 2),
        (time.minute(), 2),
        (time.second(), 2),
        (time.timestamp_subsec_micros(), 6),
    ];
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let starts = [0, 5, 8, 11, 14, 17, 20];
    for ((value, width), start) in fields.into_iter().zip(starts) {
        let mut value = value;
        for i in (start..start + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    out
}

/// The smallest stored timestamp that is not before `time` (rounds sub-microseconds up).
pub(crate) fn key_at_or_after(time: DateTime<Utc>) -> Timestamp {
    let micros = time.timestamp_micros();
    let exact = time.timestamp_subsec_nanos().is_multiple_of(1000);
    format_micros(if exact {
        micros
    } else {
        micros.saturating_add(1)
    })
}

/// The largest stored timestamp that is not after `time` (truncates sub-microseconds).
pub(crate) fn key_at_or_before(time: DateTime<Utc>) -> Timestamp {
    format_micros(time.timestamp_micros())
}

fn is_timestamp(bytes: &[u8]) -> bool {
    const LAYOUT: &[u8; TIMESTAMP_LEN] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    bytes.len() == TIMESTAMP_LEN
        && bytes.iter().zip(LAYOUT).all(|(&b, &l)| match l {
            b'd' => b.is_ascii_digit(),
            _ => b == l,
        })
}

pub(crate) fn parse_timestamp(bytes: &[u8]) -> Option<DateTime<Utc>> {
    if !is_timestamp(bytes) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    let date = NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))?;
    let time = date.and_hms_micro_opt(num(11..13), num(14..16), num(17..19), num(20..26))?;
    Some(time.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_sort_as_bytes() {
        let t = DateTime::parse_from_rfc3339("2026-11-22T07:15:16.123456Z")
            .unwrap()
            .to_utc();
        let stored = format_micros(t.timestamp_micros());
        assert_eq!(&stored, b"2026-11-22T07:15:16.123456Z");
        assert_eq!(parse_timestamp(&stored), Some(t));
        assert!(format_micros(t.timestamp_micros() + 1) > stored);
    }

    #[test]
    fn keys_round_toward_the_window() {
        let t = DateTime::parse_from_rfc3339("2026-11-22T07:15:16.123456789Z")
            .unwrap()
            .to_utc();
        assert_eq!(&key_at_or_after(t), b"2026-11-22T07:15:16.123457Z");
        assert_eq!(&key_at_or_before(t), b"2026-11-22T07:15:16.123456Z");
    }

    #[test]
    fn records_parse_back() {
        let mut out = Vec::new();
        let ts = format_micros(0);
        push_record(&mut out, &ts, Stream::Stderr, true, b"hi there");
        push_record(&mut out, &ts, Stream::Stdout, false, b"");
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            "1970-01-01T00:00:00.000000Z e hi there\n1970-01-01T00:00:00.000000Z O \n"
        );
        let lines: Vec<_> = out.split(|&b| b == b'\n').take(2).collect();
        let first = parse_line(lines[0]).unwrap();
        assert_eq!(
            (first.stream, first.continued, first.text),
            (Stream::Stderr, true, &b"hi there"[..])
        );
        assert_eq!(parse_line(lines[1]).unwrap().text, b"");
        assert!(parse_line(b"1970-01-01T00:00:00.000000Z X text").is_none());
        assert!(parse_line(b"garbage").is_none());
    }
}
