//! Copying the command's stdout and stderr into the pod log: one thread per pipe, both writing
//! to the one file under a mutex so records interleave in arrival order.

use std::fs::File;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::logs::{LineSplitter, LogWriter, Stream};

struct SharedLog {
    writer: LogWriter<File>,
    /// Set once the log is final (exit.json follows): a straggler thread must not add to it.
    closed: bool,
    write_failed: bool,
}

pub(crate) struct Pumps {
    log: Arc<Mutex<SharedLog>>,
    finished: Receiver<()>,
    running: usize,
}

impl Pumps {
    pub fn start(log: File, pipes: [(Stream, Box<dyn Read + Send>); 2]) -> io::Result<Self> {
        let log = Arc::new(Mutex::new(SharedLog {
            writer: LogWriter::new(log),
            closed: false,
            write_failed: false,
        }));
        let (done, finished) = mpsc::channel();
        for (stream, pipe) in pipes {
            let log = Arc::clone(&log);
            let done = done.clone();
            thread::Builder::new()
                .name(format!("pump-{stream:?}").to_lowercase())
                // Small stacks: the threads only copy bytes.
                .stack_size(256 * 1024)
                .spawn(move || {
                    pump(pipe, stream, &log);
                    let _ = done.send(());
                })?;
        }
        Ok(Self {
            log,
            finished,
            running: 2,
        })
    }

    /// Waits (at most `timeout`) for both pipes to reach end-of-file, which happens once every
    /// process holding them has exited; then flushes the log to disk and closes it. A process
    /// that escaped the pod and still holds a pipe cannot keep the pod from finishing.
    pub fn finish(mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.finished.recv_timeout(left) {
                Ok(()) => self.running -= 1,
                Err(_) => {
                    super::diag(format_args!(
                        "gave up waiting for {} output pipe(s) to close",
                        self.running
                    ));
                    break;
                }
            }
        }
        let mut log = lock(&self.log);
        log.closed = true;
        log.writer.flush()?;
        log.writer.get_ref().sync_all()
    }
}

fn pump(mut pipe: Box<dyn Read + Send>, stream: Stream, log: &Mutex<SharedLog>) {
    let mut splitter = LineSplitter::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                super::diag(format_args!("failed to read the command's {stream:?}: {e}"));
                break;
            }
        };
        let mut log = lock(log);
        if log.closed {
            return;
        }
        let log = &mut *log;
        splitter.push(&buf[..n], &mut |text, continued| {
            log.writer.record(stream, continued, text)
        });
        // One write per pipe read: lines reach the file (and readers) at once, without a
        // syscall per line.
        flush(log);
    }
    let mut log = lock(log);
    if !log.closed {
        let log = &mut *log;
        splitter.finish(&mut |text, continued| log.writer.record(stream, continued, text));
        flush(log);
    }
}

fn flush(log: &mut SharedLog) {
    match log.writer.flush() {
        Ok(()) => log.write_failed = false,
        // Reported once per run of failures (a full disk would otherwise flood shim.log).
        Err(e) if !log.write_failed => {
            log.write_failed = true;
            super::diag(format_args!(
                "failed to write the pod log (output is dropped): {e}"
            ));
        }
        Err(_) => {}
    }
}

/// A poisoned lock only means another pump panicked mid-write; the log is still usable.
fn lock(log: &Mutex<SharedLog>) -> MutexGuard<'_, SharedLog> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
