//! What every handler can reach.

use std::sync::Arc;

use opendlc_core::Resources;
use opendlc_store::Store;

use crate::auth::Authenticator;
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
    /// The resource quotas (`ResourceId` → limits) of the capacity file.
    pub quotas: Arc<std::collections::BTreeMap<String, Resources>>,
    /// The pool's GPU models, for GPUType (`opendlc_core::resources::gpu_type_matches`).
    pub gpu_types: Arc<[String]>,
    /// The nodes pods may run on, for AssignNodeSpec: this host, or the Slurm cluster's.
    pub nodes: Arc<[String]>,
    /// What capacity costs here, if the capacity file says (spot limits, ListEcsSpecs).
    pub prices: Option<opendlc_core::prices::Prices>,
    /// How much of the pool spot jobs may hold (the pool when not limited).
    pub spot_limit: Resources,
    pub jobs_dir: JobsDir,
    /// The data directory (configuration files such as `images.yaml` live there).
    pub data_dir: std::path::PathBuf,
    /// When this server started.
    pub started: opendlc_core::time::Millis,
    /// Checks signatures and share tokens, and limits request rates.
    pub auth: Arc<Authenticator>,
    /// Turns true when the server shuts down: long-lived responses (log streams) end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// TensorBoard processes, their proxy's access check and share tokens.
    pub tensorboards: Arc<Tensorboards>,
    /// Web terminals: their URLs' tokens and sockets.
    pub web_terminals: Arc<WebTerminals>,
    /// Whether pods run on Slurm (`--runtime slurm`): only then is a SlurmJob accepted.
    pub on_slurm: bool,
    /// GetJob's `ClusterId`: the Slurm cluster's name, or this host's for the local runtime.
    pub cluster_id: String,
    /// Whether pods get a view of their own (what `SharedMemory` and pod names need).
    pub pods_have_own_view: bool,
    /// `http`, or `https` when the server speaks TLS: the scheme of the links it hands out.
    pub scheme: &'static str,
    /// The followed log streams at work.
    pub log_streams: crate::handlers::LogStreams,
}
