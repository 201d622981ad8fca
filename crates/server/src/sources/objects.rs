//! DataSources in object stores (`oss://`, `s3://`): the objects under the Uri's prefix are
//! staged into the job's directory before its pods start, and mounted at the MountPath.
//!
//! The stores are S3-compatible endpoints the administrator declares in `sources.yaml`
//! (`object_stores:`, each for some buckets and workspaces, with its key); OSS speaks the same
//! protocol. The server alone holds the keys: it lists and downloads, pods only see files.
//!
//! - **Read-only** sources (the default, `MountAccess: RO`): each object is downloaded once into
//!   the server's cache (`<data-dir>/cache/objects`), keyed by endpoint, bucket, key and ETag,
//!   and hard-linked into the job's staging directory; a job of the same data later downloads
//!   nothing. The pods' mount is read-only.
//! - **Read-write** sources (`MountAccess: RW`): the pods get copies they own; once every pod
//!   has ended, the files they added or changed are uploaded under the prefix before the job
//!   takes its final status (deleted files are not deleted from the store). Events say what was
//!   staged and written back.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusty_s3::actions::{ListObjectsV2, S3Action};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a signed request stays valid: it is used at once.
const SIGNED_FOR: Duration = Duration::from_secs(600);

/// One `object_stores:` entry of `sources.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreConfig {
    /// The S3 endpoint, `http(s)://HOST[:PORT]`.
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The buckets it serves; absent: every bucket.
    #[serde(default)]
    pub buckets: Option<Vec<String>>,
    /// The workspaces (ids) that may use it; absent: every workspace.
    #[serde(default)]
    pub workspaces: Option<Vec<String>>,
    /// Virtual-hosted URLs (`BUCKET.HOST`) instead of path-style ones (`HOST/BUCKET`).
    #[serde(default)]
    pub virtual_hosted: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl ObjectStoreConfig {
    pub fn serves(&self, bucket: &str, workspace_id: &str) -> bool {
        let listed = |list: &Option<Vec<String>>, name: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == name))
        };
        listed(&self.buckets, bucket) && listed(&self.workspaces, workspace_id)
    }

    fn bucket(&self, name: &str) -> Result<Bucket, String> {
        let endpoint = self
            .endpoint
            .parse()
            .map_err(|e| format!("object store endpoint \"{}\": {e}", self.endpoint))?;
        let style = if self.virtual_hosted {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        Bucket::new(endpoint, style, name.to_string(), self.region.clone())
            .map_err(|e| format!("object store endpoint \"{}\": {e:?}", self.endpoint))
    }

    fn credentials(&self) -> Credentials {
        Credentials::new(&self.access_key_id, &self.secret_access_key)
    }
}

/// A DataSource to stage: which objects, and where the pods' mount comes from.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The DataSource's field (`DataSources[0]`) and Uri, for messages.
    pub field: String,
    pub uri: String,
    pub store: ObjectStoreConfig,
    pub bucket: String,
    /// The key prefix, `dir/` or empty.
    pub prefix: String,
    /// The staging directory the pods mount.
    pub dest: PathBuf,
    pub writable: bool,
}

/// What was staged, kept beside the staging directory for the write-back.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// Relative path → the file as staged.
    objects: BTreeMap<String, Staged>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Staged {
    etag: String,
    size: u64,
    /// Its modification time once staged (ns since the epoch): changed later, it is written
    /// back.
    modified_ns: u128,
}

fn modified_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

impl Stage {
    /// Whether an earlier launch of the job staged it.
    pub fn is_staged(&self) -> bool {
        self.manifest_path().exists()
    }

    fn manifest_path(&self) -> PathBuf {
        let mut name = self.dest.file_name().unwrap_or_default().to_os_string();
        name.push(".manifest.json");
        self.dest.with_file_name(name)
    }
}

