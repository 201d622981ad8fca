//! Where the client connects and with which key: `~/.opendlc/config` (named profiles), the
//! environment, and, for a local server started with defaults, its data directory.
//!
//! Precedence, highest first: `--endpoint`; `OPENDLC_ENDPOINT`, `OPENDLC_ACCESS_KEY_ID`/
//! `OPENDLC_ACCESS_KEY_SECRET` (or `ALIBABA_CLOUD_ACCESS_KEY_ID`/`…_SECRET`); the profile
//! (`--profile`, `OPENDLC_PROFILE`, else `default`); then `127.0.0.1:8080` and the key in
//! `<data-dir>/credentials` (`OPENDLC_DATA_DIR`, else `~/.opendlc/data`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

pub const DEFAULT_PROFILE: &str = "default";
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:8080";

/// One profile's settings; any may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub access_key_secret: Option<String>,
}

/// The config file: profiles by name, in an INI-like text file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    pub profiles: BTreeMap<String, Profile>,
}

/// The settings a command connects with, and where each came from (for `opendlc config`).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub profile: String,
    pub endpoint: String,
    pub endpoint_from: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub key_from: String,
}

/// `$OPENDLC_CONFIG`, else `~/.opendlc/config`.
pub fn config_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("OPENDLC_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    Ok(home()?.join(".opendlc").join("config"))
}

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| CliError::Config("HOME is not set: cannot find ~/.opendlc".into()))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl ConfigFile {
    pub fn parse(text: &str) -> ConfigFile {
        let mut file = ConfigFile::default();
        let mut current: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim().to_string();
                file.profiles.entry(name.clone()).or_default();
                current = Some(name);
                continue;
            }
            let (Some(name), Some((key, value))) = (&current, line.split_once('=')) else {
                continue;
            };
            let profile = file.profiles.entry(name.clone()).or_default();
            let value = Some(value.trim().to_string());
            match key.trim() {
                "endpoint" => profile.endpoint = value,
                "access_key_id" => profile.access_key_id = value,
                "access_key_secret" => profile.access_key_secret = value,
                _ => {}
            }
        }
        file
    }

    pub fn render(&self) -> String {
        let mut out =
            String::from("# opendlc client configuration, written by `opendlc config`.\n");
        for (name, p) in &self.profiles {
            out.push_str(&format!("\n[{name}]\n"));
            for (key, value) in [
                ("endpoint", &p.endpoint),
                ("access_key_id", &p.access_key_id),
                ("access_key_secret", &p.access_key_secret),
            ] {
                if let Some(value) = value {
                    out.push_str(&format!("{key} = {value}\n"));
                }
            }
        }
        out
    }

    /// The file at `path`; an empty configuration when there is none.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(ConfigFile::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(source) => Err(CliError::Read {
                path: path.into(),
                source,
            }),
        }
    }

    /// Writes the file, readable by its owner only (it holds secrets).
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |source| CliError::Write {
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        file.write_all(self.render().as_bytes()).map_err(err)
    }
}

/// The key pair in a server's `credentials` file (`export NAME=value` lines).
pub fn read_credentials(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut id = None;
    let mut secret = None;
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ").trim();
        if let Some((name, value)) = line.split_once('=') {
            let value = value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .to_string();
            match name.trim() {
                "OPENDLC_ACCESS_KEY_ID" => id = Some(value),
                "OPENDLC_ACCESS_KEY_SECRET" => secret = Some(value),
                _ => {}
            }
        }
    }
    Some((id?, secret?))
}

/// The local server's data directory: `$OPENDLC_DATA_DIR`, else `~/.opendlc/data`.
pub fn data_dir() -> Result<PathBuf> {
    match env("OPENDLC_DATA_DIR") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(home()?.join(".opendlc").join("data")),
    }
}

/// Resolves the settings for a command (see the module docs for the precedence).
pub fn resolve(profile: Option<&str>, endpoint_flag: Option<&str>) -> Result<Resolved> {
    let explicit_profile = profile
        .map(str::to_string)
        .or_else(|| env("OPENDLC_PROFILE"));
    let name = explicit_profile
        .clone()
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    let path = config_path()?;
    let file = ConfigFile::load(&path)?;
    let stored = match file.profiles.get(&name) {
        Some(p) => p.clone(),
        None if explicit_profile.is_some() => {
            return Err(CliError::Config(format!(
                "no profile [{name}] in {}: create it with `opendlc config --profile {name} --endpoint …`",
                path.display()
            )))
        }
        None => Profile::default(),
    };
    let from_profile = format!("profile [{name}] in {}", path.display());

    let (endpoint, endpoint_from) = if let Some(e) = endpoint_flag.filter(|e| !e.is_empty()) {
        (e.to_string(), "--endpoint".to_string())
    } else if let Some(e) = env("OPENDLC_ENDPOINT") {
        (e, "OPENDLC_ENDPOINT".to_string())
    } else if let Some(e) = stored.endpoint.clone() {
        (e, from_profile.clone())
    } else {
        (DEFAULT_ENDPOINT.to_string(), "the default".to_string())
    };

    let env_pair = |id: &str, secret: &str| Some((env(id)?, env(secret)?));
    let (key, key_from) = if let Some(pair) =
        env_pair("OPENDLC_ACCESS_KEY_ID", "OPENDLC_ACCESS_KEY_SECRET")
    {
        (pair, "OPENDLC_ACCESS_KEY_ID/SECRET".to_string())
    } else if let Some(pair) = env_pair(
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    ) {
        (pair, "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET".to_string())
    } else if let (Some(id), Some(secret)) = (&stored.access_key_id, &stored.access_key_secret) {
        ((id.clone(), secret.clone()), from_profile)
    } else {
        let path = data_dir()?.join("credentials");
        match read_credentials(&path) {
            Some(pair) => (pair, path.display().to_string()),
            None => {
                return Err(CliError::Config(format!(
                    "no access key: run `opendlc config --access-key-id … --access-key-secret …`, \
                     set OPENDLC_ACCESS_KEY_ID and OPENDLC_ACCESS_KEY_SECRET, \
                     or run the local server (it writes {})",
                    path.display()
                )))
            }
        }
    };
    Ok(Resolved {
        profile: name,
        endpoint,
        endpoint_from,
        access_key_id: key.0,
        access_key_secret: key.1,
        key_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_round_trips() {
        let text = "# c\n[default]\nendpoint = 127.0.0.1:8080\naccess_key_id = ak\n\
                    access_key_secret = sk\n\n[prod]\nendpoint=https://dlc.example.com\n";
        let file = ConfigFile::parse(text);
        assert_eq!(file.profiles.len(), 2);
        assert_eq!(
            file.profiles["default"].access_key_secret.as_deref(),
            Some("sk")
        );
        assert_eq!(
            file.profiles["prod"].endpoint.as_deref(),
            Some("https://dlc.example.com")
        );
        assert_eq!(ConfigFile::parse(&file.render()), file);
    }

    #[test]
    fn credentials_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "export OPENDLC_ACCESS_KEY_ID=LTAIx\nexport OPENDLC_ACCESS_KEY_SECRET='s3'\n",
        )
        .unwrap();
        assert_eq!(
            read_credentials(&path),
            Some(("LTAIx".to_string(), "s3".to_string()))
        );
    }
}
