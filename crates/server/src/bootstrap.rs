//! First start on a data directory: its layout and the admin access key.
//!
//! If `OPENDLC_ACCESS_KEY_ID` and `OPENDLC_ACCESS_KEY_SECRET` are set, that pair is the admin
//! key. Otherwise the key in `<data-dir>/credentials` is used, generated (mode 0600) on the
//! first start. The file is shell-sourceable: `. <data-dir>/credentials` exports the pair.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::Rng;

pub const CREDENTIALS_FILE: &str = "credentials";
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

/// Takes the data directory for this server: two servers on one directory would both run its
/// jobs. The lock is released when the returned file is dropped or the process dies.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
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
    let key = AccessKey {
        id: format!("LTAIod{}", random_text(16)),
        secret: random_text(30),
    };
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

fn random_text(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}
