//! Host paths are granted, not taken: a path a request names (a DataSource's Uri, a wheel in
//! ThirdpartyLibs, ThirdpartyLibDir, a TensorBoard's SummaryPath) is used only when, once its
//! symbolic links and `..` are resolved, it lies inside a root the administrator declared for
//! the request's workspace (`roots:` in `sources.yaml`), and neither holds nor is inside the
//! server's own directories.
//!
//! A refusal never says whether the path exists: a missing path outside every root gets the
//! same message as an existing one. Only under a granted root may the answer say that a path
//! does not exist (the caller may look there anyway).

use std::path::{Component, Path, PathBuf};

use opendlc_core::error::Invalid;
use serde::Deserialize;

use super::SOURCES_FILE;

/// One `roots:` entry of `sources.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootConfig {
    pub path: PathBuf,
    /// The workspaces (ids) it is granted to; absent: every workspace.
    #[serde(default)]
    pub workspaces: Option<Vec<String>>,
    /// Mounted read-only whatever a request asks (an explicit `MountAccess: RW` is refused).
    #[serde(default)]
    pub read_only: bool,
    /// The NAS file system mounted at `path` (its host, as `nas://HOST/...` names it).
    #[serde(default)]
    pub nas: Option<String>,
}

impl RootConfig {
    fn granted_to(&self, workspace_id: &str) -> bool {
        self.workspaces
            .as_ref()
            .is_none_or(|ws| ws.iter().any(|w| w == workspace_id))
    }
}

/// What a request wants to do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Read it (a wheel, a requirements directory, summaries).
    Read,
    /// Mount it, read-write when `Some(true)` was asked explicitly, read-only for `Some(false)`,
    /// as the root allows when nothing was asked.
    Mount(Option<bool>),
    /// Read it once it exists, or let its reader say it is missing (a job's summaries, written
    /// later; a wheel pip reports missing).
    Watch,
}

/// A path granted to a request: where it really is, and whether it must be read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub path: PathBuf,
    pub read_only: bool,
}

/// Where the check happens: the roots, the workspace asking, the directories never granted (the
/// data directory, a shared job directory), and any further directory this request may read
/// whole (a readable job's working directory, for a TensorBoard).
pub struct Grants<'a> {
    pub roots: &'a [RootConfig],
    pub workspace_id: &'a str,
    pub protected: &'a [&'a Path],
    pub also: &'a [PathBuf],
}

impl Grants<'_> {
    /// `path` (absolute, as the request gave it) for `field`, or the refusal.
    pub fn check(&self, field: &str, path: &str, wanted: Use) -> Result<Granted, Invalid> {
        let (real, exists) = real_path(Path::new(path));
        let refuse = || Invalid::value(field, self.refusal(path));
        let Some(real) = real else {
            return Err(refuse());
        };
        // A job's own directory is inside the data directory: it is given through `also`.
        let also = self
            .also
            .iter()
            .filter_map(|a| real_path(a).0)
            .find(|a| real.starts_with(a));
        let protected = self.protected.iter().filter_map(|p| p.canonicalize().ok());
        for server_dir in protected {
            if (real.starts_with(&server_dir) && also.is_none()) || server_dir.starts_with(&real) {
                return Err(refuse());
            }
        }
        let root = self
            .roots
            .iter()
            .filter(|r| r.granted_to(self.workspace_id))
            .filter_map(|r| Some((r.path.canonicalize().ok()?, r.read_only)))
            .filter(|(root, _)| real.starts_with(root))
            .min_by_key(|(_, read_only)| !read_only);
        let read_only = match (also, root) {
            (Some(_), _) => false,
            (None, Some((_, read_only))) => read_only,
            (None, None) => return Err(refuse()),
        };
        if !exists && wanted != Use::Watch {
            return Err(Invalid::value(
                field,
                format!("{path} does not exist on this server"),
            ));
        }
        let read_only = match wanted {
            Use::Mount(Some(true)) if read_only => {
                return Err(Invalid::value(
                    field,
                    format!("\"{path}\" is granted read-only; mount it with MountAccess RO"),
                ))
            }
            Use::Mount(Some(rw)) => !rw,
            Use::Mount(None) | Use::Read | Use::Watch => read_only,
        };
        Ok(Granted {
            path: real,
            read_only,
        })
    }

    fn refusal(&self, path: &str) -> String {
        let granted: Vec<String> = self
            .roots
            .iter()
            .filter(|r| r.granted_to(self.workspace_id))
            .map(|r| {
                let ro = if r.read_only { " (read-only)" } else { "" };
                format!("{}{ro}", r.path.display())
            })
            .chain(self.also.iter().map(|a| a.display().to_string()))
            .collect();
        let ws = self.workspace_id;
        if granted.is_empty() {
            format!(
                "\"{path}\" is not a path granted to workspace {ws}: no host path is granted to \
                 it (an administrator declares them under roots: in {SOURCES_FILE})"
            )
        } else {
            format!(
                "\"{path}\" is not a path granted to workspace {ws}; granted: {}",
                granted.join(", ")
            )
        }
    }
}

