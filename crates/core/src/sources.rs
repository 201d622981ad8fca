//! What a job brings besides its command, checked at CreateJob: `ThirdpartyLibs` and
//! `ThirdpartyLibDir` (pip-installed into the job's venv before the command runs),
//! `DataSources` (local directories mounted at their MountPath) and `CodeSource` (a repository
//! registered on the server, checked out and mounted), and each role's `LocalMountSpecs` (host
//! directories mounted into its pods).

use opendlc_api::{CreateJobRequest, JobSpec};

use crate::error::Invalid;

const MAX_LIBS: usize = 100;
const MAX_LIB_LEN: usize = 256;

pub fn validate(req: &CreateJobRequest) -> Result<(), Invalid> {
    let libs = req.thirdparty_libs.as_deref().unwrap_or_default();
    if libs.len() > MAX_LIBS {
        return Err(Invalid::value(
            "ThirdpartyLibs",
            format!("at most {MAX_LIBS} entries, got {}", libs.len()),
        ));
    }
    for (i, lib) in libs.iter().enumerate() {
        let field = format!("ThirdpartyLibs[{i}]");
        let rule = if lib.trim().is_empty() {
            Some("must not be empty".to_string())
        } else if lib.len() > MAX_LIB_LEN {
            Some(format!("at most {MAX_LIB_LEN} characters"))
        } else if lib.chars().any(|c| c.is_control()) {
            Some("must be one requirement, without line breaks or control characters".into())
        } else if lib.trim_start().starts_with('-') {
            Some(format!(
                "must be a requirement (\"numpy==1.26.4\"), not a pip option: \"{lib}\""
            ))
        } else {
            None
        };
        if let Some(rule) = rule {
            return Err(Invalid::value(field, rule));
        }
    }
    if let Some(dir) = req.thirdparty_lib_dir.as_deref().filter(|d| !d.is_empty()) {
        local_path(dir).map_err(|e| Invalid::value("ThirdpartyLibDir", e.to_string()))?;
    }
    let mut targets: Vec<(String, &str)> = Vec::new();
    for (i, ds) in req.data_sources.iter().flatten().enumerate() {
        let field = |name: &str| format!("DataSources[{i}].{name}");
        let uri = ds.uri.as_deref().filter(|u| !u.is_empty());
        let id = ds.data_source_id.as_deref().filter(|u| !u.is_empty());
        match (uri, id) {
            (Some(uri), _) => {
                location(uri).map_err(|e| Invalid::value(field("Uri"), e))?;
            }
            (None, Some(_)) => {}
            (None, None) => {
                return Err(Invalid::value(
                    field("Uri"),
                    "a data source needs a Uri (a local path) or a DataSourceId",
                ))
            }
        }
        let target = ds.mount_path.as_deref().unwrap_or_default();
        mount_path(target).map_err(|rule| Invalid::value(field("MountPath"), rule))?;
        if let Some(access) = ds.mount_access.as_deref().filter(|a| !a.is_empty()) {
            if !["RO", "RW"].contains(&access) {
                return Err(Invalid::value(
                    field("MountAccess"),
                    format!("must be RO or RW, got \"{access}\""),
                ));
            }
        }
        targets.push((field("MountPath"), target));
    }
    if let Some(code) = &req.code_source {
        let id = code.code_source_id.as_deref().unwrap_or_default();
        if id.is_empty() {
            return Err(Invalid::value(
                "CodeSource.CodeSourceId",
                "names a code source registered on this server (sources.yaml)",
            ));
        }
        for (name, value) in [("Branch", &code.branch), ("Commit", &code.commit)] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                git_ref(value)
                    .map_err(|rule| Invalid::value(format!("CodeSource.{name}"), rule))?;
            }
        }
        let target = code_mount_path(req).unwrap_or(DEFAULT_CODE_MOUNT_PATH);
        mount_path(target).map_err(|rule| Invalid::value("CodeSource.MountPath", rule))?;
        targets.push(("CodeSource.MountPath".into(), target));
    }
    apart(&targets)?;
    for (r, spec) in req.job_specs.iter().flatten().enumerate() {
        let mut pod_targets = targets.clone();
        pod_targets.extend(local_mounts(r, spec)?);
        pod_targets.extend(shared_volumes(r, spec)?);
        apart(&pod_targets)?;
    }
    Ok(())
}

