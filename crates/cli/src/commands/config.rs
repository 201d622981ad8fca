//! `opendlc config`: write a profile of ~/.opendlc/config, or show what a command would use.

use crate::error::{exit, Result};
use crate::profile::{config_path, resolve, ConfigFile, DEFAULT_PROFILE};
use crate::Ctx;

pub const EXAMPLES: &str = "Examples:
  opendlc config --endpoint 127.0.0.1:8080 --access-key-id LTAI… --access-key-secret …
  opendlc config --profile prod --endpoint https://dlc.example.com -a LTAI… -k …
  opendlc config                 # show the endpoint and key a command would use, and why
  opendlc config --list          # every profile in the file (secrets hidden)

The global --profile and --endpoint name the profile to write and its endpoint.";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The access key id to store.
    #[arg(short = 'a', long, visible_alias = "access_id", value_name = "ID")]
    pub access_key_id: Option<String>,
    /// The access key secret to store.
    #[arg(short = 'k', long, visible_alias = "access_key", value_name = "SECRET")]
    pub access_key_secret: Option<String>,
    /// List the profiles in the config file.
    #[arg(long)]
    pub list: bool,
}

fn mask(secret: &str) -> String {
    let shown: String = secret.chars().take(4).collect();
    format!("{shown}…")
}

pub fn run(ctx: &Ctx, args: Args) -> Result<i32> {
    let path = config_path()?;
    if args.list {
        let file = ConfigFile::load(&path)?;
        let mut table = crate::output::Table::new(&["PROFILE", "ENDPOINT", "ACCESS KEY ID"]);
        for (name, p) in &file.profiles {
            table.row(vec![
                name.clone(),
                crate::output::cell(&p.endpoint),
                crate::output::cell(&p.access_key_id),
            ]);
        }
        table.print()?;
        return Ok(exit::OK);
    }
    let writes = ctx.global.endpoint.is_some()
        || args.access_key_id.is_some()
        || args.access_key_secret.is_some();
    if !writes {
        let r = resolve(ctx.global.profile.as_deref(), None)?;
        println!("profile:    {}", r.profile);
        println!("endpoint:   {}  (from {})", r.endpoint, r.endpoint_from);
        println!(
            "access key: {} / {}  (from {})",
            r.access_key_id,
            mask(&r.access_key_secret),
            r.key_from
        );
        return Ok(exit::OK);
    }
    let name = ctx
        .global
        .profile
        .clone()
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    if let Some(endpoint) = &ctx.global.endpoint {
        crate::client::parse_endpoint(endpoint)?;
    }
    let mut file = ConfigFile::load(&path)?;
    let profile = file.profiles.entry(name.clone()).or_default();
    if let Some(e) = &ctx.global.endpoint {
        profile.endpoint = Some(e.clone());
    }
    if let Some(id) = args.access_key_id {
        profile.access_key_id = Some(id);
    }
    if let Some(secret) = args.access_key_secret {
        profile.access_key_secret = Some(secret);
    }
    file.save(&path)?;
    eprintln!("wrote profile [{name}] to {}", path.display());
    Ok(exit::OK)
}
