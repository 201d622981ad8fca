//! The opendlc client: the commands of the `opendlc` binary other than `serve`.
//!
//! One file per verb under [`commands`], like pueue's client; [`client`] speaks the API
//! (signed as the official SDK signs), [`profile`] finds the endpoint and key, [`output`]
//! prints tables, JSON or YAML. The binary parses [`GlobalArgs`] and a [`Command`] and calls
//! [`run`], which returns the process exit code ([`error::exit`]).

pub mod client;
pub mod commands;
pub mod error;
pub mod output;
pub mod profile;
mod util;

use std::cell::OnceCell;

pub use commands::Command;
pub use error::{exit, CliError};
pub use output::Format;

/// Options every client command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// The profile of ~/.opendlc/config to use [env: OPENDLC_PROFILE] [default: default].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The server, host:port or http(s)://host:port [env: OPENDLC_ENDPOINT] [default: 127.0.0.1:8080].
    #[arg(long, global = true, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,
    /// Trust the CA certificates (PEM) in this file for an https:// endpoint, besides the
    /// system's: for a server with a self-signed certificate.
    #[arg(long, global = true, env = "OPENDLC_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Output format: human tables, or the API's exact JSON, or YAML.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// What every command gets: the options and a client made on first use.
pub struct Ctx {
    pub global: GlobalArgs,
    client: OnceCell<client::Client>,
}

impl Ctx {
    pub fn new(global: GlobalArgs) -> Ctx {
        Ctx {
            global,
            client: OnceCell::new(),
        }
    }

    pub fn format(&self) -> Format {
        self.global.output
    }

    pub fn client(&self) -> error::Result<&client::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let settings = self.settings()?;
        let client = client::Client::new(&settings, self.global.ca_file.as_deref())?;
        Ok(self.client.get_or_init(|| client))
    }

    pub fn settings(&self) -> error::Result<profile::Resolved> {
        profile::resolve(
            self.global.profile.as_deref(),
            self.global.endpoint.as_deref(),
        )
    }
}

/// Runs one client command; prints any error to stderr as `error: …` and returns the exit
/// code.
pub fn run(global: GlobalArgs, command: Command) -> i32 {
    let ctx = Ctx::new(global);
    match commands::dispatch(&ctx, command) {
        Ok(code) => code,
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

/// Writes shell completions for `command` (the binary's whole command tree) to stdout.
pub fn completions(shell: clap_complete::Shell, command: &mut clap::Command) {
    let name = command.get_name().to_string();
    clap_complete::generate(shell, command, name, &mut std::io::stdout());
}
