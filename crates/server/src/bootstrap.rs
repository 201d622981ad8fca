//! First start on a data directory: its layout, its modes and the admin access key.
//!
//! The data directory is the server user's alone (0700), and so is every key file in it
//! (0600: `credentials`, `token-key`, the store's `secrets.key`), fixed at every start. Pods'
//! directories are under `jobs/`; no key is kept there.
//!
//! If `OPENDLC_ACCESS_KEY_ID` and `OPENDLC_ACCESS_KEY_SECRET` are set, that pair is the admin
//! key. Otherwise the key in `<data-dir>/credentials` is used, generated (mode 0600) on the
//! first start. The file is shell-sourceable: `. <data-dir>/credentials` exports the pair.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use opendlc_core::identity::{User, ADMIN_USER_ID, ADMIN_USER_NAME, DEFAULT_WORKSPACE_ID};
use opendlc_core::ids;
use opendlc_core::time::now_millis;
use opendlc_store::{AccessKeyRecord, Store, Workspace};
use rand::Rng;

use crate::auth::token::TokenKey;
use crate::auth::LegacySignatures;

pub const CREDENTIALS_FILE: &str = "credentials";
const TOKEN_KEY_FILE: &str = "token-key";
const LEGACY_SIGNATURES_FILE: &str = "legacy-signatures";
const KEY_ID_VAR: &str = "OPENDLC_ACCESS_KEY_ID";
const KEY_SECRET_VAR: &str = "OPENDLC_ACCESS_KEY_SECRET";

pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

/// Where the admin key came from, for the start-up banner.
pub enum KeySource {
    Environment,
    File(PathBuf),
}

/// Makes the data directory 0700 and the key files already in it 0600 (a directory or file
/// made by an older version, or by hand, may be readable by others). Where pods run as their
/// owners' accounts outside any view of their own (Slurm) and their jobs' directories are in
/// it, `pods_pass`: 0711, so that they reach their own job's directory (0700, theirs) by its
/// path without listing anything.
pub fn protect_data_dir(data_dir: &Path, pods_pass: bool) -> anyhow::Result<()> {
    let set = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("failed to make {} mode {mode:o}", path.display()))
    };
    set(data_dir, if pods_pass { 0o711 } else { 0o700 })?;
    for name in [CREDENTIALS_FILE, TOKEN_KEY_FILE, opendlc_store::KEY_FILE] {
        let path = data_dir.join(name);
        if path.exists() {
            set(&path, 0o600)?;
        }
    }
    Ok(())
}

/// Takes the data directory for this server: two servers on one directory would both run its
/// jobs. The lock is released when the returned file is dropped or the process dies.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    if file.try_lock().is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        anyhow::bail!(
            "another opendlc server (pid {}) is using the data directory {}",
            holder.trim(),
            data_dir.display()
        );
    }
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    Ok(file)
}

pub fn admin_key(data_dir: &Path) -> anyhow::Result<(AccessKey, KeySource)> {
    if let (Ok(id), Ok(secret)) = (std::env::var(KEY_ID_VAR), std::env::var(KEY_SECRET_VAR)) {
        if !id.is_empty() && !secret.is_empty() {
            return Ok((AccessKey { id, secret }, KeySource::Environment));
        }
    }
    let path = data_dir.join(CREDENTIALS_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let value = |name: &str| {
            text.lines()
                .map(|l| l.trim().trim_start_matches("export ").trim_start())
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(|v| v.trim().to_string())
        };
        if let (Some(id), Some(secret)) = (value(KEY_ID_VAR), value(KEY_SECRET_VAR)) {
            return Ok((AccessKey { id, secret }, KeySource::File(path)));
        }
    }
    let (id, secret) = ids::new_access_key();
    let key = AccessKey { id, secret };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    writeln!(
        file,
        "# opendlc admin access key; `. {}` exports it.\nexport {KEY_ID_VAR}={}\nexport {KEY_SECRET_VAR}={}",
        path.display(),
        key.id,
        key.secret
    )
    .and_then(|_| file.sync_all())
    .with_context(|| format!("failed to write {}", path.display()))?;
    Ok((key, KeySource::File(path)))
}

