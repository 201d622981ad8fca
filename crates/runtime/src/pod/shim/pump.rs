//! Copying a command's stdout and stderr into its log, records interleaved in arrival order:
//! - [`PolledPumps`], the shim's: its one thread polls the pipes beside its signals, so a pod
//!   costs no thread of its own (their start and end were a tenth of a short pod's cost);
//! - [`Pumps`], for the containers of `run-containers`: one thread per pipe, both writing to
//!   the one file under a mutex.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::logs::{LineSplitter, LogWriter, Stream};

struct SharedLog {
    out: LogOut,
    /// Set once the log is final (exit.json follows): a straggler thread must not add to it.
    closed: bool,
}

pub(crate) struct Pumps {
    log: Arc<Mutex<SharedLog>>,
    finished: Receiver<()>,
    running: usize,
}

impl Pumps {
    pub fn start(log: File, pipes: [(Stream, Box<dyn Read + Send>); 2]) -> io::Result<Self> {
        let log = Arc::new(Mutex::new(SharedLog {
            out: LogOut::new(log),
            closed: false,
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
        log.out.close()
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
        copy(&mut log.out, &mut splitter, stream, Some(&buf[..n]));
    }
    let mut log = lock(log);
    if !log.closed {
        copy(&mut log.out, &mut splitter, stream, None);
    }
}

/// The log file and whether its last write failed.
struct LogOut {
    writer: LogWriter<File>,
    write_failed: bool,
}

impl LogOut {
    fn new(log: File) -> Self {
        Self {
            writer: LogWriter::new(log),
            write_failed: false,
        }
    }

    /// Writes what is buffered and makes it durable: the log is final. An empty log has nothing
    /// to make durable (a reader takes a missing log for an empty one).
    fn close(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        let log = self.writer.get_ref();
        if log.metadata()?.len() == 0 {
            return Ok(());
        }
        log.sync_all()
    }
}

/// Records what one read of a pipe gave (`None`: its end, with the line left unfinished) and
/// writes it at once: one write per read, so lines reach readers without a syscall per line.
fn copy(out: &mut LogOut, splitter: &mut LineSplitter, stream: Stream, read: Option<&[u8]>) {
    let writer = &mut out.writer;
    let mut record = |text: &[u8], continued| writer.record(stream, continued, text);
    match read {
        Some(bytes) => splitter.push(bytes, &mut record),
        None => splitter.finish(&mut record),
    }
    match out.writer.flush() {
        Ok(()) => out.write_failed = false,
        // Reported once per run of failures (a full disk would otherwise flood shim.log).
        Err(e) if !out.write_failed => {
            out.write_failed = true;
            super::diag(format_args!(
                "failed to write the pod log (output is dropped): {e}"
            ));
        }
        Err(_) => {}
    }
}

/// What the polled pipes are first read with: a page, which is all a short pod's output
/// needs (most say nothing), where a buffer of [`LARGE_READ`] made for each was the most
/// memory a short pod's shim wrote (16 pages, each a fault).
const FIRST_READ: usize = 4 * 1024;
/// What they are read with once a read has filled [`FIRST_READ`].
const LARGE_READ: usize = 64 * 1024;

/// One of the command's pipes, read when the shim's poll says it is readable.
struct PolledPipe {
    pipe: File,
    stream: Stream,
    splitter: LineSplitter,
}

/// The command's stdout and stderr, copied by the thread that polls them
/// ([`super::supervise`]).
pub(crate) struct PolledPumps {
    out: LogOut,
    /// The pipes not at their end yet.
    pipes: Vec<PolledPipe>,
    buf: Vec<u8>,
}

impl PolledPumps {
    pub fn new(log: File, pipes: [(Stream, OwnedFd); 2]) -> io::Result<Self> {
        let pipes = pipes
            .into_iter()
            .map(|(stream, pipe)| {
                // Read until it has nothing more, never blocking the shim's one thread.
                use nix::fcntl::{fcntl, FcntlArg, OFlag};
                let flags = fcntl(pipe.as_raw_fd(), FcntlArg::F_GETFL)?;
                let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
                fcntl(pipe.as_raw_fd(), FcntlArg::F_SETFL(flags))?;
                Ok(PolledPipe {
                    pipe: File::from(pipe),
                    stream,
                    splitter: LineSplitter::new(),
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(Self {
            out: LogOut::new(log),
            pipes,
            buf: vec![0; FIRST_READ],
        })
    }

    /// The pipes to poll, in the order [`Self::copy_ready`] takes their readiness.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.pipes.iter().map(|p| p.pipe.as_fd()).collect()
    }

    /// Copies what the pipes that polled ready (`ready[i]` for `fds()[i]`) hold; a pipe at its
    /// end is done with.
    pub fn copy_ready(&mut self, ready: &[bool]) {
        let mut i = 0;
        self.pipes.retain_mut(|pipe| {
            let ready = ready.get(i).copied().unwrap_or(false);
            i += 1;
            !ready || Self::copy_pipe(&mut self.out, pipe, &mut self.buf)
        });
    }

    /// Reads the pipe until it has nothing more; returns whether it is still open.
    fn copy_pipe(out: &mut LogOut, pipe: &mut PolledPipe, buf: &mut Vec<u8>) -> bool {
        loop {
            match pipe.pipe.read(buf) {
                Ok(0) => {
                    copy(out, &mut pipe.splitter, pipe.stream, None);
                    return false;
                }
                Ok(n) => {
                    copy(out, &mut pipe.splitter, pipe.stream, Some(&buf[..n]));
                    // A command with much to say is read in larger pieces.
                    if n == buf.len() && n < LARGE_READ {
                        buf.resize(LARGE_READ, 0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) => {
                    super::diag(format_args!(
                        "failed to read the command's {:?}: {e}",
                        pipe.stream
                    ));
                    copy(out, &mut pipe.splitter, pipe.stream, None);
                    return false;
                }
            }
        }
    }

    /// Copies the pipes to their end (once every process holding them has exited), waiting
    /// at most `timeout`, then makes the log durable. A process that escaped the pod and still
    /// holds a pipe cannot keep the pod from finishing.
    pub fn finish(mut self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        while !self.pipes.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                super::diag(format_args!(
                    "gave up waiting for {} output pipe(s) to close",
                    self.pipes.len()
                ));
                break;
            }
            let ready = poll_ready(&self.fds(), Some(left))?;
            self.copy_ready(&ready);
        }
        self.out.close()
    }
}

/// Polls `fds` for input (a closed write end counts) for at most `timeout` (`None`: no
/// limit); says which are ready.
pub(crate) fn poll_ready(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> nix::Result<Vec<bool>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let timeout = match timeout {
        // Rounded up, so a deadline 0.3 ms away is not a busy loop of zero-timeout polls.
        Some(t) => PollTimeout::try_from(t.as_micros().div_ceil(1000)).unwrap_or(PollTimeout::MAX),
        None => PollTimeout::NONE,
    };
    let mut polled: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    match poll(&mut polled, timeout) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
        Err(e) => return Err(e),
    }
    Ok(polled.iter().map(|p| p.any().unwrap_or(false)).collect())
}

/// A poisoned lock only means another pump panicked mid-write; the log is still usable.
fn lock(log: &Mutex<SharedLog>) -> MutexGuard<'_, SharedLog> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
