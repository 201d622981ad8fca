//! Code and data sources registered on this server, in `<data-dir>/sources.yaml`:
//!
//! ```yaml
//! code_sources:
//!   code-demo:                 # a job's CodeSource.CodeSourceId
//!     repo: /srv/git/demo.git  # anything `git clone` takes
//!     branch: main             # checked out when the job names no Branch or Commit
//! data_sources:
//!   d-imagenet:                # a job's DataSources[].DataSourceId
//!     uri: /data/imagenet      # a local path (or file:// URI), under a granted root
//!     mount_path: /mnt/imagenet  # where a job that gives no MountPath sees it
//!                              # (default /mnt/data/<id>)
//! roots:                       # the host paths requests may name (none without this)
//!   - path: /data              # granted to every workspace, read-write
//!   - path: /datasets
//!     workspaces: [ws-vision]  # only to these workspaces (ids)
//!     read_only: true          # mounted read-only; MountAccess RW is refused
//!   - path: /mnt/nas           # a NAS file system mounted here: nas://HOST/x is /mnt/nas/x
//!     nas: 0a1b2c-xyz.cn-hangzhou.nas.aliyuncs.com
//! object_stores:               # S3-compatible stores for oss:// and s3:// DataSources
//!   - endpoint: http://127.0.0.1:9000
//!     region: us-east-1        # default us-east-1
//!     access_key_id: AK
//!     secret_access_key: SK    # only the server reads it: pods never get the key
//!     buckets: [imagenet]      # the buckets it serves (default: any)
//!     workspaces: [ws-vision]  # the workspaces that may use it (default: every one)
//! ```
//!
//! CreateJob checks a job's sources against it ([`check`]); the engine turns them into what
//! its pods get ([`resolve`], and [`local_mounts`] for a role's `LocalMountSpecs`): a checkout
//! to make and the mounts to set up. Every host path is checked by [`roots::Grants`].

pub mod objects;
pub mod roots;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opendlc_api::CreateJobRequest;
use opendlc_core::error::Invalid;
use opendlc_core::sources::{
    code_mount_path, local_path, location, Location, DEFAULT_CODE_MOUNT_PATH,
};
use opendlc_runtime::pod::mounts::Mount;
use opendlc_runtime::pod::prepare::CodeCheckout;
use roots::{Grants, RootConfig, Use};
use serde::Deserialize;

pub const SOURCES_FILE: &str = "sources.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    #[serde(default)]
    pub code_sources: BTreeMap<String, CodeSourceConfig>,
    #[serde(default)]
    pub data_sources: BTreeMap<String, DataSourceConfig>,
    #[serde(default)]
    pub roots: Vec<RootConfig>,
    #[serde(default)]
    pub object_stores: Vec<objects::ObjectStoreConfig>,
}

/// Where a job's host paths are checked: its workspace, and the server's own directories,
/// which are never granted.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub workspace_id: &'a str,
    pub protected: &'a [&'a Path],
}