/// Lists the objects under the prefix and puts each one at its relative path in the staging
/// directory (read-only: a hard link to the cache; read-write: a copy owned by `owner`).
/// Returns one line per source for the job's events.
pub async fn stage(
    client: &reqwest::Client,
    cache: &Path,
    stage: &Stage,
    owner: Option<(u32, u32)>,
) -> Result<String, String> {
    let bucket = stage.store.bucket(&stage.bucket)?;
    let credentials = stage.store.credentials();
    let objects = list(client, &bucket, &credentials, &stage.prefix)
        .await
        .map_err(|e| format!("{}: listing {} failed: {e}", stage.field, stage.uri))?;
    let _ = std::fs::remove_dir_all(&stage.dest);
    create_dir(&stage.dest, owner)?;
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let mut manifest = Manifest::default();
    let (mut downloaded, mut bytes) = (0, 0);
    for object in &objects {
        let Some(rel) = relative(&stage.prefix, &object.key) else {
            continue;
        };
        let target = stage.dest.join(&rel);
        if object.key.ends_with('/') {
            create_dirs(&stage.dest, &target, owner)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            create_dirs(&stage.dest, parent, owner)?;
        }
        let cached = cache.join(cache_name(&stage.store.endpoint, &stage.bucket, object));
        if !cached.exists() {
            download(client, &bucket, &credentials, object, &cached)
                .await
                .map_err(|e| format!("{}: reading {} failed: {e}", stage.field, object.key))?;
            downloaded += 1;
            bytes += object.size;
        }
        if stage.writable {
            std::fs::copy(&cached, &target).map_err(|e| format!("{}: {e}", target.display()))?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| format!("{}: {e}", target.display()))?;
            chown(&target, owner)?;
        } else if std::fs::hard_link(&cached, &target).is_err() {
            std::fs::copy(&cached, &target).map_err(|e| format!("{}: {e}", target.display()))?;
        }
        let meta = std::fs::metadata(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        manifest.objects.insert(
            rel,
            Staged {
                etag: object.etag.clone(),
                size: object.size,
                modified_ns: modified_ns(&meta),
            },
        );
    }
    let text = serde_json::to_vec(&manifest).unwrap_or_default();
    std::fs::write(stage.manifest_path(), text).map_err(|e| e.to_string())?;
    Ok(format!(
        "{}: {} object(s) of {} staged ({downloaded} downloaded, {bytes} bytes; the rest from \
         the cache){}",
        stage.field,
        manifest.objects.len(),
        stage.uri,
        if stage.writable {
            "; what the pods add or change is written back when they end"
        } else {
            ", read-only"
        }
    ))
}

/// Uploads the files the pods added or changed in a read-write source's staging directory.
pub async fn write_back(client: &reqwest::Client, stage: &Stage) -> Result<String, String> {
    let manifest: Manifest = std::fs::read(stage.manifest_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let bucket = stage.store.bucket(&stage.bucket)?;
    let credentials = stage.store.credentials();
    let mut files = Vec::new();
    walk(&stage.dest, &stage.dest, &mut files);
    let mut written = 0;
    for (rel, path) in files {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let changed = manifest.objects.get(&rel).is_none_or(|staged| {
            staged.size != meta.len() || staged.modified_ns != modified_ns(&meta)
        });
        if !changed {
            continue;
        }
        let key = format!("{}{rel}", stage.prefix);
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let url = bucket.put_object(Some(&credentials), &key).sign(SIGNED_FOR);
        let response = client
            .put(url)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{}: writing {key} back failed: {e}", stage.field))?;
        if !response.status().is_success() {
            return Err(format!(
                "{}: writing {key} back failed: {}",
                stage.field,
                response.status()
            ));
        }
        written += 1;
    }
    Ok(format!(
        "{}: {written} file(s) written back to {}",
        stage.field, stage.uri
    ))
}

#[derive(Debug, Clone)]
struct Object {
    key: String,
    etag: String,
    size: u64,
}

async fn list(
    client: &reqwest::Client,
    bucket: &Bucket,
    credentials: &Credentials,
    prefix: &str,
) -> Result<Vec<Object>, String> {
    let mut objects = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut action = ListObjectsV2::new(bucket, Some(credentials));
        if !prefix.is_empty() {
            action.with_prefix(prefix);
        }
        if let Some(token) = &token {
            action.with_continuation_token(token.clone());
        }
        let response = client
            .get(action.sign(SIGNED_FOR))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {}", s3_error(&text)));
        }
        let page = ListObjectsV2::parse_response(&text).map_err(|e| e.to_string())?;
        objects.extend(page.contents.into_iter().map(|c| Object {
            key: c.key,
            etag: c.etag.trim_matches('"').to_string(),
            size: c.size,
        }));
        match page.next_continuation_token {
            Some(next) => token = Some(next),
            None => return Ok(objects),
        }
    }
}