/// The administrator (user 1) with the admin key, and the default workspace with the
/// administrator as its admin. Idempotent: run at every start, so a key given in the
/// environment replaces the stored one.
pub fn ensure_identity(store: &Store, key: &AccessKey) -> anyhow::Result<()> {
    let now = now_millis();
    store.ensure_user(
        &User {
            user_id: ADMIN_USER_ID.into(),
            name: ADMIN_USER_NAME.into(),
            is_admin: true,
        },
        now,
    )?;
    let stored = store.access_key(&key.id)?;
    if stored
        .as_ref()
        .is_none_or(|k| k.secret != key.secret || k.user_id != ADMIN_USER_ID)
    {
        store.put_access_key(&AccessKeyRecord {
            access_key_id: key.id.clone(),
            user_id: ADMIN_USER_ID.into(),
            secret: key.secret.clone(),
            created: stored.map_or(now, |k| k.created),
            revoked: None,
            job_id: None,
        })?;
    }
    if store.workspace(DEFAULT_WORKSPACE_ID)?.is_none() {
        store.create_workspace(&Workspace {
            workspace_id: DEFAULT_WORKSPACE_ID.into(),
            name: DEFAULT_WORKSPACE_ID.into(),
            display_name: "Default workspace".into(),
            description: "Where jobs go without a WorkspaceId; every user belongs to it.".into(),
            env_types: vec!["prod".into()],
            creator_id: ADMIN_USER_ID.into(),
            created: now,
            modified: now,
        })?;
    }
    Ok(())
}

/// The key that signs share tokens: `<data-dir>/token-key`, 32 random bytes (hex), created
/// on first start, so tokens stay valid across restarts.
pub fn token_key(data_dir: &Path) -> anyhow::Result<TokenKey> {
    let path = data_dir.join(TOKEN_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(bytes) = hex::decode(text.trim()) {
            if bytes.len() >= 32 {
                return Ok(TokenKey::new(bytes));
            }
        }
    }
    let bytes: Vec<u8> = (0..32).map(|_| rand::thread_rng().gen()).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    writeln!(file, "{}", hex::encode(&bytes))
        .and_then(|_| file.sync_all())
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(TokenKey::new(bytes))
}

/// Whether the legacy HMAC-SHA1 signature is served: `configured` if given (and recorded in
/// `<data-dir>/legacy-signatures` for later starts), else what that file says, else refuse on a
/// new data directory (no database yet) and accept on one made before the choice existed.
pub fn legacy_signatures(
    data_dir: &Path,
    configured: Option<LegacySignatures>,
) -> anyhow::Result<LegacySignatures> {
    let path = data_dir.join(LEGACY_SIGNATURES_FILE);
    let recorded = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| LegacySignatures::parse(&text));
    let choice = match (configured, recorded) {
        (Some(choice), _) => choice,
        (None, Some(recorded)) => return Ok(recorded),
        (None, None) if data_dir.join("opendlc.db").exists() => LegacySignatures::Accept,
        (None, None) => LegacySignatures::Refuse,
    };
    if recorded != Some(choice) {
        std::fs::write(&path, format!("{}\n", choice.as_str()))
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_signatures_are_refused_on_new_data_and_the_choice_is_kept() {
        let new = tempfile::tempdir().unwrap();
        assert_eq!(
            legacy_signatures(new.path(), None).unwrap(),
            LegacySignatures::Refuse
        );
        std::fs::write(new.path().join("opendlc.db"), "").unwrap();
        assert_eq!(
            legacy_signatures(new.path(), None).unwrap(),
            LegacySignatures::Refuse,
            "recorded on first start"
        );
        let old = tempfile::tempdir().unwrap();
        std::fs::write(old.path().join("opendlc.db"), "").unwrap();
        assert_eq!(
            legacy_signatures(old.path(), None).unwrap(),
            LegacySignatures::Accept
        );
        let given = Some(LegacySignatures::Refuse);
        assert_eq!(
            legacy_signatures(old.path(), given).unwrap(),
            LegacySignatures::Refuse
        );
        assert_eq!(
            legacy_signatures(old.path(), None).unwrap(),
            LegacySignatures::Refuse,
            "a choice given is kept"
        );
    }
}