impl<'a> Place<'a> {
    /// The roots `config` grants here.
    fn grants(self, config: &'a SourcesConfig) -> Grants<'a> {
        Grants {
            roots: &config.roots,
            workspace_id: self.workspace_id,
            protected: self.protected,
            also: &[],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSourceConfig {
    pub repo: String,
    #[serde(default = "default_branch")]
    pub branch: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSourceConfig {
    pub uri: String,
    /// Where a job that names it without a MountPath sees it (default `/mnt/data/<id>`).
    #[serde(default)]
    pub mount_path: Option<String>,
}

/// Gives each DataSource named by its DataSourceId without a MountPath the registered one (or
/// `/mnt/data/<DataSourceId>`), as PAI mounts a dataset at its default path; the request then
/// holds the path its pods use. A DataSourceId that is not registered is left for [`check`].
pub fn fill_default_mount_paths(
    data_dir: &Path,
    req: &mut CreateJobRequest,
) -> Result<(), Invalid> {
    let wants_default = |ds: &opendlc_api::CreateJobRequestDataSources| {
        ds.mount_path.as_deref().is_none_or(str::is_empty)
            && ds.uri.as_deref().is_none_or(str::is_empty)
            && ds
                .data_source_id
                .as_deref()
                .is_some_and(|id| !id.is_empty())
    };
    if !req.data_sources.iter().flatten().any(wants_default) {
        return Ok(());
    }
    let config = load(data_dir).map_err(|e| Invalid::value("DataSources", e))?;
    for ds in req.data_sources.iter_mut().flatten() {
        if !wants_default(ds) {
            continue;
        }
        let id = ds.data_source_id.clone().unwrap_or_default();
        let registered = config
            .data_sources
            .get(&id)
            .and_then(|s| s.mount_path.clone());
        ds.mount_path = Some(registered.unwrap_or_else(|| format!("/mnt/data/{id}")));
    }
    Ok(())
}

fn default_branch() -> String {
    "main".into()
}

/// The registered sources; none without the file.
pub fn load(data_dir: &Path) -> Result<SourcesConfig, String> {
    let path = data_dir.join(SOURCES_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_yaml_ng::from_str(&text)
            .map_err(|e| format!("{} is not valid: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SourcesConfig::default()),
        Err(e) => Err(format!("failed to read {}: {e}", path.display())),
    }
}

/// Whether some DataSource may be in an object store: an `oss://` or `s3://` Uri, or a
/// registered DataSourceId (whose Uri only `sources.yaml` knows).
pub fn may_name_objects(req: &CreateJobRequest) -> bool {
    req.data_sources
        .iter()
        .flatten()
        .any(|ds| match ds.uri.as_deref().filter(|u| !u.is_empty()) {
            Some(uri) => matches!(location(uri), Ok(Location::Objects { .. })),
            None => ds.data_source_id.is_some(),
        })
}

/// Where a `nas://HOST/PATH` is on this host: under the root declared for that file system.
fn nas_path(config: &SourcesConfig, host: &str, path: &str) -> Option<PathBuf> {
    let root = config
        .roots
        .iter()
        .find(|r| r.nas.as_deref() == Some(host))?;
    Some(root.path.join(path.trim_start_matches('/')))
}

/// What a job's pods get from its sources.
#[derive(Debug, Default)]
pub struct Resolved {
    pub code: Option<CodeCheckout>,
    pub mounts: Vec<Mount>,
    /// Object store sources to stage before the pods start (their mounts are in `mounts`).
    pub stages: Vec<objects::Stage>,
    /// Where the CodeSource appears in the pods, and where it is on this host.
    pub code_paths: Option<(PathBuf, PathBuf)>,
}

/// Checks at CreateJob that the sources a job names exist here and that the host paths it names
/// are granted to its workspace (the rules on their form are `opendlc_core::sources`'s).
pub fn check(data_dir: &Path, place: Place<'_>, req: &CreateJobRequest) -> Result<(), Invalid> {
    let needs_config = req.code_source.is_some()
        || req.data_sources.is_some()
        || req
            .thirdparty_lib_dir
            .as_ref()
            .is_some_and(|d| !d.is_empty())
        || req
            .thirdparty_libs
            .iter()
            .flatten()
            .any(|l| lib_path(l).is_some())
        || req
            .job_specs
            .iter()
            .flatten()
            .any(|s| s.local_mount_specs.as_ref().is_some_and(|m| !m.is_empty()));
    if !needs_config {
        return Ok(());
    }
    let config = load(data_dir).map_err(|e| Invalid::value("DataSources", e))?;
    resolve(&config, req, Path::new("/"), place)?;
    for r in 0..req.job_specs.as_ref().map_or(0, Vec::len) {
        local_mounts(&config, req, r, place)?;
    }
    Ok(())
}

/// The host directories `JobSpecs[r].LocalMountSpecs` mounts into the role's pods, each
/// checked against the roots granted to the job's workspace (read-write where the root is).
pub fn local_mounts(
    config: &SourcesConfig,
    req: &CreateJobRequest,
    r: usize,
    place: Place<'_>,
) -> Result<Vec<Mount>, Invalid> {
    let grants = place.grants(config);
    let specs = req.job_specs.as_deref().unwrap_or_default();
    let mounts = specs.get(r).and_then(|s| s.local_mount_specs.as_deref());
    let mut resolved = Vec::new();
    for (j, mount) in mounts.unwrap_or_default().iter().enumerate() {
        let field = format!("JobSpecs[{r}].LocalMountSpecs[{j}].LocalPath");
        let path = local_path(mount.local_path.as_deref().unwrap_or_default())
            .map_err(|e| Invalid::value(&field, e.to_string()))?;
        let granted = grants.check(&field, path, Use::Mount(None))?;
        resolved.push(Mount {
            source: granted.path,
            target: mount.mount_path.clone().unwrap_or_default().into(),
            read_only: granted.read_only,
        });
    }
    Ok(resolved)
}

/// The local file a ThirdpartyLibs entry names (`/w/x.whl`, `file:///w/x.whl`,
/// `name @ file:///w/x.whl`), if it names one.
fn lib_path(lib: &str) -> Option<&str> {
    let lib = lib.trim();
    if lib.starts_with('/') {
        return Some(lib);
    }
    let at = lib.find("file://")?;
    let path = &lib[at + "file://".len()..];
    Some(path.split([' ', ';', '#']).next().unwrap_or(path))
}

/// The job's sources on this host; `job_dir` is where its checkout and staged objects go. Every host path the
/// request names is checked against the roots granted to its workspace.
pub fn resolve(
    config: &SourcesConfig,
    req: &CreateJobRequest,
    job_dir: &Path,
    place: Place<'_>,
) -> Result<Resolved, Invalid> {
    let code_dir = job_dir.join("code");
    let grants = place.grants(config);
    let mut resolved = Resolved::default();
    for (i, ds) in req.data_sources.iter().flatten().enumerate() {
        let field = |name: &str| format!("DataSources[{i}].{name}");
        let uri = match (
            ds.uri.as_deref().filter(|u| !u.is_empty()),
            ds.data_source_id.as_deref(),
        ) {
            (Some(uri), _) => uri.to_string(),
            (None, Some(id)) => match config.data_sources.get(id) {
                Some(source) => source.uri.clone(),
                None => {
                    return Err(Invalid::value(
                        field("DataSourceId"),
                        format!(
                            "no data source \"{id}\" is registered on this server ({SOURCES_FILE})"
                        ),
                    ))
                }
            },
            (None, None) => return Err(Invalid::value(field("Uri"), "is missing")),
        };
        let asked = match ds.mount_access.as_deref() {
            Some("RO") => Some(false),
            Some("RW") => Some(true),
            _ => None,
        };
        let target = PathBuf::from(ds.mount_path.clone().unwrap_or_default());
        let source = match location(&uri).map_err(|e| Invalid::value(field("Uri"), e))? {
            Location::Local(path) => PathBuf::from(path),
            Location::Nas { host, path } => nas_path(config, host, path).ok_or_else(|| {
                Invalid::value(
                    field("Uri"),
                    format!(
                        "no NAS file system \"{host}\" is mounted on this server \
                             (roots with nas: in {SOURCES_FILE})"
                    ),
                )
            })?,
            Location::Objects { bucket, prefix, .. } => {
                let store = config
                    .object_stores
                    .iter()
                    .find(|s| s.serves(bucket, place.workspace_id))
                    .ok_or_else(|| {
                        Invalid::value(
                            field("Uri"),
                            format!(
                                "no object store on this server serves bucket \"{bucket}\" to \
                                 workspace {} (object_stores in {SOURCES_FILE})",
                                place.workspace_id
                            ),
                        )
                    })?;
                let dest = job_dir.join("objects").join(i.to_string());
                let writable = asked == Some(true);
                resolved.stages.push(objects::Stage {
                    field: format!("DataSources[{i}]"),
                    uri: uri.clone(),
                    store: store.clone(),
                    bucket: bucket.to_string(),
                    prefix: match prefix.trim_end_matches('/') {
                        "" => String::new(),
                        p => format!("{p}/"),
                    },
                    dest: dest.clone(),
                    writable,
                });
                resolved.mounts.push(Mount {
                    source: dest,
                    target,
                    read_only: !writable,
                });
                continue;
            }
        };
        let granted = grants.check(&field("Uri"), &source.to_string_lossy(), Use::Mount(asked))?;
        resolved.mounts.push(Mount {
            source: granted.path,
            target,
            read_only: granted.read_only,
        });
    }
    for (i, lib) in req.thirdparty_libs.iter().flatten().enumerate() {
        if let Some(path) = lib_path(lib) {
            // Missing under a granted root, pip says so in the pod's log.
            grants.check(&format!("ThirdpartyLibs[{i}]"), path, Use::Watch)?;
        }
    }
    if let Some(dir) = req.thirdparty_lib_dir.as_deref().filter(|d| !d.is_empty()) {
        let dir = local_path(dir).map_err(|e| Invalid::value("ThirdpartyLibDir", e.to_string()))?;
        // Inside the CodeSource's checkout, it is the job's own code.
        let code = req.code_source.as_ref().map(|_| {
            Path::new(code_mount_path(req).unwrap_or(DEFAULT_CODE_MOUNT_PATH)).to_path_buf()
        });
        if !code.is_some_and(|code| Path::new(dir).starts_with(code)) {
            grants.check("ThirdpartyLibDir", dir, Use::Watch)?;
        }
    }
    if let Some(code) = &req.code_source {
        let id = code.code_source_id.as_deref().unwrap_or_default();
        let Some(source) = config.code_sources.get(id) else {
            return Err(Invalid::value(
                "CodeSource.CodeSourceId",
                format!("no code source \"{id}\" is registered on this server ({SOURCES_FILE})"),
            ));
        };
        let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let revision = nonempty(&code.commit)
            .or_else(|| nonempty(&code.branch))
            .unwrap_or_else(|| source.branch.clone());
        let target = PathBuf::from(code_mount_path(req).unwrap_or(DEFAULT_CODE_MOUNT_PATH));
        resolved.code = Some(CodeCheckout {
            repo: source.repo.clone(),
            revision,
            dest: code_dir.clone(),
        });
        resolved.mounts.push(Mount {
            source: code_dir.clone(),
            target: target.clone(),
            read_only: false,
        });
        resolved.code_paths = Some((target, code_dir));
    }
    Ok(resolved)
}

#[cfg(test)]
mod nas {
    use super::*;

    #[test]
    fn a_nas_path_is_below_the_root_declared_for_its_file_system() {
        let config: SourcesConfig = serde_yaml_ng::from_str(
            "roots:\n  - path: /data\n  - path: /mnt/nas\n    nas: fs-1.nas.example.com\n",
        )
        .unwrap();
        assert_eq!(
            nas_path(&config, "fs-1.nas.example.com", "share/x"),
            Some(PathBuf::from("/mnt/nas/share/x"))
        );
        assert_eq!(nas_path(&config, "fs-2.nas.example.com", "x"), None);
    }
}

#[cfg(test)]
mod default_mount_paths {
    use super::*;

    #[test]
    fn a_data_source_named_by_id_alone_gets_its_registered_mount_path_or_the_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SOURCES_FILE),
            "data_sources:\n  d-one:\n    uri: /data/one\n    mount_path: /mnt/one\n  d-two:\n    uri: /data/two\n",
        )
        .unwrap();
        let mut req: CreateJobRequest = serde_json::from_value(serde_json::json!({
            "DataSources": [
                {"DataSourceId": "d-one"},
                {"DataSourceId": "d-two"},
                {"DataSourceId": "d-two", "MountPath": "/mine"},
                {"Uri": "/data/three"},
            ],
        }))
        .unwrap();
        fill_default_mount_paths(dir.path(), &mut req).unwrap();
        let paths: Vec<Option<&str>> = req
            .data_sources
            .iter()
            .flatten()
            .map(|d| d.mount_path.as_deref())
            .collect();
        assert_eq!(
            paths,
            [
                Some("/mnt/one"),
                Some("/mnt/data/d-two"),
                Some("/mine"),
                None
            ]
        );
    }
}
