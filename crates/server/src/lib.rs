//! The opendlc server: the PAI-DLC API over HTTP, the engine that runs jobs, and start-up.
//!
//! [`Server::bind`] prepares everything (data directory, admin key, store, engine recovery)
//! and binds the listener; [`Server::serve`] answers requests until shutdown. Tests use the
//! two in-process on `127.0.0.1:0`; the binary calls [`run`].

pub mod admin;
mod auth;
mod bootstrap;
pub mod capacity;
mod checkpoints;
mod console;
mod dashboard;
mod engine;
mod handlers;
mod http;
mod layout;
mod metrics;
mod net;
mod proxy;
mod ray_dashboard;
mod services;
mod sources;
mod state;
mod tensorboards;
mod views;
mod webterminal;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use opendlc_core::capacity::HostCapacity;
use opendlc_runtime::slurm::SlurmConfig;
use opendlc_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth::LegacySignatures;
pub use bootstrap::{AccessKey, KeySource, CREDENTIALS_FILE};
pub use engine::{DEFAULT_GRACE_PERIOD, DEFAULT_UID_BASE};
pub use handlers::LogStreams;
pub use http::MAX_BODY_BYTES;
pub use metrics::SamplerConfig;
pub use net::{open_files_limit, ConnectionLimits, NetConfig, TlsError, TlsFiles};
pub use opendlc_core::capacity::DEFAULT_CPU_OVERCOMMIT;

/// Requests per second per access key unless configured: far above what people and scripts
/// send, low enough to stop a runaway loop from starving everyone else.
pub const DEFAULT_RATE_LIMIT: f64 = 500.0;

use crate::auth::{Authenticator, RateLimit};
use crate::engine::EngineConfig;
use crate::layout::JobsDir;
use crate::state::AppState;
use crate::tensorboards::Tensorboards;

pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The program that runs `shim --dir DIR` for each pod (the opendlc binary itself).
    pub shim_program: PathBuf,
    /// CPU requests are accounted against host CPUs × this factor.
    pub cpu_overcommit: f64,
    /// How often running pods are sampled for GetJobMetrics, and how long samples are kept.
    pub metrics: SamplerConfig,
    /// The `tensorboard` executable TensorBoards run (default: `tensorboard` on PATH).
    pub tensorboard_program: PathBuf,
    /// How long a minute of the API's minute settings lasts (a TensorBoard's
    /// MaxRunningTimeMinutes, a job's JobReservedMinutes): 60 s; tests shorten it.
    pub minute: std::time::Duration,
    /// Requests per second allowed per access key (bursts of twice that); 0 turns it off.
    pub rate_limit: f64,
    /// The capacity file: the pool, quotas and preemption (docs/SCHEDULER.md).
    pub capacity_file: Option<PathBuf>,
    /// Run pods on Slurm (docs/SLURM.md) instead of this host.
    pub slurm: Option<SlurmConfig>,
    /// Where job files (pod specs, logs, exit records) live when not under the data
    /// directory: under Slurm, a directory every node sees at the same path.
    pub shared_dir: Option<PathBuf>,
    /// The container engine (`podman`) pods with an image run in; `None`: every pod runs on
    /// the host and its image is only recorded.
    pub container_engine: Option<PathBuf>,
    /// Whether the legacy HMAC-SHA1 signature is served; `None`: as this data directory
    /// recorded it, which for a new one is refuse and for one made before the choice existed
    /// is accept (docs/SECURITY.md). A value given is recorded for later starts.
    pub legacy_signatures: Option<LegacySignatures>,
    /// Timeouts and connection limits (docs/SECURITY.md).
    pub net: NetConfig,
    /// Serve HTTPS (and WSS, and the TensorBoard proxy over HTTPS) with this certificate and
    /// key; `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Whether pods run as their owners in a view of their own (docs/SECURITY.md).
    pub pod_isolation: PodIsolation,
}

/// How pods are isolated on the host (`engine::Isolation`).
#[derive(Debug, Clone)]
pub struct PodIsolation {
    /// `None`: on when the server runs as root on the local runtime, else off (said at start);
    /// `Some(false)`: off.
    pub enabled: Option<bool>,
    /// Pods of user N run as uid = gid = `uid_base` + N.
    pub uid_base: u32,
    /// Paths pods may read although they are in a hidden directory (framework installs).
    pub readable: Vec<PathBuf>,
}

