//! `opendlc wait JOB`: polls GetJob, prints each status change (with a live timer on a
//! terminal), and exits by the final status: 0 Succeeded, 2 Failed, 3 Stopped, 4 gave up.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::error::{exit, Result};
use crate::output::{duration, print_document, stderr_is_tty, Format};
use crate::util::parse_duration;
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc wait dlc1a2b3c4d5e6f && echo trained
  opendlc wait dlc1a2b3c4d5e6f --timeout 2h --stall 30m
  opendlc wait dlc1a2b3c4d5e6f -o json > final.json

Exit codes: 0 Succeeded, 2 Failed, 3 Stopped, 4 gave up (--timeout or --stall; the job goes
on), 1 an error. On Failed, Stopped or giving up, each pod's last events and log lines are
printed to stderr. Status changes go to stderr; the final status (or -o json/yaml) to stdout.";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job id.
    pub job: String,
    /// How often to ask for the job's status.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "DURATION")]
    pub interval: Duration,
    /// Give up (exit 4) after this long; the job goes on.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,
    /// Give up (exit 4) when the status has not changed for this long.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub stall: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub stall: Option<Duration>,
    /// Print nothing on stdout (submit --wait already printed the JobId).
    pub quiet_result: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let options = Options {
        interval: Some(args.interval),
        timeout: args.timeout,
        stall: args.stall,
        quiet_result: false,
    };
    wait_job(ctx, &args.job, &options)
}

/// Clears the live timer line, if there is one.
fn clear(tty: bool) {
    if tty {
        eprint!("\r\x1b[2K");
    }
}

pub fn wait_job(ctx: &Ctx, job: &str, options: &Options) -> Result<i32> {
    let interval = options.interval.unwrap_or(Duration::from_secs(1));
    let tty = stderr_is_tty();
    let start = Instant::now();
    let mut last: Option<String> = None;
    let mut changed_at = Instant::now();
    loop {
        let reply = super::get::fetch(ctx, job)?;
        let status = reply.body.status.clone().unwrap_or_default();
        if last.as_deref() != Some(status.as_str()) {
            clear(tty);
            let reason = reply.body.reason_message.clone().unwrap_or_default();
            let now = chrono::Utc::now().format("%H:%M:%S");
            eprintln!("{now}  {status:<12} {reason}");
            last = Some(status.clone());
            changed_at = Instant::now();
        }
        let code = match status.as_str() {
            "Succeeded" => Some(exit::OK),
            "Failed" => Some(exit::FAILED),
            "Stopped" => Some(exit::STOPPED),
            _ => None,
        };
        let gave_up = if options.timeout.is_some_and(|t| start.elapsed() >= t) {
            Some("--timeout")
        } else if options.stall.is_some_and(|s| changed_at.elapsed() >= s) {
            Some("--stall")
        } else {
            None
        };
        if code.is_some() || gave_up.is_some() {
            clear(tty);
            if let Some(flag) = gave_up.filter(|_| code.is_none()) {
                eprintln!(
                    "gave up ({flag}) after {}: the job is still {status}",
                    duration(start.elapsed().as_secs() as i64)
                );
            }
            if code != Some(exit::OK) {
                super::diagnose::print(ctx, &reply.body);
            }
            if !options.quiet_result {
                match ctx.format() {
                    Format::Table => println!("{status}"),
                    format => print_document(format, &reply.raw)?,
                }
            }
            return Ok(code.unwrap_or(exit::GAVE_UP));
        }
        let next = Instant::now() + interval;
        while Instant::now() < next {
            if tty {
                eprint!(
                    "\r\x1b[2K  {status} for {} (waiting {})",
                    duration(changed_at.elapsed().as_secs() as i64),
                    duration(start.elapsed().as_secs() as i64)
                );
                let _ = std::io::stderr().flush();
            }
            let left = next.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(Duration::from_millis(250)));
        }
    }
}
