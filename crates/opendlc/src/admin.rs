//! `opendlc admin …`: users, access keys and workspaces, managed on the server's data directory
//! (beside a running server or not; a running server sees changes within a second).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use opendlc_core::identity::WorkspaceRole;
use opendlc_server::admin;

#[derive(clap::Args)]
#[command(after_help = "Examples:
  opendlc admin user add ann                  # prints ann's first access key
  opendlc admin workspace add vision --owner ann
  opendlc admin member add vision bob         # bob joins vision as a member
  opendlc admin key revoke LTAIod...")]
pub struct AdminArgs {
    /// The server's data directory [default: ~/.opendlc/data].
    #[arg(long, env = "OPENDLC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Users: who access keys act as.
    #[command(subcommand)]
    User(UserCommand),
    /// Access keys (several per user; revocable).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Workspaces: where jobs live and who sees them.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Workspace membership.
    #[command(subcommand)]
    Member(MemberCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with a first access key; they join the default workspace.
    Add {
        name: String,
        /// A server administrator: sees and changes every workspace's jobs.
        #[arg(long)]
        admin: bool,
    },
    /// List users (with the Unix identity their pods run as, where one was set).
    List,
    /// Set the Unix identity a user's pods run as: an account of theirs on this host (and the
    /// Slurm nodes). Default: uid = gid = --pod-uid-base + their UserId.
    Set {
        name: String,
        /// The uid their pods run as.
        #[arg(long, required_unless_present = "default_identity")]
        uid: Option<u32>,
        /// The gid (default: the uid).
        #[arg(long, requires = "uid")]
        gid: Option<u32>,
        /// Back to the default identity.
        #[arg(long = "default-identity", conflicts_with = "uid")]
        default_identity: bool,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create another access key for a user.
    Add { user: String },
    /// List access keys (secrets are not shown).
    List {
        /// Only this user's keys.
        user: Option<String>,
    },
    /// Revoke a key: requests signed with it are refused from now on.
    Revoke { access_key_id: String },
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace; its owner becomes its admin.
    Add {
        name: String,
        /// The user who administers it.
        #[arg(long, default_value = opendlc_core::identity::ADMIN_USER_NAME)]
        owner: String,
    },
    /// List workspaces.
    List,
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Add a user to a workspace, or change their role.
    Add {
        workspace: String,
        user: String,
        /// member (sees PUBLIC jobs) or admin (sees and manages every job of the workspace).
        #[arg(long, default_value = "member", value_parser = parse_role)]
        role: WorkspaceRole,
    },
    /// Remove a user from a workspace.
    Remove { workspace: String, user: String },
    /// List a workspace's members.
    List { workspace: String },
}

fn parse_role(text: &str) -> Result<WorkspaceRole, String> {
    WorkspaceRole::parse(text).ok_or_else(|| format!("must be member or admin, got {text:?}"))
}

fn print_key(user: &str, key: &admin::AccessKey) {
    println!(
        "user:              {user}\naccess key id:     {}\naccess key secret: {}",
        key.id, key.secret
    );
    println!("(the secret is shown once; give it to {user} over a safe channel)");
}

pub fn run(
    args: AdminArgs,
    default_data_dir: impl FnOnce() -> anyhow::Result<PathBuf>,
) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    execute(&data_dir, args.command)
}

fn execute(data_dir: &Path, command: AdminCommand) -> anyhow::Result<()> {
    let store = admin::open(data_dir)?;
    match command {
        AdminCommand::User(UserCommand::Add {
            name,
            admin: is_admin,
        }) => {
            let (user, key) = admin::add_user(&store, &name, is_admin)?;
            print_key(&user.name, &key);
        }
        AdminCommand::User(UserCommand::List) => {
            println!("{:<6} {:<24} {:<6} UNIX IDENTITY", "ID", "NAME", "ADMIN");
            for user in store.users()? {
                let identity = match store.unix_identity(&user.user_id)? {
                    Some((uid, gid)) => format!("{uid}:{gid}"),
                    None => "default".to_string(),
                };
                println!(
                    "{:<6} {:<24} {:<6} {identity}",
                    user.user_id,
                    user.name,
                    if user.is_admin { "yes" } else { "" }
                );
            }
        }
        AdminCommand::User(UserCommand::Set { name, uid, gid, .. }) => {
            let identity = uid.map(|uid| (uid, gid.unwrap_or(uid)));
            admin::set_unix_identity(&store, &name, identity)?;
            match identity {
                Some((uid, gid)) => println!("{name}'s pods run as uid {uid}, gid {gid}"),
                None => println!("{name}'s pods run as the default identity"),
            }
        }
        AdminCommand::Key(KeyCommand::Add { user }) => {
            let key = admin::add_key(&store, &user)?;
            print_key(&user, &key);
        }
        AdminCommand::Key(KeyCommand::List { user }) => {
            let user_id = match &user {
                Some(name) => Some(
                    store
                        .user_by_name(name)?
                        .ok_or_else(|| anyhow::anyhow!("there is no user {name}"))?
                        .user_id,
                ),
                None => None,
            };
            let names: std::collections::HashMap<String, String> = store
                .users()?
                .into_iter()
                .map(|u| (u.user_id, u.name))
                .collect();
            println!(
                "{:<24} {:<16} {:<22} STATUS",
                "ACCESS KEY ID", "USER", "CREATED"
            );
            for key in store.access_keys(user_id.as_deref())? {
                let status = match key.revoked {
                    Some(at) => format!("revoked {}", opendlc_core::time::format_wire(at)),
                    None => "active".into(),
                };
                println!(
                    "{:<24} {:<16} {:<22} {status}",
                    key.access_key_id,
                    names
                        .get(&key.user_id)
                        .map_or(key.user_id.as_str(), String::as_str),
                    opendlc_core::time::format_wire(key.created),
                );
            }
        }
        AdminCommand::Key(KeyCommand::Revoke { access_key_id }) => {
            admin::revoke_key(&store, &access_key_id)?;
            println!("revoked {access_key_id}");
        }
        AdminCommand::Workspace(WorkspaceCommand::Add { name, owner }) => {
            let ws = admin::add_workspace(&store, &name, &owner)?;
            println!(
                "workspace {} created: id {}, admin {owner}",
                ws.name, ws.workspace_id
            );
        }
        AdminCommand::Workspace(WorkspaceCommand::List) => {
            println!("{:<18} {:<24} CREATED", "ID", "NAME");
            for ws in store.workspaces()? {
                println!(
                    "{:<18} {:<24} {}",
                    ws.workspace_id,
                    ws.name,
                    opendlc_core::time::format_wire(ws.created)
                );
            }
        }
        AdminCommand::Member(MemberCommand::Add {
            workspace,
            user,
            role,
        }) => {
            let ws = admin::set_member(&store, &workspace, &user, role)?;
            println!("{user} is a {role} of {}", ws.name);
        }
        AdminCommand::Member(MemberCommand::Remove { workspace, user }) => {
            admin::remove_member(&store, &workspace, &user)?;
            println!("{user} left {workspace}");
        }
        AdminCommand::Member(MemberCommand::List { workspace }) => {
            println!("{:<24} ROLE", "USER");
            for member in admin::members(&store, &workspace)? {
                println!("{:<24} {}", member.user.name, member.role);
            }
        }
    }
    Ok(())
}
