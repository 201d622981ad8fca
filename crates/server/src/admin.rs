//! Managing users, access keys and workspaces on a data directory: what `opendlc admin …`
//! runs (on the server's host, beside a running server: SQLite allows it), and what tests use
//! to set up several users. A running server sees changes within a second.

use anyhow::{bail, Context};
use opendlc_core::identity::{
    validate_user_name, validate_workspace_name, User, WorkspaceRole, DEFAULT_WORKSPACE_ID,
};
use opendlc_core::ids;
use opendlc_core::time::now_millis;
use opendlc_store::{AccessKeyRecord, Member, Store, StoreError, Workspace};

pub use crate::bootstrap::AccessKey;

/// Opens the data directory's database.
pub fn open(data_dir: &std::path::Path) -> anyhow::Result<Store> {
    let path = data_dir.join("opendlc.db");
    if !path.exists() {
        bail!(
            "{} has no opendlc database; start `opendlc serve --data-dir {}` once first",
            data_dir.display(),
            data_dir.display()
        );
    }
    Store::open(&path).with_context(|| format!("failed to open {}", path.display()))
}

fn user(store: &Store, name: &str) -> anyhow::Result<User> {
    store
        .user_by_name(name)?
        .with_context(|| format!("there is no user {name}"))
}

fn workspace(store: &Store, id_or_name: &str) -> anyhow::Result<Workspace> {
    store
        .find_workspace(id_or_name)?
        .with_context(|| format!("there is no workspace {id_or_name}"))
}

/// Creates a user with a first access key; they join the default workspace as a member.
pub fn add_user(store: &Store, name: &str, is_admin: bool) -> anyhow::Result<(User, AccessKey)> {
    validate_user_name(name).map_err(|rule| anyhow::anyhow!("user name {rule}"))?;
    let now = now_millis();
    let user = store.create_user(name, is_admin, now).map_err(conflict)?;
    store.set_member(
        DEFAULT_WORKSPACE_ID,
        &user.user_id,
        WorkspaceRole::Member,
        now,
    )?;
    let key = add_key(store, name)?;
    Ok((user, key))
}

/// The Unix identity the user's pods run as (an account of this host, or of the Slurm nodes);
/// `None` goes back to the default (`--pod-uid-base` + UserId). Pods never run as root.
pub fn set_unix_identity(
    store: &Store,
    user_name: &str,
    identity: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    if let Some((uid, gid)) = identity {
        if uid == 0 || gid == 0 {
            anyhow::bail!("pods never run as root: choose a uid and gid other than 0");
        }
    }
    let user = store
        .user_by_name(user_name)?
        .ok_or_else(|| anyhow::anyhow!("no user named {user_name}"))?;
    store.set_unix_identity(&user.user_id, identity)?;
    Ok(())
}

/// A new access key for the user.
pub fn add_key(store: &Store, user_name: &str) -> anyhow::Result<AccessKey> {
    let user = user(store, user_name)?;
    let (id, secret) = ids::new_access_key();
    store.put_access_key(&AccessKeyRecord {
        access_key_id: id.clone(),
        user_id: user.user_id,
        secret: secret.clone(),
        created: now_millis(),
        revoked: None,
        job_id: None,
    })?;
    Ok(AccessKey { id, secret })
}

/// Revokes a key: requests signed with it fail from now on.
pub fn revoke_key(store: &Store, access_key_id: &str) -> anyhow::Result<()> {
    if !store.revoke_access_key(access_key_id, now_millis())? {
        bail!("there is no active access key {access_key_id}");
    }
    Ok(())
}

/// Creates a workspace; `owner` (a user name) becomes its admin.
pub fn add_workspace(store: &Store, name: &str, owner: &str) -> anyhow::Result<Workspace> {
    validate_workspace_name(name).map_err(|rule| anyhow::anyhow!("workspace name {rule}"))?;
    let owner = user(store, owner)?;
    let now = now_millis();
    let ws = Workspace {
        workspace_id: ids::new_workspace_id(),
        name: name.to_string(),
        display_name: name.to_string(),
        description: String::new(),
        env_types: vec!["prod".into()],
        creator_id: owner.user_id,
        created: now,
        modified: now,
    };
    store.create_workspace(&ws).map_err(conflict)?;
    Ok(ws)
}

/// Adds a user to a workspace (or changes their role there).
pub fn set_member(
    store: &Store,
    workspace_id_or_name: &str,
    user_name: &str,
    role: WorkspaceRole,
) -> anyhow::Result<Workspace> {
    let ws = workspace(store, workspace_id_or_name)?;
    let user = user(store, user_name)?;
    store.set_member(&ws.workspace_id, &user.user_id, role, now_millis())?;
    Ok(ws)
}

/// Removes a user from a workspace.
pub fn remove_member(
    store: &Store,
    workspace_id_or_name: &str,
    user_name: &str,
) -> anyhow::Result<()> {
    let ws = workspace(store, workspace_id_or_name)?;
    let user = user(store, user_name)?;
    if !store.remove_member(&ws.workspace_id, &user.user_id)? {
        bail!("{user_name} is not a member of {}", ws.name);
    }
    Ok(())
}

/// The members of a workspace.
pub fn members(store: &Store, workspace_id_or_name: &str) -> anyhow::Result<Vec<Member>> {
    let ws = workspace(store, workspace_id_or_name)?;
    Ok(store.members(&ws.workspace_id)?)
}

fn conflict(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Conflict(message) => anyhow::anyhow!(message),
        other => other.into(),
    }
}
