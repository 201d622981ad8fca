//! The files of one pod incarnation's directory (`<data>/jobs/<job_id>/pods/<pod_uid>/`) and the
//! helpers that write them so that a reader never sees a half-written file.
//!
//! | file           | written by | when                                                        |
//! |----------------|------------|-------------------------------------------------------------|
//! | `spec.json`    | supervisor | before the shim starts (locked while a shim holds it)       |
//! | `started.json` | shim       | once the command runs                                       |
//! | `log`          | shim       | continuously (see [`crate::logs`] for the record format)    |
//! | `exit.json`    | shim       | after the command exited and the log is flushed (durable)   |
//! | `shim.log`     | shim       | the shim's own diagnostics, made at the first (most have none) |

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

pub const SPEC_FILE: &str = "spec.json";
pub const STARTED_FILE: &str = "started.json";
pub const EXIT_FILE: &str = "exit.json";
pub const LOG_FILE: &str = "log";
pub const SHIM_LOG_FILE: &str = "shim.log";
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Paths of the files in one pod directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDir(PathBuf);

impl PodDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn spec(&self) -> PathBuf {
        self.0.join(SPEC_FILE)
    }

    pub fn started(&self) -> PathBuf {
        self.0.join(STARTED_FILE)
    }

    pub fn exit(&self) -> PathBuf {
        self.0.join(EXIT_FILE)
    }

    pub fn log(&self) -> PathBuf {
        self.0.join(LOG_FILE)
    }

    pub fn shim_log(&self) -> PathBuf {
        self.0.join(SHIM_LOG_FILE)
    }

    /// The samples a shim takes of its own pod where the server cannot (see
    /// [`crate::metrics::pod_file`]).
    pub fn metrics(&self) -> PathBuf {
        self.0.join(METRICS_FILE)
    }
}

/// Whether a launch of this pod incarnation got as far as writing spec.json, after which a
/// shim may exist for it. After a server restart such a pod is re-attached, or launched again
/// only once [`lock_spec`] shows that no shim holds it: a shim that was just starting could
/// still write into the directory.
pub fn was_started(dir: &Path) -> bool {
    dir.join(SPEC_FILE).exists()
}

/// Takes the lock on the pod's spec.json that says its shim is (about to be) there, without
/// waiting: `None` when someone holds it. The supervisor takes it before it starts the shim
/// and hands the descriptor on as the shim's stdin, which the shim keeps open for its life
/// (the lock is the open file's, so it lasts while any process holds it). Whoever finds spec.json
/// without started.json after a crash can tell from it whether a shim is still coming: held,
/// one is; free, none is and none will be (the supervisor that took it is gone, and so is
/// every copy of the descriptor).
pub fn lock_spec(dir: &PodDir) -> io::Result<Option<File>> {
    let file = File::open(dir.spec())?;
    Ok(try_lock(&file)?.then_some(file))
}

/// Takes `file`'s exclusive lock (`flock`) without waiting: false when someone holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    match io::Error::last_os_error() {
        e if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        e => Err(e),
    }
}

/// How hard [`write_json_atomic`] works to make the file survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// tmp + rename: readers see the old file or the whole new one, and the file survives any
    /// process being killed (the page cache outlives processes). Costs microseconds.
    ProcessCrash,
    /// tmp + fsync + rename + fsync of the directory: survives a power loss too. Costs
    /// milliseconds on a real disk, so it is kept for the record nobody can recompute (the exit).
    PowerLoss,
}

/// Writes `value` as JSON to `path` so that readers never see a partial file.
pub fn write_json_atomic<T: Serialize>(
    path: &Path,
    value: &T,
    durability: Durability,
) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let tmp = tmp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        if durability == Durability::PowerLoss {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, path)?;
        if durability == Durability::PowerLoss {
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a JSON file; `Ok(None)` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes a rename or a file creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens a file for appending, creating it if needed.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        write_json_atomic(&path, &vec![1, 2], Durability::ProcessCrash).unwrap();
        write_json_atomic(&path, &vec![3], Durability::PowerLoss).unwrap();
        assert_eq!(read_json::<Vec<i32>>(&path).unwrap(), Some(vec![3]));
        assert!(!dir.path().join("x.json.tmp").exists());
        assert_eq!(
            read_json::<Vec<i32>>(&dir.path().join("missing")).unwrap(),
            None
        );
    }
}
