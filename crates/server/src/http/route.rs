//! Routing: a request's method and raw path resolve, once, to a [`Route`], either one of the
//! PAI-DLC 2020-12-03 operations ([`Action`]) or one of opendlc's [`Extension`]s. Everything
//! after that (the version check, share-token rules, the handler table) matches on the enum,
//! so a route that nobody handles does not compile.

use opendlc_api::{Action, Operation};

use super::request::percent_decode;

/// AIWorkspace's API version.
pub const AIWORKSPACE: &str = "2021-02-04";
const DLC: &str = opendlc_api::signature::API_VERSION;

/// What a request calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// An operation of the PAI-DLC 2020-12-03 API.
    Dlc(Action),
    /// A route outside it.
    Extension(Extension),
}

/// A route outside the PAI-DLC 2020-12-03 operations: opendlc's own extensions and the
/// AIWorkspace (2021-02-04) calls that PAI scripts make beside DLC's (docs/COMPATIBILITY.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension {
    /// `GET /api/v1/jobs/{JobId}/logs/stream`: a job's logs as NDJSON, optionally followed.
    StreamJobLogs,
    /// `GET /api/v1/capacity`: the pool, its quotas and the queue.
    GetCapacity,
    /// `GET /api/v1/workspaces` (AIWorkspace).
    ListWorkspaces,
    /// `POST /api/v1/workspaces` (AIWorkspace).
    CreateWorkspace,
    /// `GET /api/v1/workspaces/{WorkspaceId}` (AIWorkspace).
    GetWorkspace,
    /// `GET /api/v1/images` (AIWorkspace).
    ListImages,
}

impl Extension {
    /// Every extension; routing tries them in this order, after the DLC operations.
    pub const ALL: [Extension; 6] = [
        Extension::StreamJobLogs,
        Extension::GetCapacity,
        Extension::ListWorkspaces,
        Extension::CreateWorkspace,
        Extension::GetWorkspace,
        Extension::ListImages,
    ];

    /// Its action name, method and path template: the same shape as a DLC operation's, so
    /// that both are matched by the same rules (no trailing slash, no empty parameter).
    pub const fn operation(self) -> Operation {
        let (action, method, path) = match self {
            Extension::StreamJobLogs => {
                ("StreamJobLogs", "GET", "/api/v1/jobs/{JobId}/logs/stream")
            }
            Extension::GetCapacity => ("GetCapacity", "GET", "/api/v1/capacity"),
            Extension::ListWorkspaces => ("ListWorkspaces", "GET", "/api/v1/workspaces"),
            Extension::CreateWorkspace => ("CreateWorkspace", "POST", "/api/v1/workspaces"),
            Extension::GetWorkspace => ("GetWorkspace", "GET", "/api/v1/workspaces/{WorkspaceId}"),
            Extension::ListImages => ("ListImages", "GET", "/api/v1/images"),
        };
        Operation {
            action,
            method,
            path,
        }
    }

    /// The action name, as `x-acs-action` carries it and error messages name it.
    pub const fn as_str(self) -> &'static str {
        self.operation().action
    }

    /// The API version it belongs to (`x-acs-version`).
    pub const fn version(self) -> &'static str {
        match self {
            Extension::StreamJobLogs | Extension::GetCapacity => DLC,
            Extension::ListWorkspaces
            | Extension::CreateWorkspace
            | Extension::GetWorkspace
            | Extension::ListImages => AIWORKSPACE,
        }
    }

    /// The extension for this method and raw path, with its raw path parameters.
    fn route<'a>(method: &str, raw_path: &'a str) -> Option<(Extension, Vec<&'a str>)> {
        Extension::ALL.into_iter().find_map(|extension| {
            let operation = extension.operation();
            if operation.method != method {
                return None;
            }
            Some((extension, operation.match_path(raw_path)?))
        })
    }
}

impl Route {
    /// What `method` + `raw_path` calls, with its path parameters percent-decoded. Matching
    /// is on the raw path so that an encoded `/` in an id never splits a segment.
    pub fn resolve(method: &str, raw_path: &str) -> Option<(Route, Vec<String>)> {
        let (route, params) = match Action::route(method, raw_path) {
            Some((action, params)) => (Route::Dlc(action), params),
            None => {
                let (extension, params) = Extension::route(method, raw_path)?;
                (Route::Extension(extension), params)
            }
        };
        Some((route, params.into_iter().map(percent_decode).collect()))
    }

    /// The action name (`GetJob`, `StreamJobLogs`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Route::Dlc(action) => action.as_str(),
            Route::Extension(extension) => extension.as_str(),
        }
    }

    /// The API version the route belongs to (`x-acs-version`).
    pub const fn version(self) -> &'static str {
        match self {
            Route::Dlc(_) => DLC,
            Route::Extension(extension) => extension.version(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_resolves_to_its_action() {
        for action in Action::ALL {
            let path = action.operation().fill_path(&["a%2Fb", "p"]);
            let (route, params) = Route::resolve(action.method(), &path).unwrap();
            assert_eq!(route, Route::Dlc(action), "{path}");
            assert!(params.iter().all(|p| p == "a/b" || p == "p"), "{params:?}");
        }
    }

    #[test]
    fn every_extension_resolves_and_is_no_dlc_operation() {
        for extension in Extension::ALL {
            let op = extension.operation();
            let path = op.fill_path(&["a%2Fb"]);
            let (route, params) = Route::resolve(op.method, &path).unwrap();
            assert_eq!(route, Route::Extension(extension), "{path}");
            assert_eq!(params.len(), op.path_params().count());
            assert!(params.iter().all(|p| p == "a/b"), "{params:?}");
            assert!(extension.as_str().parse::<Action>().is_err());
        }
    }

    #[test]
    fn extensions_keep_their_versions_and_strict_paths() {
        let resolve = |m, p| Route::resolve(m, p).map(|(r, _)| (r.as_str(), r.version()));
        assert_eq!(
            resolve("GET", "/api/v1/jobs/dlc1/logs/stream"),
            Some(("StreamJobLogs", DLC))
        );
        assert_eq!(
            resolve("GET", "/api/v1/capacity"),
            Some(("GetCapacity", DLC))
        );
        assert_eq!(
            resolve("POST", "/api/v1/workspaces"),
            Some(("CreateWorkspace", AIWORKSPACE))
        );
        assert_eq!(
            resolve("GET", "/api/v1/workspaces/ws1"),
            Some(("GetWorkspace", AIWORKSPACE))
        );
        assert_eq!(
            resolve("GET", "/api/v1/images"),
            Some(("ListImages", AIWORKSPACE))
        );
        assert_eq!(resolve("GET", "/api/v1/jobs//logs/stream"), None);
        assert_eq!(resolve("GET", "/api/v1/workspaces/"), None);
        assert_eq!(resolve("DELETE", "/api/v1/capacity"), None);
        assert_eq!(resolve("GET", "/api/v1/jobs/dlc1"), Some(("GetJob", DLC)));
    }
}
