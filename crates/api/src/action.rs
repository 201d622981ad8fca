//! [`Action`] by name and by route: the hand-written half of the generated enum.

use std::fmt;
use std::str::FromStr;

use crate::generated::Action;

/// A name that is none of the API's operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not an operation of the PAI-DLC API 2020-12-03")]
pub struct UnknownAction(pub String);

impl Action {
    /// The HTTP method, upper case (`GET`).
    pub const fn method(self) -> &'static str {
        self.operation().method
    }

    /// The path template with `{Param}` placeholders (`/api/v1/jobs/{JobId}`).
    pub const fn path(self) -> &'static str {
        self.operation().path
    }

    /// The action for this method and raw request path, with its path parameters (still
    /// percent-encoded, in template order); see [`crate::Operation::match_path`].
    pub fn route<'a>(method: &str, raw_path: &'a str) -> Option<(Action, Vec<&'a str>)> {
        Action::ALL
            .into_iter()
            .filter(|action| action.method().eq_ignore_ascii_case(method))
            .find_map(|action| {
                let params = action.operation().match_path(raw_path)?;
                Some((action, params))
            })
    }
}

impl FromStr for Action {
    type Err = UnknownAction;

    /// The exact action name, as `x-acs-action` carries it (case matters, as on PAI-DLC).
    fn from_str(name: &str) -> Result<Action, UnknownAction> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
            .ok_or_else(|| UnknownAction(name.to_string()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Operation, OPERATIONS};

    #[test]
    fn every_action_round_trips_through_its_name() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
            assert_eq!(action.to_string(), action.as_str());
            assert_eq!(action.operation().action, action.as_str());
        }
        assert_eq!(
            "getjob".parse::<Action>(),
            Err(UnknownAction("getjob".into()))
        );
        assert!("Nope".parse::<Action>().is_err());
    }

    #[test]
    fn actions_and_the_operations_table_agree_one_to_one() {
        assert_eq!(Action::ALL.len(), 25);
        let table: Vec<&Operation> = Action::ALL.iter().map(|a| a.operation()).collect();
        assert_eq!(table, OPERATIONS.iter().collect::<Vec<_>>());
    }

    #[test]
    fn the_route_table_resolves_every_operation_to_its_action() {
        for action in Action::ALL {
            let params: Vec<String> = action
                .operation()
                .path_params()
                .enumerate()
                .map(|(i, _)| format!("id{i}"))
                .collect();
            let params: Vec<&str> = params.iter().map(String::as_str).collect();
            let path = action.operation().fill_path(&params);
            assert_eq!(
                Action::route(action.method(), &path),
                Some((action, params.clone())),
                "{} {path}",
                action.method()
            );
            // Methods are matched without regard to case, as before.
            let lower = action.method().to_ascii_lowercase();
            assert_eq!(Action::route(&lower, &path).map(|r| r.0), Some(action));
        }
        assert_eq!(Action::route("PATCH", "/api/v1/jobs/dlc1"), None);
    }
}