/// Checks a role's `ExtraPodSpec.SharedVolumeMountPaths` (an empty directory of each pod's own,
/// shared by its containers); returns their targets, by field.
fn shared_volumes(r: usize, spec: &JobSpec) -> Result<Vec<(String, &str)>, Invalid> {
    let paths = spec
        .extra_pod_spec
        .as_ref()
        .and_then(|e| e.shared_volume_mount_paths.as_deref())
        .unwrap_or_default();
    let mut targets = Vec::new();
    for (j, path) in paths.iter().enumerate() {
        let field = format!("JobSpecs[{r}].ExtraPodSpec.SharedVolumeMountPaths[{j}]");
        mount_path(path).map_err(|rule| Invalid::value(&field, rule))?;
        targets.push((field, path.as_str()));
    }
    Ok(targets)
}

/// Checks a role's `LocalMountSpecs` (host directories mounted into its pods); returns their
/// targets, by field.
fn local_mounts(r: usize, spec: &JobSpec) -> Result<Vec<(String, &str)>, Invalid> {
    let mut targets = Vec::new();
    for (j, mount) in spec.local_mount_specs.iter().flatten().enumerate() {
        let field = |name: &str| format!("JobSpecs[{r}].LocalMountSpecs[{j}].{name}");
        match mount.mount_mode.as_deref().filter(|m| !m.is_empty()) {
            None | Some("Filesystem") => {}
            Some("Block") => return Err(Invalid::value(
                field("MountMode"),
                "Block devices are not passed into pods here; mount a directory with Filesystem",
            )),
            Some(other) => {
                return Err(Invalid::value(
                    field("MountMode"),
                    format!("must be Filesystem or Block, got \"{other}\""),
                ))
            }
        }
        let local = mount
            .local_path
            .as_deref()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Invalid::missing(field("LocalPath")))?;
        local_path(local).map_err(|e| Invalid::value(field("LocalPath"), e.to_string()))?;
        let target = mount.mount_path.as_deref().unwrap_or_default();
        mount_path(target).map_err(|rule| Invalid::value(field("MountPath"), rule))?;
        targets.push((field("MountPath"), target));
    }
    Ok(targets)
}

/// No mount path of a pod may lie in another's.
fn apart(targets: &[(String, &str)]) -> Result<(), Invalid> {
    for (i, (field, target)) in targets.iter().enumerate() {
        let clash = targets[..i].iter().find(|(_, t)| {
            let (a, b) = (t.trim_end_matches('/'), target.trim_end_matches('/'));
            a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
        });
        if let Some((other, _)) = clash {
            return Err(Invalid::value(
                field.clone(),
                format!("\"{target}\" overlaps {other}; mount paths must be apart"),
            ));
        }
    }
    Ok(())
}

/// Where a CodeSource is mounted unless it says (PAI-DLC's console default).
pub const DEFAULT_CODE_MOUNT_PATH: &str = "/root/code/";

/// The CodeSource's MountPath as given.
pub fn code_mount_path(req: &CreateJobRequest) -> Option<&str> {
    req.code_source
        .as_ref()
        .and_then(|c| c.mount_path.as_deref())
        .filter(|m| !m.is_empty())
}

fn mount_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.trim_end_matches('/').is_empty() {
        return Err(format!(
            "must be an absolute path other than /, got \"{path}\""
        ));
    }
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err(format!("must not contain \".\" or \"..\", got \"{path}\""));
    }
    Ok(())
}

