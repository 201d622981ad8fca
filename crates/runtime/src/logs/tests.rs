//! Reader tests against files written by the writer.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::*;

const SECOND: i64 = 1_000_000;
/// 2026-01-01T00:00:00Z in microseconds.
const T0: i64 = 1_767_225_600 * SECOND;

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap()
}

/// Writes `(micros, text)` records, alternating stdout and stderr.
fn write_log(path: &Path, records: &[(i64, String)]) {
    let mut writer = LogWriter::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap(),
    );
    for (i, (micros, text)) in records.iter().enumerate() {
        let stream = if i % 2 == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        writer.record_at(*micros, stream, false, text.as_bytes());
    }
    writer.flush().unwrap();
}

fn numbered(n: usize) -> Vec<(i64, String)> {
    (0..n)
        .map(|i| (T0 + i as i64 * SECOND, format!("line {i}")))
        .collect()
}

fn texts(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

#[test]
fn tail_returns_the_last_lines_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    // Enough lines to need several backward reads.
    write_log(&path, &numbered(50_000));
    assert_eq!(
        read_log(&path, &LogQuery::last(3)).unwrap(),
        texts(49_997..50_000)
    );
    assert_eq!(
        read_log(&path, &LogQuery::last(20_000)).unwrap(),
        texts(30_000..50_000)
    );
    assert_eq!(
        read_log(&path, &LogQuery::last(100_000)).unwrap(),
        texts(0..50_000)
    );
    assert!(read_log(&path, &LogQuery::last(0)).unwrap().is_empty());

    let chunk = read_log_records(&path, &LogQuery::last(2)).unwrap();
    assert_eq!(chunk.records[0].stream, Stream::Stdout);
    assert_eq!(chunk.records[1].stream, Stream::Stderr);
    assert_eq!(chunk.records[1].time, at(T0 + 49_999 * SECOND));
    assert_eq!(chunk.next_offset, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn missing_file_reads_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    assert!(read_log(&path, &LogQuery::default()).unwrap().is_empty());
    assert_eq!(read_from(&path, 0).unwrap(), LogChunk::default());
}

#[test]
fn time_window_is_inclusive_and_combines_with_max_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    write_log(&path, &numbered(10_000));
    let window = |since: Option<i64>, until: Option<i64>, max_lines| LogQuery {
        max_lines,
        since: since.map(at),
        until: until.map(at),
    };
    let s = |i: i64| T0 + i * SECOND;
    assert_eq!(
        read_log(&path, &window(Some(s(100)), Some(s(104)), 100)).unwrap(),
        texts(100..105)
    );
    assert_eq!(
        read_log(&path, &window(Some(s(100)), Some(s(104)), 2)).unwrap(),
        texts(103..105)
    );
    assert_eq!(
        read_log(&path, &window(Some(s(9_998)), None, 100)).unwrap(),
        texts(9_998..10_000)
    );
    assert_eq!(
        read_log(&path, &window(None, Some(s(1)), 100)).unwrap(),
        texts(0..2)
    );
    // Between records, and outside the file.
    assert_eq!(
        read_log(&path, &window(Some(s(5) + 1), Some(s(7) - 1), 100)).unwrap(),
        texts(6..7)
    );
    assert!(read_log(&path, &window(Some(s(20_000)), None, 100))
        .unwrap()
        .is_empty());
    assert!(read_log(&path, &window(None, Some(T0 - 1), 100))
        .unwrap()
        .is_empty());
    assert!(read_log(&path, &window(Some(s(8)), Some(s(7)), 100))
        .unwrap()
        .is_empty());
    // Sub-microsecond bounds round toward the inside of the window.
    let nanos = |micros: i64, extra: u32| {
        DateTime::from_timestamp(micros / SECOND, extra + (micros % SECOND) as u32 * 1000).unwrap()
    };
    let q = LogQuery {
        max_lines: 100,
        since: Some(nanos(s(5), 1)),
        until: Some(nanos(s(6), 999)),
    };
    assert_eq!(read_log(&path, &q).unwrap(), texts(6..7));
}

