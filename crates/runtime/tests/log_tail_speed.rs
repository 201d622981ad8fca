//! How fast the last lines of a large log come back. A measurement, not a check (it writes
//! 1 GiB): `cargo test --release -p opendlc-runtime --test log_tail_speed -- --ignored --nocapture`.

use std::fs::File;
use std::io::BufWriter;
use std::time::{Duration, Instant};

use chrono::DateTime;
use opendlc_runtime::logs::{read_log, LogQuery, LogWriter, Stream};

const SIZE: u64 = 1 << 30;

#[test]
#[ignore = "a measurement that writes 1 GiB; run with --release -- --ignored --nocapture"]
fn tail_of_a_1_gib_log() {
    let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let path = dir.path().join("log");
    let mut writer = LogWriter::new(BufWriter::with_capacity(
        1 << 20,
        File::create(&path).unwrap(),
    ));
    // ~100-byte records, 10 µs apart: about 10 million records over 100 s of pod time.
    let t0 = 1_767_225_600_000_000i64;
    let text = "x".repeat(60);
    let mut n = 0i64;
    let mut written = 0u64;
    while written < SIZE {
        writer.record_at(
            t0 + n * 10,
            Stream::Stdout,
            false,
            format!("{n:09} {text}").as_bytes(),
        );
        written += 30 + 10 + 60 + 1;
        n += 1;
        if n % 10_000 == 0 {
            writer.flush().unwrap();
        }
    }
    writer.flush().unwrap();
    drop(writer);
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "log: {:.2} GiB, {n} records",
        size as f64 / (1u64 << 30) as f64
    );

    let time = |q: &LogQuery| {
        let mut samples: Vec<Duration> = (0..21)
            .map(|_| {
                let start = Instant::now();
                let lines = read_log(&path, q).unwrap();
                let took = start.elapsed();
                assert_eq!(lines.len(), q.max_lines);
                took
            })
            .collect();
        samples.sort();
        samples[samples.len() / 2]
    };
    let tail = time(&LogQuery::last(2000));
    let at = |i: i64| DateTime::from_timestamp_micros(t0 + i * 10);
    let window = time(&LogQuery {
        max_lines: 2000,
        since: at(n / 3),
        until: at(n / 2),
    });
    println!(
        "last 2000 lines: {:.3} ms (median of 21)",
        tail.as_secs_f64() * 1e3
    );
    println!(
        "last 2000 lines of a window mid-file: {:.3} ms (median of 21)",
        window.as_secs_f64() * 1e3
    );
}
