//! What every handler can reach.

use std::sync::Arc;

use opendlc_core::Resources;
use opendlc_store::Store;

use crate::engine::EngineHandle;
use crate::layout::JobsDir;
use crate::tensorboards::Tensorboards;
use crate::webterminal::WebTerminals;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub engine: EngineHandle,
    /// The schedulable pool (CPU overcommitted).
    pub pool: Resources,
    pub jobs_dir: JobsDir,
    /// The user the caller acts as. Until access keys map to users, every caller is the admin.
    pub caller_id: Arc<str>,
    /// Turns true when the server shuts down: long-lived responses (log streams) end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// TensorBoard processes, their proxy's access check and share tokens.
    pub tensorboards: Arc<Tensorboards>,
    /// Web terminals: their URLs' tokens and sockets.
    pub web_terminals: Arc<WebTerminals>,
}