/// Binary search against brute force, with equal timestamps and long records mixed in.
#[test]
fn time_window_matches_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut micros = T0;
    let records: Vec<(i64, String)> = (0..3_000)
        .map(|i| {
            micros += (next() % 3) as i64; // often equal timestamps
            let len = if next() % 50 == 0 {
                10_000
            } else {
                (next() % 40) as usize
            };
            (micros, format!("{i}:{}", "x".repeat(len)))
        })
        .collect();
    write_log(&path, &records);
    for _ in 0..300 {
        let a = T0 + (next() % (micros - T0 + 3) as u64) as i64 - 1;
        let b = a + (next() % 200) as i64;
        let expected: Vec<String> = records
            .iter()
            .filter(|(t, _)| *t >= a && *t <= b)
            .map(|(_, text)| text.clone())
            .collect();
        let q = LogQuery {
            max_lines: 10_000,
            since: Some(at(a)),
            until: Some(at(b)),
        };
        assert_eq!(read_log(&path, &q).unwrap(), expected, "window {a}..={b}");
    }
}

#[test]
fn a_record_being_written_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    write_log(&path, &numbered(3));
    let complete = std::fs::metadata(&path).unwrap().len();
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"2026-01-01T00:00:09.000000Z O torn")
        .unwrap();
    assert_eq!(read_log(&path, &LogQuery::last(10)).unwrap(), texts(0..3));
    let chunk = read_from(&path, 0).unwrap();
    assert_eq!(chunk.records.len(), 3);
    assert_eq!(chunk.next_offset, complete);
    // Once the line is finished, following picks it up.
    file.write_all(b" line\n").unwrap();
    let chunk = read_from(&path, complete).unwrap();
    assert_eq!(
        chunk
            .records
            .iter()
            .map(|r| r.text.as_str())
            .collect::<Vec<_>>(),
        ["torn line"]
    );
    assert_eq!(read_from(&path, chunk.next_offset).unwrap().records, []);
}

#[test]
fn lines_that_are_not_records_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut file = File::create(&path).unwrap();
    file.write_all(b"garbage\n\n2026-01-01T00:00:00.000000Z O ok\nmore garbage\n")
        .unwrap();
    assert_eq!(read_log(&path, &LogQuery::last(10)).unwrap(), ["ok"]);
    assert_eq!(read_from(&path, 0).unwrap().records.len(), 1);
}

#[test]
fn long_lines_come_back_as_continued_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut writer = LogWriter::new(File::create(&path).unwrap());
    let mut splitter = LineSplitter::new();
    let long = "y".repeat(MAX_TEXT + 5);
    let data = format!("short\n{long}\nlast without newline");
    let mut emit =
        |text: &[u8], continued: bool| writer.record_at(T0, Stream::Stdout, continued, text);
    splitter.push(data.as_bytes(), &mut emit);
    splitter.finish(&mut emit);
    writer.flush().unwrap();

    let records = read_log_records(&path, &LogQuery::last(10))
        .unwrap()
        .records;
    let shape: Vec<_> = records
        .iter()
        .map(|r| (r.text.len(), r.continued))
        .collect();
    assert_eq!(
        shape,
        [(5, false), (MAX_TEXT, true), (5, false), (20, false)]
    );
    assert_eq!(records[1].text.clone() + &records[2].text, long);
    assert_eq!(records[3].text, "last without newline");
    // The tail counts records, so it can start in the middle of a split line.
    assert_eq!(
        read_log(&path, &LogQuery::last(2)).unwrap(),
        ["yyyyy", "last without newline"]
    );
}

#[test]
fn following_reads_appended_records_in_bounded_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    write_log(&path, &numbered(40_000)); // about 1.5 MiB: two reads
    let mut offset = 0;
    let mut seen = Vec::new();
    loop {
        let chunk = read_from(&path, offset).unwrap();
        if chunk.records.is_empty() {
            break;
        }
        seen.extend(chunk.records.into_iter().map(|r| r.text));
        offset = chunk.next_offset;
    }
    assert_eq!(seen, texts(0..40_000));
    write_log(&path, &[(T0 + 50_000 * SECOND, "appended".to_string())]);
    let chunk = read_from(&path, offset).unwrap();
    assert_eq!(chunk.records[0].text, "appended");
}
