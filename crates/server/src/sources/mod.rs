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
//! ```
//!
//! CreateJob checks a job's sources against it ([`check`]); the engine turns them into what
//! its pods get ([`resolve`]): a checkout to make and the mounts to set up. Every host path is
//! checked by [`roots::Grants`].

pub mod roots;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opendlc_api::CreateJobRequest;
use opendlc_core::error::Invalid;
use opendlc_core::sources::{code_mount_path, local_path, DEFAULT_CODE_MOUNT_PATH};
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
}

/// Where a job's host paths are checked: its workspace, and the server's own directories,
/// which are never granted.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub workspace_id: &'a str,
    pub protected: &'a [&'a Path],
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

/// What a job's pods get from its sources.
#[derive(Debug, Default)]
pub struct Resolved {
    pub code: Option<CodeCheckout>,
    pub mounts: Vec<Mount>,
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
            .any(|l| lib_path(l).is_some());
    if !needs_config {
        return Ok(());
    }
    let config = load(data_dir).map_err(|e| Invalid::value("DataSources", e))?;
    resolve(&config, req, Path::new("/"), place).map(|_| ())
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

/// The job's sources on this host; `code_dir` is where its checkout goes. Every host path the
/// request names is checked against the roots granted to its workspace.
pub fn resolve(
    config: &SourcesConfig,
    req: &CreateJobRequest,
    code_dir: &Path,
    place: Place<'_>,
) -> Result<Resolved, Invalid> {
    let grants = Grants {
        roots: &config.roots,
        workspace_id: place.workspace_id,
        protected: place.protected,
        also: &[],
    };
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
        let source = local_path(&uri).map_err(|e| Invalid::value(field("Uri"), e.to_string()))?;
        let asked = match ds.mount_access.as_deref() {
            Some("RO") => Some(false),
            Some("RW") => Some(true),
            _ => None,
        };
        let granted = grants.check(&field("Uri"), source, Use::Mount(asked))?;
        resolved.mounts.push(Mount {
            source: granted.path,
            target: ds.mount_path.clone().unwrap_or_default().into(),
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
            dest: code_dir.to_path_buf(),
        });
        resolved.mounts.push(Mount {
            source: code_dir.to_path_buf(),
            target: target.clone(),
            read_only: false,
        });
        resolved.code_paths = Some((target, code_dir.to_path_buf()));
    }
    Ok(resolved)
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
