//! What can go wrong in a client command, and the exit code each failure maps to.

use std::path::PathBuf;

/// Exit codes; `docs/CLI.md` lists them.
pub mod exit {
    /// The command did what was asked (`wait`: the job Succeeded).
    pub const OK: i32 = 0;
    /// An API error, a usage error, a connection or configuration problem.
    pub const ERROR: i32 = 1;
    /// `wait`: the job Failed.
    pub const FAILED: i32 = 2;
    /// `wait`: the job was Stopped.
    pub const STOPPED: i32 = 3;
    /// `wait`: gave up (`--timeout` or `--stall` ran out) while the job was still going.
    pub const GAVE_UP: i32 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with its error envelope.
    #[error("{code}: {message} ({request_id})")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
    #[error("cannot reach the opendlc server at {endpoint}: {source} (is `opendlc serve` running? set the endpoint with --endpoint, OPENDLC_ENDPOINT or `opendlc config`)")]
    Connect {
        endpoint: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("no secure connection to {endpoint}: {detail} (for a server with a self-signed certificate, trust its CA with --ca-file or OPENDLC_CA_FILE)")]
    Tls { endpoint: String, detail: String },
    #[error("the request to {endpoint} failed: {source}")]
    Http {
        endpoint: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the server's answer ({status}) is not what the API defines: {detail}")]
    BadResponse { status: u16, detail: String },
    #[error("failed to read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Usage(String),
    #[error("failed to write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    /// The API error code, if the server answered with one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            CliError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