async fn download(
    client: &reqwest::Client,
    bucket: &Bucket,
    credentials: &Credentials,
    object: &Object,
    to: &Path,
) -> Result<(), String> {
    let url = bucket
        .get_object(Some(credentials), &object.key)
        .sign(SIGNED_FOR);
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            s3_error(&String::from_utf8_lossy(&body))
        ));
    }
    if body.len() as u64 != object.size {
        return Err(format!(
            "got {} bytes, the listing said {}",
            body.len(),
            object.size
        ));
    }
    // Complete or absent: written aside, then renamed into place.
    let partial = to.with_extension(format!("partial-{}", std::process::id()));
    tokio::fs::write(&partial, &body)
        .await
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    // Readable by every pod that mounts it (the server's umask may be 077), and written by
    // none: read-only sources are hard links to it.
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o444))
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, to).map_err(|e| format!("{}: {e}", to.display()))
}

/// The `<Message>` of an S3 error body, or the body.
fn s3_error(body: &str) -> String {
    body.split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map_or_else(|| body.chars().take(200).collect(), |(m, _)| m.to_string())
}

/// The object's path below the prefix, if it is a plain relative path (a key with `..`, an
/// absolute part or an empty component is not staged: it could not be a file of the mount).
fn relative(prefix: &str, key: &str) -> Option<String> {
    let rel = key.strip_prefix(prefix)?.trim_end_matches('/');
    let path = Path::new(rel);
    let plain = !rel.is_empty()
        && !rel.contains("//")
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then(|| rel.to_string())
}

fn cache_name(endpoint: &str, bucket: &str, object: &Object) -> String {
    let mut hash = Sha256::new();
    for part in [endpoint, bucket, &object.key, &object.etag] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

fn create_dir(dir: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    chown(dir, owner)
}

/// Creates `dir` and its parents up to `root`, each owned by `owner`.
fn create_dirs(root: &Path, dir: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    if dir.exists() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| p.starts_with(root) && *p != root) {
        create_dirs(root, parent, owner)?;
    }
    create_dir(dir, owner)
}

fn chown(path: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("{}: {e}", path.display())),
        None => Ok(()),
    }
}

/// Every file below `dir`, by its path relative to `root` (`/`-separated).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(root, &path, out);
        } else if kind.is_file() {
            if let Some(rel) = path.strip_prefix(root).ok().and_then(|r| r.to_str()) {
                out.push((rel.to_string(), path.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_keys_are_staged() {
        assert_eq!(relative("train/", "train/a/b.txt"), Some("a/b.txt".into()));
        assert_eq!(relative("train/", "train/dir/"), Some("dir".into()));
        assert_eq!(relative("", "x"), Some("x".into()));
        for key in [
            "train/",
            "train/../etc/passwd",
            "train//x",
            "train/./x",
            "other/x",
        ] {
            assert_eq!(relative("train/", key), None, "{key}");
        }
    }

    #[test]
    fn a_store_serves_its_buckets_and_workspaces() {
        let store: ObjectStoreConfig = serde_yaml_ng::from_str(
            "endpoint: http://127.0.0.1:9000\naccess_key_id: a\nsecret_access_key: b\n\
             buckets: [data]\nworkspaces: [ws-1]\n",
        )
        .unwrap();
        assert!(store.serves("data", "ws-1"));
        assert!(!store.serves("other", "ws-1"));
        assert!(!store.serves("data", "ws-2"));
        assert_eq!(store.region, "us-east-1");
    }

    #[test]
    fn an_s3_error_says_its_message() {
        let body =
            "<Error><Code>NoSuchBucket</Code><Message>The bucket does not exist</Message></Error>";
        assert_eq!(s3_error(body), "The bucket does not exist");
    }
}
