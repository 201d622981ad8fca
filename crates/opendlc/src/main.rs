//! The `opendlc` binary: parses arguments and hands over to the library crates.

mod admin;
mod allocator;

#[global_allocator]
static ALLOCATOR: allocator::ByRole = allocator::ByRole;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

/// opendlc: a self-hosted PAI-DLC (API 2020-12-03) — submit, run and watch distributed training jobs.
#[derive(Parser)]
#[command(name = "opendlc", version, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: opendlc_cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  opendlc serve                                   # the server, on 127.0.0.1:8080
  opendlc submit pytorchjob --name demo --workers 2 --command 'echo $RANK' --follow
  opendlc jobs
  opendlc logs JOB -f

Exit codes: 0 success; 1 an API, usage or connection error; `wait` (and `submit --wait`):
2 Failed, 3 Stopped, 4 gave up. See docs/CLI.md.";

#[derive(Subcommand)]
enum Command {
    /// Run the server: the PAI-DLC API, the scheduler and the local runtime.
    #[command(after_help = "Examples:
  opendlc serve
  opendlc serve --listen 0.0.0.0:8080 --data-dir /srv/opendlc
  opendlc serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem")]
    Serve(Box<ServeArgs>),
    /// Manage users, access keys and workspaces (on the server's data directory).
    Admin(admin::AdminArgs),
    /// Supervise one pod (started by the server; not meant to be run by hand).
    #[command(hide = true)]
    Shim {
        /// The pod incarnation's directory, holding spec.json.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Run a pod's sanity check (started by the server; not meant to be run by hand).
    #[command(hide = true)]
    SanityCheck {
        /// The check plan (JSON) the server wrote.
        #[arg(long)]
        plan: PathBuf,
        /// Where to write the results (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// An MPIJob Worker pod: runs what the Launcher's mpirun starts in it (started by the
    /// server; not meant to be run by hand).
    #[command(hide = true)]
    MpiWorker {
        /// The job's MPI directory, where the pod's socket is.
        #[arg(long)]
        dir: PathBuf,
        /// The pod's name, as the hostfile lists it.
        #[arg(long)]
        name: String,
    },
    /// Open MPI's remote shell into a Worker pod (OMPI_MCA_plm_rsh_agent; run by mpirun).
    #[command(hide = true)]
    MpiRsh {
        /// The job's MPI directory.
        #[arg(long)]
        dir: PathBuf,
        /// The Worker pod, as the hostfile lists it.
        host: String,
        /// The command to run there.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Starts one MPI rank inside its Worker pod (OMPI_MCA_orte_fork_agent; run by orted).
    #[command(hide = true)]
    MpiRank {
        /// The rank's program and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        argv: Vec<std::ffi::OsString>,
    },
    /// Install a job's ThirdpartyLibs into its venv before a pod's command (started by the
    /// server; not meant to be run by hand).
    #[command(hide = true)]
    PrepareEnv {
        /// The job's environment directory (plan.json, venv).
        #[arg(long)]
        dir: PathBuf,
        /// The file to write once the environment is ready.
        #[arg(long)]
        ready: PathBuf,
    },
    /// Run a pod's command with the job's DataSources and CodeSource mounted (started by the
    /// server; not meant to be run by hand).
    #[command(hide = true)]
    RunMounted {
        /// The mounts (JSON) the server wrote, or a pod's spec.json holding its view.
        #[arg(long)]
        mounts: PathBuf,
        /// The command, for /bin/sh -c.
        command: String,
    },
    /// Run a pod's command with its init containers, sidecars and lifecycle hooks (started by
    /// the server; not meant to be run by hand).
    #[command(hide = true)]
    RunContainers {
        /// The pod's containers (JSON) the server wrote.
        #[arg(long)]
        spec: PathBuf,
    },
    #[command(flatten)]
    Client(Box<opendlc_cli::Command>),
    /// Print shell completions: `opendlc completions bash > /etc/bash_completion.d/opendlc`.
    #[command(after_help = "Examples:
  opendlc completions bash > ~/.local/share/bash-completion/completions/opendlc
  opendlc completions zsh > ~/.zfunc/_opendlc
  opendlc completions fish > ~/.config/fish/completions/opendlc.fish")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "OPENDLC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first); needs
    /// --tls-key. Without it the server speaks plain HTTP, which carries signatures, job
    /// secrets and share tokens in clear (docs/SECURITY.md, "TLS").
    #[arg(
        long,
        env = "OPENDLC_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(
        long,
        env = "OPENDLC_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Where jobs, logs and credentials are kept [default: ~/.opendlc/data].
    #[arg(long, env = "OPENDLC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// CPU requests are accounted against the host's cores times this factor (CPU is time-shared).
    #[arg(long, env = "OPENDLC_CPU_OVERCOMMIT", default_value_t = opendlc_server::DEFAULT_CPU_OVERCOMMIT)]
    cpu_overcommit: f64,
    /// Seconds between two metric samples of every running pod (GetJobMetrics).
    #[arg(long, env = "OPENDLC_METRICS_INTERVAL", default_value_t = 5.0)]
    metrics_interval: f64,
    /// Days metric samples are kept.
    #[arg(long, env = "OPENDLC_METRICS_RETENTION_DAYS", default_value_t = 7.0)]
    metrics_retention_days: f64,
    /// The `tensorboard` executable TensorBoards run (`pip install tensorboard`).
    #[arg(long, env = "OPENDLC_TENSORBOARD", default_value = "tensorboard")]
    tensorboard: PathBuf,
    /// Requests per second allowed per access key (bursts of twice that); excess requests get
    /// 429 Throttling. 0 turns the limit off.
    #[arg(long, env = "OPENDLC_RATE_LIMIT", default_value_t = opendlc_server::DEFAULT_RATE_LIMIT)]
    rate_limit: f64,
    /// Serve requests signed with the legacy HMAC-SHA1 scheme (`signature_algorithm="v2"`,
    /// which has no body hash): `accept` or `refuse`. The choice is kept in the data directory;
    /// without one, a new data directory refuses and an older one accepts (docs/SECURITY.md).
    #[arg(long, env = "OPENDLC_LEGACY_SIGNATURES", value_enum)]
    legacy_signatures: Option<LegacyChoice>,
    /// A YAML file declaring the pool (virtual GPUs included), resource quotas by ResourceId
    /// and preemption; see docs/SCHEDULER.md. Default: this host, no quotas, no preemption.
    #[arg(long, env = "OPENDLC_CAPACITY", value_name = "FILE")]
    capacity: Option<PathBuf>,
    /// Run pods whose JobSpec has an Image in it, with this container engine (`podman`);
    /// see docs/JOB_TYPES.md. Default: every pod runs on the host, its image only recorded.
    #[arg(long, env = "OPENDLC_CONTAINER_ENGINE", value_name = "PROGRAM")]
    container_engine: Option<PathBuf>,
    /// Where pods run: `local` (processes on this host) or `slurm` (one Slurm job per job's
    /// pods, submitted with the Slurm commands on this host; see docs/SLURM.md).
    #[arg(long, env = "OPENDLC_RUNTIME", value_enum, default_value_t = RuntimeKind::Local)]
    runtime: RuntimeKind,
    /// Slurm: the partition jobs go to, unless --slurm-resource maps their ResourceId.
    #[arg(long, env = "OPENDLC_SLURM_PARTITION")]
    slurm_partition: Option<String>,
    /// Slurm: the account jobs are charged to (`--account`).
    #[arg(long, env = "OPENDLC_SLURM_ACCOUNT")]
    slurm_account: Option<String>,
    /// Slurm: the QOS of jobs (`--qos`).
    #[arg(long, env = "OPENDLC_SLURM_QOS")]
    slurm_qos: Option<String>,
    /// Slurm: where jobs of one ResourceId go, as `RESOURCE_ID=PARTITION[:ACCOUNT[:QOS]]`
    /// (repeatable).
    #[arg(long, value_name = "ID=PARTITION[:ACCOUNT[:QOS]]")]
    slurm_resource: Vec<String>,
    /// Job files (pod specs, logs, exit records) go here instead of the data directory: under
    /// Slurm, a directory every node sees at the same path.
    #[arg(long, env = "OPENDLC_SHARED_DIR")]
    shared_dir: Option<PathBuf>,
    /// Pods run as their owner's own Unix identity and see only their job of this server's
    /// files (docs/SECURITY.md): `auto` when the server runs as root on the local runtime.
    #[arg(long, env = "OPENDLC_POD_ISOLATION", value_enum, default_value_t = Isolation::Auto)]
    pod_isolation: Isolation,
    /// Pods of user N run as uid = gid = this + N.
    #[arg(long, env = "OPENDLC_POD_UID_BASE", default_value_t = opendlc_server::DEFAULT_UID_BASE)]
    pod_uid_base: u32,
    /// A path pods may read although it lies in a directory they do not see (a framework
    /// installed under a home directory, say); repeatable, or `:`-separated in the variable.
    #[arg(
        long,
        env = "OPENDLC_POD_READABLE",
        value_delimiter = ':',
        value_name = "PATH"
    )]
    pod_readable: Vec<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Isolation {
    Auto,
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LegacyChoice {
    Accept,
    Refuse,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeKind {
    Local,
    Slurm,
}

/// The steps the server starts for every pod (`shim`, `run-mounted`, and the `shim-launcher`
/// that forks shims), read without building
/// the whole command line interface: they run once per pod, and setting up every subcommand's
/// parser is most of their start-up time. Only the exact forms the server writes take this
/// way; anything else goes through the parser, which says what is wrong.
fn pod_step() -> Option<i32> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match args.as_slice() {
        [step] if step == "shim-launcher" => {
            use std::os::fd::FromRawFd;
            // SAFETY: the launcher is started with its socket as stdin, which nothing else
            // in this process owns.
            let socket = unsafe { std::os::fd::OwnedFd::from_raw_fd(0) };
            Some(opendlc_runtime::pod::shim::launcher::run(socket))
        }
        [step, flag, dir] if step == "shim" && flag == "--dir" => {
            Some(opendlc_runtime::pod::shim::run(std::path::Path::new(dir)))
        }
        [step, flag, mounts, command]
            if step == "run-mounted"
                && flag == "--mounts"
                && !command.as_encoded_bytes().starts_with(b"-") =>
        {
            let command = command.to_str()?;
            Some(opendlc_runtime::pod::mounts::main(
                std::path::Path::new(mounts),
                command,
            ))
        }
        _ => None,
    }
}

fn main() -> anyhow::Result<()> {
    if let Some(code) = pod_step() {
        std::process::exit(code);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit 1, so that `wait`'s 2 always means Failed.
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match cli.command {
        Command::Shim { dir } => std::process::exit(opendlc_runtime::pod::shim::run(&dir)),
        Command::Serve(args) => serve(*args),
        Command::SanityCheck { plan, out } => {
            std::process::exit(opendlc_runtime::pod::sanity::main(&plan, &out))
        }
        Command::MpiWorker { dir, name } => {
            let program = std::env::current_exe().context("failed to locate the opendlc binary")?;
            std::process::exit(opendlc_runtime::pod::mpi::worker::main(
                &dir, &name, &program,
            ))
        }
        Command::MpiRsh { dir, host, command } => {
            std::process::exit(opendlc_runtime::pod::mpi::rsh::main(&dir, &host, &command))
        }
        Command::MpiRank { argv } => {
            std::process::exit(opendlc_runtime::pod::mpi::rank::main(&argv))
        }
        Command::PrepareEnv { dir, ready } => {
            std::process::exit(opendlc_runtime::pod::prepare::main(&dir, &ready))
        }
        Command::RunMounted { mounts, command } => {
            std::process::exit(opendlc_runtime::pod::mounts::main(&mounts, &command))
        }
        Command::RunContainers { spec } => {
            std::process::exit(opendlc_runtime::pod::containers::main(&spec))
        }
        Command::Admin(args) => admin::run(args, default_data_dir),
        Command::Client(command) => std::process::exit(opendlc_cli::run(cli.global, *command)),
        Command::Completions { shell } => {
            opendlc_cli::completions(shell, &mut Cli::command());
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPENDLC_LOG")
                .unwrap_or_else(|_| "opendlc=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: a log redirected to a file stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let shim_program = std::env::current_exe().context("failed to locate the opendlc binary")?;
    let mut config = opendlc_server::Config::new(args.listen, data_dir, shim_program);
    config.cpu_overcommit = args.cpu_overcommit;
    config.tensorboard_program = args.tensorboard;
    config.metrics = opendlc_server::SamplerConfig {
        interval: positive_seconds(args.metrics_interval, "--metrics-interval")?,
        retention: positive_seconds(
            args.metrics_retention_days * 86_400.0,
            "--metrics-retention-days",
        )?,
    };
    config.rate_limit = args.rate_limit;
    config.tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(opendlc_server::TlsFiles { cert, key }),
        _ => None,
    };
    config.legacy_signatures = args.legacy_signatures.map(|choice| match choice {
        LegacyChoice::Accept => opendlc_server::LegacySignatures::Accept,
        LegacyChoice::Refuse => opendlc_server::LegacySignatures::Refuse,
    });
    config.capacity_file = args.capacity;
    config.container_engine = args.container_engine;
    config.shared_dir = args.shared_dir;
    config.pod_isolation = opendlc_server::PodIsolation {
        enabled: (args.pod_isolation == Isolation::Off).then_some(false),
        uid_base: args.pod_uid_base,
        readable: args.pod_readable,
    };
    if args.runtime == RuntimeKind::Slurm {
        let mut resources = std::collections::HashMap::new();
        for entry in &args.slurm_resource {
            let Some((id, target)) = entry.split_once('=') else {
                anyhow::bail!(
                    "--slurm-resource {entry:?} must be RESOURCE_ID=PARTITION[:ACCOUNT[:QOS]]"
                );
            };
            resources.insert(
                id.trim().to_string(),
                opendlc_runtime::slurm::SlurmTarget::parse(target),
            );
        }
        config.slurm = Some(opendlc_runtime::slurm::SlurmConfig {
            shim_program: config.shim_program.clone(),
            partition: args.slurm_partition,
            account: args.slurm_account,
            qos: args.slurm_qos,
            resources,
            file_poll: std::time::Duration::from_millis(10),
            // Starts and ends come from the pod files; squeue only tells why a job waits and
            // whether one ended without its pods: every 2 s keeps slurmctld unburdened.
            state_poll: std::time::Duration::from_secs(2),
            // Set by the server from --metrics-interval.
            sample_every: None,
        });
    }
    // The server's threads come before the pods' processes when the host is busy: this one,
    // and with it the threads it starts (the engine's, CreateJob's intake), every thread of the
    // runtime, and the session's group (a pod's shim takes back the usual priority: pods do not
    // inherit this).
    opendlc_runtime::priority::raise_this_thread();
    let _raised = opendlc_runtime::priority::raise_session();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(opendlc_runtime::priority::raise_this_thread)
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        opendlc_server::run(config, shutdown).await
    })
}

fn positive_seconds(seconds: f64, flag: &str) -> anyhow::Result<std::time::Duration> {
    if !(seconds.is_finite() && seconds >= 0.1) {
        anyhow::bail!("{flag} must be a positive number of at least 0.1 s");
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".opendlc").join("data"))
}

/// Resolves on SIGINT or SIGTERM: the server stops accepting requests; pods keep running. The
/// handlers are installed here, before the server says where it listens: a signal sent once it
/// has is a clean stop, never the default's death (which left the session's group raised).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = term.recv() => {}
        }
    })
}