impl Default for PodIsolation {
    fn default() -> Self {
        PodIsolation {
            enabled: None,
            uid_base: DEFAULT_UID_BASE,
            readable: Vec::new(),
        }
    }
}

impl Config {
    pub fn new(listen: SocketAddr, data_dir: PathBuf, shim_program: PathBuf) -> Self {
        Config {
            listen,
            data_dir,
            shim_program,
            cpu_overcommit: DEFAULT_CPU_OVERCOMMIT,
            metrics: SamplerConfig::default(),
            tensorboard_program: PathBuf::from(tensorboards::DEFAULT_PROGRAM),
            minute: std::time::Duration::from_secs(60),
            rate_limit: DEFAULT_RATE_LIMIT,
            capacity_file: None,
            slurm: None,
            shared_dir: None,
            container_engine: None,
            pod_isolation: PodIsolation::default(),
            legacy_signatures: None,
            net: NetConfig::default(),
            tls: None,
        }
    }
}

/// Whether pods run isolated, from the configuration and what the server can do; says so at
/// start when they cannot.
fn pod_isolation(config: &Config, data_dir: &std::path::Path) -> Option<engine::Isolation> {
    let wanted = &config.pod_isolation;
    if wanted.enabled == Some(false) {
        tracing::warn!(
            "pod isolation is off: every pod runs as this server's user and can read its data \
             directory, including other users' jobs (docs/SECURITY.md)"
        );
        return None;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let confinement = if config.slurm.is_some() {
        engine::Confinement::Account
    } else {
        engine::Confinement::Sandbox
    };
    let why = if !root {
        Some("the server is not root, so it cannot run pods as other users")
    } else if confinement == engine::Confinement::Sandbox && !can_make_mount_namespaces() {
        Some("this host refuses the server a private mount namespace (a container without CAP_SYS_ADMIN?)")
    } else {
        None
    };
    if let Some(why) = why {
        tracing::warn!(
            "POD ISOLATION IS OFF: {why}; every pod can read this server's data directory, \
             including other users' jobs and credentials. Share this server only with people \
             you trust (docs/SECURITY.md)"
        );
        return None;
    }
    let absolute = |p: &std::path::Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let mut server_dirs = vec![absolute(data_dir)];
    server_dirs.extend(config.shared_dir.as_deref().map(absolute));
    Some(engine::Isolation {
        confinement,
        uid_base: wanted.uid_base,
        server_dirs,
        readable: wanted.readable.iter().map(|p| absolute(p)).collect(),
    })
}

/// Whether a process of ours may enter a mount namespace of its own (what a pod's sandbox
/// needs): tried once, in a child that exits at once.
fn can_make_mount_namespaces() -> bool {
    use std::os::unix::process::CommandExt;
    let mut probe = std::process::Command::new("/bin/sh");
    probe.args(["-c", "exit 0"]);
    // SAFETY: unshare is a plain syscall; the child has one thread.
    unsafe {
        probe.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWNS) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    probe.status().is_ok_and(|s| s.success())
}

/// A server ready to serve: state recovered, listener bound.
pub struct Server {
    pub addr: SocketAddr,
    pub admin_key: AccessKey,
    pub key_source: KeySource,
    pub host: HostCapacity,
    pub data_dir: PathBuf,
    /// Whether the legacy HMAC-SHA1 signature is served.
    pub legacy_signatures: LegacySignatures,
    /// The followed log streams at work now.
    pub log_streams: LogStreams,
    net: NetConfig,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
    engine_task: tokio::task::JoinHandle<()>,
    sampler_task: tokio::task::JoinHandle<()>,
    checkpoint_task: tokio::task::JoinHandle<()>,
    tensorboard_task: tokio::task::JoinHandle<()>,
    /// Held while the server runs: one server per data directory.
    _data_dir_lock: std::fs::File,
}

impl Server {
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        // A bad certificate or key stops the start before anything else is touched.
        let tls = config.tls.as_ref().map(net::tls_acceptor).transpose()?;
        let (http, ws) = if tls.is_some() {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        let isolation = pod_isolation(&config, &config.data_dir);
        let data_dir = config.data_dir;
        let jobs_dir = match &config.shared_dir {
            Some(dir) => JobsDir::at(dir.join("jobs")),
            None => JobsDir::new(&data_dir),
        };
        for dir in [&data_dir, jobs_dir.root()] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        // Pods running as their owners' accounts reach their job's directory by its path.
        let pods_have_own_view = isolation
            .as_ref()
            .is_some_and(|i| i.confinement == engine::Confinement::Sandbox);
        let pods_pass = isolation
            .as_ref()
            .is_some_and(|i| i.confinement == engine::Confinement::Account);
        bootstrap::protect_data_dir(&data_dir, pods_pass && config.shared_dir.is_none())?;
        if pods_pass {
            let root = jobs_dir.root();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o711))
                .with_context(|| format!("failed to make {} mode 711", root.display()))?;
        }
        let data_dir_lock = bootstrap::lock_data_dir(&data_dir)?;
        let legacy_signatures = bootstrap::legacy_signatures(&data_dir, config.legacy_signatures)?;
        let (admin_key, key_source) = bootstrap::admin_key(&data_dir)?;
        let store = Arc::new(
            Store::open(&data_dir.join("opendlc.db")).context("failed to open the database")?,
        );
        bootstrap::ensure_identity(&store, &admin_key)
            .context("failed to set up the administrator and the default workspace")?;
        let token_key = bootstrap::token_key(&data_dir)?;
        let auth = Arc::new(Authenticator::new(
            store.clone(),
            token_key.clone(),
            RateLimit::per_second(config.rate_limit),
            legacy_signatures,
        ));
        let basic = Arc::new(auth::basic::BasicGuard::default());
        let host = HostCapacity::detect();
        let mut settings = capacity::load(
            config.capacity_file.as_deref(),
            &host,
            config.cpu_overcommit,
        )?;
        let on_slurm = config.slurm.is_some();
        let cluster_id = if on_slurm {
            opendlc_runtime::slurm::cli::cluster_name()
                .await
                .unwrap_or_else(|| "slurm".into())
        } else {
            node_name()
        };
        // The nodes AssignNodeSpec may name: this host, or the Slurm cluster's as it starts
        // (none known when sinfo fails: names are then left for Slurm to refuse).
        let nodes: Arc<[String]> = if on_slurm {
            opendlc_runtime::slurm::cli::nodes()
                .await
                .unwrap_or_default()
                .into()
        } else {
            vec![node_name()].into()
        };
        if on_slurm && config.capacity_file.is_none() {
            // Slurm places the pods: the opendlc scheduler admits every job and Slurm decides
            // when and where it runs (docs/SLURM.md). A capacity file still applies quotas.
            settings.capacity.pool = capacity::unlimited();
        }
        let pool = settings.capacity.pool;
        let quotas = Arc::new(settings.capacity.quotas.clone());
        let gpu_types: Arc<[String]> = settings.gpu_types.clone().into();
        let prices = settings.prices;
        let spot_limit = settings
            .capacity
            .spot_limit
            .unwrap_or(settings.capacity.pool);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut engine_shutdown_rx = shutdown_rx.clone();
        let engine_shutdown = async move {
            let _ = engine_shutdown_rx.wait_for(|stop| *stop).await;
        };
        let tb_isolation = isolation.clone();
        // Bound before the engine starts: a job's pods are told where the API is (their own
        // credentials). Connections wait in the backlog until the server serves them.
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("failed to listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (engine, engine_task) = engine::start(
            EngineConfig {
                store: store.clone(),
                shim_program: config.shim_program.clone(),
                jobs_dir: jobs_dir.clone(),
                data_dir: data_dir.clone(),
                minute: config.minute,
                capacity: settings.capacity,
                default_preemptible: settings.default_preemptible,
                pod_limits: settings.pod_limits,
                container_engine: config.container_engine,
                node_name: node_name(),
                // Pods on Slurm's nodes are sampled by their shims, at the server's interval.
                slurm: config.slurm.map(|slurm| SlurmConfig {
                    sample_every: Some(config.metrics.interval),
                    ..slurm
                }),
                clock: Arc::new(opendlc_core::time::SystemClock),
                isolation,
                api_url: format!("{http}://{}", reachable(addr)),
                nodes: nodes.clone(),
            },
            engine_shutdown,
        )
        .await
        .context("failed to recover the jobs of an earlier run")?;
        let sampler_task = metrics::spawn(
            store.clone(),
            config.metrics,
            node_name(),
            jobs_dir.clone(),
            shutdown_rx.clone(),
        );
        let mut tensorboards = Tensorboards::new(
            store.clone(),
            config.tensorboard_program,
            config.minute,
            data_dir.join("tensorboards"),
            format!("{http}://{}", reachable(addr)),
            token_key.clone(),
            basic.clone(),
        );
        tensorboards.isolation = tb_isolation.map(|i| (i, config.shim_program.clone()));
        tensorboards.process_limits = settings.pod_limits;
        let tensorboards = Arc::new(tensorboards);
        let web_terminals = Arc::new(webterminal::WebTerminals::new(
            store.clone(),
            jobs_dir.clone(),
            format!("{ws}://{}", reachable(addr)),
            token_key,
            config.shim_program.clone(),
            basic,
        ));
        tensorboards::recover(&tensorboards).await;
        let tensorboard_task =
            tensorboards::spawn_monitor(tensorboards.clone(), shutdown_rx.clone());
        let checkpoint_task = checkpoints::spawn(store.clone(), shutdown_rx.clone());
        let state = AppState {
            store,
            engine,
            pool,
            quotas,
            gpu_types,
            nodes,
            prices,
            spot_limit,
            jobs_dir,
            auth,
            data_dir: data_dir.clone(),
            started: opendlc_core::time::now_millis(),
            shutdown: shutdown_rx,
            tensorboards,
            web_terminals,
            on_slurm,
            cluster_id,
            pods_have_own_view,
            scheme: http,
            log_streams: LogStreams::default(),
        };
        Ok(Server {
            addr,
            admin_key,
            key_source,
            host,
            data_dir,
            legacy_signatures,
            log_streams: state.log_streams.clone(),
            net: config.net,
            listener,
            tls,
            state,
            shutdown_tx,
            engine_task,
            sampler_task,
            checkpoint_task,
            tensorboard_task,
            _data_dir_lock: data_dir_lock,
        })
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets requests in flight finish and
    /// stops the engine. Pods keep running: a later server re-attaches them.
    /// Where clients reach the server: `http://HOST:PORT`, or `https://…` with TLS.
    pub fn url(&self) -> String {
        format!("{}://{}", self.state.scheme, self.addr)
    }

    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let proxy = tensorboards::proxy::router(self.state.tensorboards.clone());
        let terminals = webterminal::socket::router(self.state.web_terminals.clone());
        let dashboard = dashboard::router(self.state.clone());
        let ray = ray_dashboard::router(self.state.clone());
        let services = services::router(self.state.clone());
        let app = console::router(http::router(self.state))
            .merge(proxy)
            .merge(terminals)
            .merge(dashboard)
            .merge(ray)
            .merge(services);
        let shutdown_tx = self.shutdown_tx;
        let stop = shutdown_tx.subscribe();
        tokio::spawn(async move {
            shutdown.await;
            let _ = shutdown_tx.send(true);
        });
        net::serve(self.listener, self.tls, app, self.net, stop).await;
        let _ = self.engine_task.await;
        let _ = self.sampler_task.await;
        let _ = self.tensorboard_task.await;
        let _ = self.checkpoint_task.await;
        Ok(())
    }
}

/// `opendlc serve`: bind, print where to reach the server, serve.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    let key = match &server.key_source {
        KeySource::Environment => format!(
            "{} (from OPENDLC_ACCESS_KEY_ID/SECRET)",
            server.admin_key.id
        ),
        KeySource::File(path) => format!("{} (secret in {})", server.admin_key.id, path.display()),
    };
    let pool = server.state.pool;
    println!(
        "opendlc {} serving the PAI-DLC API (2020-12-03) at {}\n  access key: {key}\n  data:       {}\n  pool:       {} CPU ({} cores, overcommitted), {} memory, {} GPU",
        env!("CARGO_PKG_VERSION"),
        server.url(),
        server.data_dir.display(),
        opendlc_core::resources::format_cpu(pool.cpu_milli),
        server.host.cpus,
        opendlc_core::resources::format_memory(pool.memory_mib),
        pool.gpu,
    );
    server.serve(shutdown).await
}

/// The address clients reach a listener on: a wildcard address becomes the loopback one.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
