//! `opendlc share JOB`: GetToken — a token that opens one job (or TensorBoard) for reading,
//! without credentials, until it expires.

use opendlc_api::endpoints::GetToken;
use opendlc_api::GetTokenRequest;

use crate::error::{CliError, Result};
use crate::output::{print_document, Format};
use crate::util::parse_duration;
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc share dlc1a2b3c4d5e6f                 # valid 7 days
  opendlc share dlc1a2b3c4d5e6f --expire 1h
  curl \"http://127.0.0.1:8080/api/v1/jobs/dlc1a2b3c4d5e6f?Token=$(opendlc share dlc1a2b3c4d5e6f)\"";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id (or, with --tensorboard, the TensorBoard id).
    #[arg(value_name = "ID")]
    pub id: String,
    /// How long the token is valid: seconds, or 30m, 12h, 7d (at most 7 days) [default: 7d].
    #[arg(long, value_name = "DURATION")]
    pub expire: Option<String>,
    /// Share a TensorBoard rather than a job.
    #[arg(long)]
    pub tensorboard: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let expire_time = args
        .expire
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| CliError::usage(format!("--expire: {e}")))?;
    let request = GetTokenRequest {
        target_type: Some(
            if args.tensorboard {
                "tensorboard"
            } else {
                "job"
            }
            .into(),
        ),
        target_id: Some(args.id),
        expire_time: expire_time.map(|d| d.as_secs().max(1) as i64),
        ..Default::default()
    };
    let reply = ctx.client()?.call::<GetToken>(&[], &request)?;
    match ctx.format() {
        Format::Table => println!("{}", reply.body.token.unwrap_or_default()),
        format => print_document(format, &reply.raw)?,
    }
    Ok(crate::error::exit::OK)
}
