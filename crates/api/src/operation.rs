//! Operations: what routes a request (method + path) and what types it carries.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::generated::operations::JSON_BODY_ACTIONS;
use crate::generated::Action;

/// One API operation as the spec defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    /// The action name, also sent in the `x-acs-action` header (`GetJob`).
    pub action: &'static str,
    /// The HTTP method, upper case (`GET`).
    pub method: &'static str,
    /// The path template with `{Param}` placeholders (`/api/v1/jobs/{JobId}`).
    pub path: &'static str,
}

/// Where an operation's request parameters travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestEncoding {
    /// In the query string (every GET and DELETE, and most PUTs).
    Query,
    /// As a JSON body (CreateJob, UpdateJob, CreateTensorboard).
    JsonBody,
}

/// Ties an operation to its request and response types; implemented by the marker types in
/// [`crate::endpoints`], so a client can be generic over operations.
pub trait Endpoint {
    /// Action, method and path.
    const OPERATION: Operation;
    /// Whether the request is a query string or a JSON body.
    const ENCODING: RequestEncoding;
    /// The request type (path parameters are not part of it).
    type Request: Serialize + DeserializeOwned + Default;
    /// The 200 response body.
    type Response: Serialize + DeserializeOwned;
}

impl Operation {
    /// The operation with this action name.
    pub fn find(action: &str) -> Option<&'static Operation> {
        action.parse::<Action>().ok().map(Action::operation)
    }

    /// The operation for this method and raw request path, with its path parameters (still
    /// percent-encoded, in template order). Matching is on the raw path so that an encoded
    /// `/` (`%2F`) inside an id never splits a segment; decode each parameter afterwards.
    pub fn route<'a>(
        method: &str,
        raw_path: &'a str,
    ) -> Option<(&'static Operation, Vec<&'a str>)> {
        Action::route(method, raw_path).map(|(action, params)| (action.operation(), params))
    }

    /// Whether the request parameters travel as a JSON body (else in the query string).
    pub fn encoding(&self) -> RequestEncoding {
        if JSON_BODY_ACTIONS.contains(&self.action) {
            RequestEncoding::JsonBody
        } else {
            RequestEncoding::Query
        }
    }

    /// The names of the path parameters, in order (`["JobId", "PodId"]`).
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// Matches a raw path against this operation's template; returns the raw values of the
    /// path parameters. An empty parameter or a trailing slash does not match.
    pub fn match_path<'a>(&self, raw_path: &'a str) -> Option<Vec<&'a str>> {
        let mut template = self.path.split('/');
        let mut actual = raw_path.split('/');
        let mut params = Vec::new();
        loop {
            match (template.next(), actual.next()) {
                (None, None) => return Some(params),
                (Some(want), Some(got)) => {
                    if want.starts_with('{') && want.ends_with('}') {
                        if got.is_empty() {
                            return None;
                        }
                        params.push(got);
                    } else if want != got {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }

    /// The path with every parameter filled in, in order. The values must already be
    /// percent-encoded the way the SDK does it (`/` as `%2F`).
    pub fn fill_path(&self, params: &[&str]) -> String {
        let mut values = params.iter();
        self.path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') && seg.ends_with('}') {
                    values.next().copied().unwrap_or_default()
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}
