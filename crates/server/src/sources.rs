//! Code and data sources registered on this server, in `<data-dir>/sources.yaml`:
//!
//! ```yaml
//! code_sources:
//!   code-demo:                 # a job's CodeSource.CodeSourceId
//!     repo: /srv/git/demo.git  # anything `git clone` takes
//!     branch: main             # checked out when the job names no Branch or Commit
//! data_sources:
//!   d-imagenet:                # a job's DataSources[].DataSourceId
//!     uri: /data/imagenet      # a local path (or file:// URI)
//! ```
//!
//! CreateJob checks a job's sources against it ([`check`]); the engine turns them into what
//! its pods get ([`resolve`]): a checkout to make and the mounts to set up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opendlc_api::CreateJobRequest;
use opendlc_core::error::Invalid;
use opendlc_core::sources::{code_mount_path, local_path, DEFAULT_CODE_MOUNT_PATH};
use opendlc_runtime::pod::mounts::Mount;
use opendlc_runtime::pod::prepare::CodeCheckout;
use serde::Deserialize;

pub const SOURCES_FILE: &str = "sources.yaml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    #[serde(default)]
    pub code_sources: BTreeMap<String, CodeSourceConfig>,
    #[serde(default)]
    pub data_sources: BTreeMap<String, DataSourceConfig>,
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

/// Checks at CreateJob that the sources a job names exist here (the rules on their form are
/// `opendlc_core::sources`'s).
pub fn check(data_dir: &Path, req: &CreateJobRequest) -> Result<(), Invalid> {
    let needs_config = req.code_source.is_some() || req.data_sources.is_some();
    if !needs_config {
        return Ok(());
    }
    let config = load(data_dir).map_err(|e| Invalid::value("DataSources", e))?;
    resolve(&config, req, Path::new("/")).map(|_| ())
}

/// The job's sources on this host; `code_dir` is where its checkout goes.
pub fn resolve(
    config: &SourcesConfig,
    req: &CreateJobRequest,
    code_dir: &Path,
) -> Result<Resolved, Invalid> {
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
        if !Path::new(source).exists() {
            return Err(Invalid::value(
                field("Uri"),
                format!("{source} does not exist on this server"),
            ));
        }
        resolved.mounts.push(Mount {
            source: source.into(),
            target: ds.mount_path.clone().unwrap_or_default().into(),
            read_only: ds.mount_access.as_deref() == Some("RO"),
        });
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