/// The path with its symbolic links and `..` resolved, and whether it exists. For a missing
/// path, its deepest existing ancestor is resolved and the rest appended, so a symbolic link
/// out of a root is followed all the same; `None` when the rest would climb (`..`).
fn real_path(path: &Path) -> (Option<PathBuf>, bool) {
    if !path.is_absolute() {
        return (None, false);
    }
    if let Ok(real) = path.canonicalize() {
        return (Some(real), true);
    }
    let mut rest = Vec::new();
    let mut base = path;
    while let Some(parent) = base.parent() {
        rest.push(base.file_name().map(PathBuf::from));
        base = parent;
        if let Ok(real) = base.canonicalize() {
            let mut real = real;
            for part in rest.iter().rev() {
                match part {
                    Some(part) => real.push(part),
                    None => return (None, false),
                }
            }
            let climbs = real
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::RootDir));
            return (if climbs { None } else { Some(real) }, false);
        }
    }
    (None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Host {
        _dir: tempfile::TempDir,
        base: PathBuf,
    }

    /// `data/` (granted), `data2/` (not), `ro/` (granted read-only), `server/` (the data
    /// directory), `secret/` (not granted), and a symbolic link `data/out -> secret`.
    fn host() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        for d in ["data/set", "data2", "ro", "server/jobs/j1/work", "secret"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        std::fs::write(base.join("secret/key"), "k").unwrap();
        std::os::unix::fs::symlink(base.join("secret"), base.join("data/out")).unwrap();
        Host { _dir: dir, base }
    }

    fn roots(base: &Path) -> Vec<RootConfig> {
        vec![
            RootConfig {
                path: base.join("data"),
                workspaces: None,
                read_only: false,
                nas: None,
            },
            RootConfig {
                path: base.join("ro"),
                workspaces: Some(vec!["ws-a".into()]),
                read_only: true,
                nas: None,
            },
        ]
    }

    fn check(base: &Path, ws: &str, path: &Path, wanted: Use) -> Result<Granted, String> {
        let roots = roots(base);
        let server = base.join("server");
        let grants = Grants {
            roots: &roots,
            workspace_id: ws,
            protected: &[&server],
            also: &[],
        };
        grants
            .check("DataSources[0].Uri", &path.to_string_lossy(), wanted)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_path_under_a_granted_root_is_granted_as_it_really_is() {
        let h = host();
        let got = check(&h.base, "ws-a", &h.base.join("data/set"), Use::Mount(None)).unwrap();
        assert_eq!(got.path, h.base.join("data/set"));
        assert!(!got.read_only);
        // Under a granted root, a missing path may be said missing.
        let err = check(&h.base, "ws-a", &h.base.join("data/none"), Use::Read).unwrap_err();
        assert!(err.contains("does not exist on this server"), "{err}");
    }

    #[test]
    fn climbing_out_with_dots_or_links_or_prefixes_is_refused() {
        let h = host();
        let outside = [
            h.base.join("data/../secret"),
            h.base.join("data/set/../../secret/key"),
            h.base.join("data/out"),
            h.base.join("data/out/key"),
            h.base.join("data2"),
            h.base.join("dat"),
            h.base.clone(),
            PathBuf::from("/"),
            PathBuf::from("/etc"),
        ];
        for path in outside {
            let err = check(&h.base, "ws-a", &path, Use::Read).unwrap_err();
            assert!(
                err.contains("is not a path granted to workspace ws-a; granted: "),
                "{path:?}: {err}"
            );
        }
    }

    #[test]
    fn a_missing_path_and_a_forbidden_one_get_the_same_answer() {
        let h = host();
        let said = |p: &Path| {
            check(&h.base, "ws-a", p, Use::Read)
                .unwrap_err()
                .replace(&*p.to_string_lossy(), "PATH")
        };
        let existing = said(&h.base.join("secret/key"));
        assert_eq!(said(&h.base.join("secret/nothing")), existing);
        assert_eq!(said(&h.base.join("nowhere/at/all")), existing);
        // Through a link out of a root, a missing file is not said missing either.
        assert_eq!(said(&h.base.join("data/out/nothing")), existing);
        assert_eq!(said(&h.base.join("data/nothing/../../secret")), existing);
    }

    #[test]
    fn the_server_directory_is_never_granted_even_under_a_root() {
        let h = host();
        let everything = vec![RootConfig {
            path: PathBuf::from("/"),
            workspaces: None,
            read_only: false,
            nas: None,
        }];
        let server = h.base.join("server");
        let grants = Grants {
            roots: &everything,
            workspace_id: "ws-a",
            protected: &[&server],
            also: &[],
        };
        for path in [
            server.join("jobs/j1/work"),
            h.base.clone(),
            PathBuf::from("/"),
        ] {
            let err = grants.check("SummaryPath", &path.to_string_lossy(), Use::Read);
            assert!(err.is_err(), "{path:?}");
        }
        assert!(grants
            .check(
                "SummaryPath",
                &h.base.join("data").to_string_lossy(),
                Use::Read
            )
            .is_ok());
        // A job's working directory, given as such, is readable.
        let work = [server.join("jobs/j1/work")];
        let with_job = Grants {
            also: &work,
            ..grants
        };
        let logs = server.join("jobs/j1/work/logs");
        assert!(with_job
            .check("SummaryPath", &logs.to_string_lossy(), Use::Watch)
            .is_ok());
    }

    #[test]
    fn roots_are_per_workspace_and_read_only_is_kept() {
        let h = host();
        let ro = h.base.join("ro");
        let err = check(&h.base, "ws-b", &ro, Use::Read).unwrap_err();
        assert!(err.contains("workspace ws-b"), "{err}");
        let granted = err.split("granted: ").nth(1).unwrap_or_default();
        assert!(
            !granted.contains("/ro"),
            "a root of another workspace is not shown: {err}"
        );
        assert!(
            check(&h.base, "ws-a", &ro, Use::Mount(None))
                .unwrap()
                .read_only
        );
        assert!(
            check(&h.base, "ws-a", &ro, Use::Mount(Some(false)))
                .unwrap()
                .read_only
        );
        let err = check(&h.base, "ws-a", &ro, Use::Mount(Some(true))).unwrap_err();
        assert!(
            err.contains("read-only") && err.contains("MountAccess RO"),
            "{err}"
        );
    }

    #[test]
    fn without_roots_nothing_is_granted_and_the_answer_says_how_to_grant() {
        let grants = Grants {
            roots: &[],
            workspace_id: "ws-a",
            protected: &[],
            also: &[],
        };
        let err = grants
            .check("ThirdpartyLibDir", "/tmp", Use::Read)
            .unwrap_err();
        assert!(
            err.to_string().contains("ThirdpartyLibDir")
                && err.to_string().contains("roots: in sources.yaml"),
            "{err}"
        );
    }
}
