//! Web terminals: a shell on a PTY in a pod's environment (its working directory and
//! variables), spoken to over a WebSocket at `/webterminal/<JobId>/<PodId>/<PodUid>?token=…`.
//!
//! - [`access`]: the URL's token (valid 30 s; single-use and credential-free when shared).
//! - [`pty`]: the shell on its pseudo-terminal.
//! - [`socket`]: the WebSocket route and its JSON protocol.

pub mod access;
mod pty;
pub mod socket;

use std::collections::HashMap;
use std::sync::Mutex;

use std::sync::Arc;

use opendlc_store::Store;

use crate::auth::token::TokenKey;
use crate::layout::JobsDir;

/// How long a GetWebTerminal URL can be opened.
pub const URL_VALID_SECONDS: i64 = 30;

pub struct WebTerminals {
    /// Where access keys are looked up.
    pub store: Arc<Store>,
    pub jobs_dir: JobsDir,
    /// What WebTerminalUrl starts with: `ws://host:port`.
    pub base_url: String,
    pub token_key: TokenKey,
    /// The opendlc binary: a shell in a sandboxed pod enters its sandbox through it.
    pub program: std::path::PathBuf,
    /// Stops guessing of the HTTP Basic credentials a terminal takes.
    pub basic: Arc<crate::auth::basic::BasicGuard>,
    /// The single-use tokens already used, until they expire (token id → expiry, seconds).
    used: Mutex<HashMap<String, i64>>,
}

impl WebTerminals {
    pub fn new(
        store: Arc<Store>,
        jobs_dir: JobsDir,
        base_url: String,
        token_key: TokenKey,
        program: std::path::PathBuf,
        basic: Arc<crate::auth::basic::BasicGuard>,
    ) -> WebTerminals {
        WebTerminals {
            store,
            jobs_dir,
            base_url,
            token_key,
            program,
            basic,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Marks a single-use token used; false if it already was.
    fn use_once(&self, jti: &str, exp: i64, now: i64) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.retain(|_, e| *e > now);
        used.insert(jti.to_string(), exp).is_none()
    }
}

/// The token target of one pod incarnation's terminal.
pub fn target_id(job_id: &str, pod_id: &str, pod_uid: &str) -> String {
    format!("{job_id}/{pod_id}/{pod_uid}")
}

pub fn target_path(job_id: &str, pod_id: &str, pod_uid: &str) -> String {
    format!("/webterminal/{job_id}/{pod_id}/{pod_uid}")
}
