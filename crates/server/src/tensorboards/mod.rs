//! TensorBoards: real `tensorboard` processes, one per Running TensorBoard, each started in a
//! session of its own (so it outlives a server restart) and served through the server's proxy
//! at `/tensorboard/<TensorboardId>/` (tensorboard's `--path_prefix`).
//!
//! - [`process`]: starting, probing and stopping the processes.
//! - [`monitor`]: the background task: Creating → Running once the process answers HTTP,
//!   Failed/Succeeded when it exits, Stopped past MaxRunningTimeMinutes; re-adopts (or restarts)
//!   the processes of an earlier server at start.
//! - [`limits`]: the cgroup that holds its process to its `Cpu` and `Memory`.
//! - [`access`]: who may open a TensorBoard through the proxy.
//! - [`proxy`]: the reverse proxy.

pub mod access;
mod limits;
mod monitor;
mod process;
pub mod proxy;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use opendlc_core::tensorboard::{Tensorboard, TensorboardStatus};
use opendlc_core::time::now_millis;
use opendlc_store::{Store, TensorboardUpdate};

use crate::auth::token::TokenKey;

pub use monitor::{recover, spawn as spawn_monitor};

/// The program run when none is configured (found on PATH).
pub const DEFAULT_PROGRAM: &str = "tensorboard";
/// The reason code of a TensorBoard that could not start because tensorboard is missing.
pub const NOT_INSTALLED: &str = "TensorboardNotInstalled";

pub struct Tensorboards {
    pub store: Arc<Store>,
    /// The `tensorboard` executable.
    pub program: PathBuf,
    /// The length of a minute of MaxRunningTimeMinutes, in ms (injectable for tests).
    pub minute_ms: i64,
    /// `<data-dir>/tensorboards`: one directory per TensorBoard, with its process's log.
    pub dir: PathBuf,
    /// What TensorboardUrl starts with: `http://host:port` (`https://` with TLS).
    pub base_url: String,
    pub token_key: TokenKey,
    /// Stops guessing of the HTTP Basic credentials the proxy takes.
    pub basic: Arc<crate::auth::basic::BasicGuard>,
    /// Processes this server started (to reap them and read their exit status).
    children: Mutex<HashMap<String, std::process::Child>>,
    /// Serialises status changes between the handlers and the monitor.
    pub lock: tokio::sync::Mutex<()>,
    pub http: reqwest::Client,
    /// With pod isolation: each tensorboard runs as its creator, in a view of their own (like
    /// their pods), through this opendlc binary's `run-mounted`.
    pub isolation: Option<(crate::engine::Isolation, PathBuf)>,
    /// Whether `Cpu` and `Memory` limit the process (the capacity file's `pod_limits`).
    pub process_limits: bool,
}

impl Tensorboards {
    pub fn new(
        store: Arc<Store>,
        program: PathBuf,
        minute: std::time::Duration,
        dir: PathBuf,
        base_url: String,
        token_key: TokenKey,
        basic: Arc<crate::auth::basic::BasicGuard>,
    ) -> Tensorboards {
        Tensorboards {
            store,
            program,
            minute_ms: minute.as_millis() as i64,
            dir,
            base_url,
            token_key,
            basic,
            children: Mutex::new(HashMap::new()),
            lock: tokio::sync::Mutex::new(()),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client without TLS builds"),
            isolation: None,
            process_limits: true,
        }
    }

    /// `http://host:port/tensorboard/<id>/`: stable for the TensorBoard's whole life.
    pub fn url(&self, id: &str) -> String {
        format!("{}{}/", self.base_url, proxy::prefix(id))
    }

    /// Starts the process of `tb` and records it (Creating, or Failed with the reason). Call
    /// with `lock` held.
    pub fn launch(&self, tb: &Tensorboard) -> Result<TensorboardStatus, opendlc_store::StoreError> {
        let now = now_millis();
        let update = match process::spawn(self, tb) {
            Ok(process::Started {
                child,
                port,
                limits,
            }) => {
                let pid = child.id();
                self.children
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(tb.tensorboard_id.clone(), child);
                tracing::info!(tensorboard.id = %tb.tensorboard_id, pid, port, "tensorboard started");
                TensorboardUpdate {
                    status: TensorboardStatus::Creating,
                    reason_code: Some("TensorboardCreating".into()),
                    reason_message: Some(match limits {
                        Some(limits) => format!("tensorboard is starting (pid {pid}; {limits})."),
                        None => format!("tensorboard is starting (pid {pid})."),
                    }),
                    port: Some(port),
                    pid: Some(pid),
                    started: Some(now),
                    finished: None,
                    at: now,
                }
            }
            Err(failure) => {
                tracing::warn!(tensorboard.id = %tb.tensorboard_id, "{}", failure.message);
                TensorboardUpdate {
                    status: TensorboardStatus::Failed,
                    reason_code: Some(failure.code.into()),
                    reason_message: Some(failure.message),
                    port: None,
                    pid: None,
                    started: Some(now),
                    finished: Some(now),
                    at: now,
                }
            }
        };
        self.store
            .update_tensorboard_status(&tb.tensorboard_id, &update)?;
        Ok(update.status)
    }

    /// Stops the process of `tb` (SIGTERM to its group, SIGKILL after a grace period, in the
    /// background) and records `status`. Call with `lock` held.
    pub fn terminate(
        &self,
        tb: &Tensorboard,
        status: TensorboardStatus,
        reason_code: &str,
        reason_message: String,
    ) -> Result<(), opendlc_store::StoreError> {
        let now = now_millis();
        let child = self
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tb.tensorboard_id);
        match tb.pid {
            Some(pid) => process::stop(&self.dir, &tb.tensorboard_id, pid, child),
            None => limits::release(&self.dir, &tb.tensorboard_id),
        }
        self.store.update_tensorboard_status(
            &tb.tensorboard_id,
            &TensorboardUpdate {
                status,
                reason_code: Some(reason_code.into()),
                reason_message: Some(reason_message),
                port: None,
                pid: None,
                started: None,
                finished: Some(now),
                at: now,
            },
        )?;
        Ok(())
    }

    /// Whether the process of `tb` still runs; `Some(exit code)` once it ended (`None` inside
    /// when it ended while another server owned it).
    fn exited(&self, tb: &Tensorboard) -> Option<Option<i32>> {
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(child) = children.get_mut(&tb.tensorboard_id) {
            return match child.try_wait() {
                Ok(None) => None,
                Ok(Some(status)) => {
                    children.remove(&tb.tensorboard_id);
                    Some(status.code())
                }
                Err(_) => Some(None),
            };
        }
        match tb.pid {
            Some(pid) if process::is_ours(pid, &tb.tensorboard_id) => None,
            _ => Some(None),
        }
    }
}
