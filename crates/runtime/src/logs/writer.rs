//! The writing side of the log format: cutting a byte stream into lines, and stamping lines
//! into records. Used by the shim; kept free of threads and files so it can be tested alone.

use std::io::{self, Write};

use chrono::Utc;

use super::format::{format_micros, push_record, Stream, Timestamp, MAX_TEXT};

/// Cuts one stream's bytes into lines (what ends a line: the module docs of the private
/// `logs::format`), splitting over-long lines into pieces of at most [`MAX_TEXT`] bytes.
#[derive(Debug, Default)]
pub struct LineSplitter {
    /// The start of a line whose end has not arrived yet.
    pending: Vec<u8>,
    /// The last chunk ended with `\r`: a `\n` at the start of the next one belongs to it.
    skip_lf: bool,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; `emit(text, continued)` is called for every finished record.
    pub fn push(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        if self.skip_lf && !data.is_empty() {
            self.skip_lf = false;
            if data[0] == b'\n' {
                data = &data[1..];
            }
        }
        while let Some(end) = data.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.pending.is_empty() {
                emit_line(&data[..end], emit);
            } else {
                self.pending.extend_from_slice(&data[..end]);
                emit_line(&self.pending, emit);
                self.pending.clear();
            }
            let mut consumed = end + 1;
            if data[end] == b'\r' {
                match data.get(end + 1) {
                    Some(b'\n') => consumed += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            data = &data[consumed..];
        }
        self.pending.extend_from_slice(data);
        // Keep at most MAX_TEXT bytes waiting: a process that never writes a newline must
        // neither grow our memory nor keep its output from the log forever.
        while self.pending.len() > MAX_TEXT {
            let cut = char_boundary(&self.pending, MAX_TEXT);
            emit(&self.pending[..cut], true);
            self.pending.drain(..cut);
        }
    }

    /// The stream closed: a last line without a terminator is still a record.
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        if !self.pending.is_empty() {
            emit_line(&self.pending, emit);
            self.pending.clear();
        }
    }
}

fn emit_line(mut line: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
    while line.len() > MAX_TEXT {
        let cut = char_boundary(line, MAX_TEXT);
        emit(&line[..cut], true);
        line = &line[cut..];
    }
    emit(line, false);
}

/// A cut at or a little before `max` that does not split a UTF-8 character (for valid UTF-8),
/// so that each piece decodes on its own. `bytes` is longer than `max`.
fn char_boundary(bytes: &[u8], max: usize) -> usize {
    let is_continuation = |b: u8| b & 0xC0 == 0x80;
    (max.saturating_sub(3)..=max)
        .rev()
        .find(|&cut| cut > 0 && !is_continuation(bytes[cut]))
        .unwrap_or(max)
}

/// Stamps records and writes them out. Records are buffered until [`LogWriter::flush`], which
/// the shim calls once per pipe read, so a burst of lines costs one `write`.
#[derive(Debug)]
pub struct LogWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    last_micros: Option<i64>,
    timestamp: Timestamp,
}

impl<W: Write> LogWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            buf: Vec::with_capacity(64 * 1024),
            last_micros: None,
            timestamp: format_micros(0),
        }
    }

    /// Adds a record stamped with the current time.
    pub fn record(&mut self, stream: Stream, continued: bool, text: &[u8]) {
        self.record_at(Utc::now().timestamp_micros(), stream, continued, text);
    }

    /// Adds a record stamped `micros` (since the epoch), or the previous record's time if that
    /// is later: readers binary-search by time, so time must never go backwards in a file.
    pub fn record_at(&mut self, micros: i64, stream: Stream, continued: bool, text: &[u8]) {
        let micros = self.last_micros.map_or(micros, |last| micros.max(last));
        if self.last_micros != Some(micros) {
            self.timestamp = format_micros(micros);
            self.last_micros = Some(micros);
        }
        push_record(&mut self.buf, &self.timestamp, stream, continued, text);
    }

    /// Writes the buffered records. On error they are dropped: the pipes must keep being
    /// drained (or the pod would block), and a full disk must not grow our memory.
    pub fn flush(&mut self) -> io::Result<()> {
        let result = self
            .out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush());
        self.buf.clear();
        result
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<(String, bool)> {
        let mut splitter = LineSplitter::new();
        let mut out = Vec::new();
        let mut emit = |text: &[u8], continued: bool| {
            out.push((String::from_utf8_lossy(text).into_owned(), continued))
        };
        for chunk in chunks {
            splitter.push(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        out
    }

    fn complete(lines: &[&str]) -> Vec<(String, bool)> {
        lines.iter().map(|l| (l.to_string(), false)).collect()
    }

    #[test]
    fn lines_across_chunks() {
        assert_eq!(
            split(&[b"a\nbc", b"d\n\ne"]),
            complete(&["a", "bcd", "", "e"])
        );
    }

    #[test]
    fn carriage_returns_end_lines_once() {
        assert_eq!(
            split(&[b"1%\r2%\r", b"\n3\r\n"]),
            complete(&["1%", "2%", "3"])
        );
        assert_eq!(split(&[b"x\r", b"y"]), complete(&["x", "y"]));
    }

    #[test]
    fn final_partial_line_is_kept() {
        assert_eq!(split(&[b"done"]), complete(&["done"]));
        assert_eq!(split(&[b"x\n"]), complete(&["x"]));
    }

    #[test]
    fn long_lines_split_into_continued_pieces() {
        let long = vec![b'x'; MAX_TEXT * 2 + 10];
        let mut with_newline = long.clone();
        with_newline.push(b'\n');
        for chunks in [vec![&with_newline[..]], with_newline.chunks(1000).collect()] {
            let pieces = split(&chunks);
            let lens: Vec<_> = pieces.iter().map(|(t, c)| (t.len(), *c)).collect();
            assert_eq!(lens, [(MAX_TEXT, true), (MAX_TEXT, true), (10, false)]);
        }
    }

    #[test]
    fn long_lines_do_not_split_characters() {
        let mut line = vec![b'a'; MAX_TEXT - 1];
        line.extend_from_slice("é".as_bytes()); // straddles the limit
        line.push(b'\n');
        let pieces = split(&[&line]);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].0.len(), MAX_TEXT - 1);
        assert_eq!(pieces[1], ("é".to_string(), false));
    }

    #[test]
    fn writer_stamps_monotonic_times() {
        let mut writer = LogWriter::new(Vec::new());
        writer.record_at(2_000_000, Stream::Stdout, false, b"late");
        writer.record_at(1_000_000, Stream::Stderr, false, b"clock stepped back");
        writer.flush().unwrap();
        assert_eq!(
            String::from_utf8(writer.get_ref().clone()).unwrap(),
            "1970-01-01T00:00:02.000000Z O late\n1970-01-01T00:00:02.000000Z E clock stepped back\n"
        );
    }
}