/// A branch or commit name git takes as such (and not as an option).
fn git_ref(name: &str) -> Result<(), String> {
    let ok = !name.starts_with('-')
        && !name.contains("..")
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be a branch or commit name ([A-Za-z0-9._/-], not starting with -), got \"{name}\""
        ))
    }
}

/// A data location this server cannot mount: it is remote, relative, or climbs out with `..`.
/// The message, shown to API users after the field's name, names the location as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotLocalPath {
    #[error(
        "\"{uri}\" is a {scheme}:// location; this server reaches only local paths \
         (/data/x or file:///data/x)"
    )]
    Remote { uri: String, scheme: String },
    #[error("\"{0}\" must be an absolute path")]
    Relative(String),
    #[error("\"{0}\" must not contain \"..\"")]
    ParentDir(String),
}

/// Where a DataSource's Uri points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location<'a> {
    /// A path on this host (`/data/x`, `file:///data/x`).
    Local(&'a str),
    /// Objects under a key prefix of a bucket (`oss://BUCKET[.ENDPOINT]/PREFIX`,
    /// `s3://BUCKET/PREFIX`), from an object store the administrator declared.
    Objects {
        scheme: &'a str,
        bucket: &'a str,
        /// Without its leading `/`; empty for the whole bucket.
        prefix: &'a str,
    },
    /// A path in a NAS file system the administrator mounted on this host
    /// (`nas://HOST/PATH`).
    Nas { host: &'a str, path: &'a str },
}

/// Reads a DataSource's Uri: a local path, an object store's prefix or a NAS path. The error
/// names the location and the rule.
pub fn location(uri: &str) -> Result<Location<'_>, String> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return local_path(uri)
            .map(Location::Local)
            .map_err(|e| e.to_string());
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err(format!("\"{uri}\" must not contain \".\" or \"..\""));
    }
    match scheme {
        "file" => local_path(uri)
            .map(Location::Local)
            .map_err(|e| e.to_string()),
        "oss" | "s3" => {
            // OSS names its endpoint after the bucket: oss://BUCKET.oss-REGION.aliyuncs.com/...
            let bucket = if scheme == "oss" {
                host.split('.').next().unwrap_or_default()
            } else {
                host
            };
            let valid = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && !bucket.starts_with(['-', '.'])
                && !bucket.ends_with(['-', '.']);
            if !valid {
                return Err(format!(
                    "\"{uri}\" must name a bucket ({scheme}://BUCKET/PREFIX; 3-63 of a-z, 0-9, \
                     - and .), got \"{bucket}\""
                ));
            }
            Ok(Location::Objects {
                scheme,
                bucket,
                prefix: path,
            })
        }
        "nas" => {
            let host = host.trim_end_matches(':');
            if host.is_empty() {
                return Err(format!(
                    "\"{uri}\" must name a file system (nas://HOST/PATH)"
                ));
            }
            Ok(Location::Nas { host, path })
        }
        _ => Err(format!(
            "\"{uri}\" is a {scheme}:// location; a data source here is a local path \
             (/data/x or file:///data/x), oss:// or s3:// objects, or a nas:// path"
        )),
    }
}

/// A local absolute path, given as such or as a `file://` URI.
pub fn local_path(uri: &str) -> Result<&str, NotLocalPath> {
    let path = match uri.split_once("://") {
        None => uri,
        Some(("file", path)) => path,
        Some((scheme, _)) => {
            return Err(NotLocalPath::Remote {
                uri: uri.to_string(),
                scheme: scheme.to_string(),
            })
        }
    };
    if !path.starts_with('/') {
        return Err(NotLocalPath::Relative(uri.to_string()));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(NotLocalPath::ParentDir(uri.to_string()));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendlc_api::{CreateJobRequestCodeSource, CreateJobRequestDataSources};

    #[test]
    fn data_sources_are_local_and_mount_paths_apart() {
        let ds = |uri: &str, at: &str| CreateJobRequestDataSources {
            uri: Some(uri.into()),
            mount_path: Some(at.into()),
            ..Default::default()
        };
        let mut r = CreateJobRequest {
            data_sources: Some(vec![
                ds("/data/a", "/mnt/a"),
                ds("file:///data/b", "/mnt/b"),
            ]),
            code_source: Some(CreateJobRequestCodeSource {
                code_source_id: Some("code-1".into()),
                branch: Some("main".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(validate(&r).is_ok());
        r.data_sources = Some(vec![ds("hdfs://nn/x/", "/mnt/a")]);
        let err = validate(&r).unwrap_err().to_string();
        assert!(
            err.contains("DataSources[0].Uri") && err.contains("hdfs://"),
            "{err}"
        );
        r.data_sources = Some(vec![ds("oss://Bucket/x/", "/mnt/a")]);
        let err = validate(&r).unwrap_err().to_string();
        assert!(err.contains("must name a bucket"), "{err}");
        r.data_sources = Some(vec![ds("/data/a", "/root/code/data")]);
        let err = validate(&r).unwrap_err().to_string();
        assert!(
            err.contains("CodeSource.MountPath") && err.contains("overlaps"),
            "{err}"
        );
        r.data_sources = Some(vec![ds("/data/a", "mnt")]);
        assert!(validate(&r).unwrap_err().to_string().contains("MountPath"));
    }

    fn req(libs: &[&str], dir: Option<&str>) -> CreateJobRequest {
        CreateJobRequest {
            thirdparty_libs: Some(libs.iter().map(|s| s.to_string()).collect()),
            thirdparty_lib_dir: dir.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn libs_are_requirements_and_the_dir_is_local() {
        assert!(validate(&req(&["numpy==1.26.4", "/w/x.whl"], Some("file:///code/"))).is_ok());
        let err = validate(&req(&["--index-url=http://x"], None)).unwrap_err();
        assert!(err.to_string().contains("ThirdpartyLibs[0]"), "{err}");
        let err = validate(&req(&["a\nb"], None)).unwrap_err();
        assert!(err.to_string().contains("line breaks"), "{err}");
        let err = validate(&req(&[], Some("oss://bucket/code/"))).unwrap_err();
        assert!(err.to_string().contains("ThirdpartyLibDir"), "{err}");
        assert!(local_path("code").is_err());
        assert!(git_ref("--upload-pack=x").is_err());
        assert!(mount_path("/").is_err() && mount_path("/a/../b").is_err());
        assert_eq!(local_path("file:///d/x"), Ok("/d/x"));
    }

    #[test]
    fn a_data_source_is_local_an_object_prefix_or_a_nas_path() {
        assert_eq!(location("/d/x"), Ok(Location::Local("/d/x")));
        assert_eq!(
            location("oss://imagenet.oss-cn-hangzhou-internal.aliyuncs.com/train/"),
            Ok(Location::Objects {
                scheme: "oss",
                bucket: "imagenet",
                prefix: "train/"
            })
        );
        assert_eq!(
            location("s3://my.data/a/b"),
            Ok(Location::Objects {
                scheme: "s3",
                bucket: "my.data",
                prefix: "a/b"
            })
        );
        assert_eq!(
            location("nas://0a1b-x.cn-hangzhou.nas.aliyuncs.com:/share/x"),
            Ok(Location::Nas {
                host: "0a1b-x.cn-hangzhou.nas.aliyuncs.com",
                path: "share/x"
            })
        );
        assert!(location("s3://b/a/../c").unwrap_err().contains(".."));
        assert!(location("s3://ab/c").unwrap_err().contains("bucket"));
    }

    #[test]
    fn a_path_that_is_not_local_says_why() {
        let message = |uri| local_path(uri).unwrap_err().to_string();
        assert_eq!(
            message("oss://bucket/x"),
            r#""oss://bucket/x" is a oss:// location; this server reaches only local paths (/data/x or file:///data/x)"#
        );
        assert_eq!(message("code"), r#""code" must be an absolute path"#);
        assert_eq!(message("/d/../x"), r#""/d/../x" must not contain "..""#);
    }
}
