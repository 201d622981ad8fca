//! The job operations: CreateJob, GetJob, ListJobs, UpdateJob, StopJob, DeleteJob.

mod create;
mod delete;
mod get;
mod list;
mod stop;
mod update;

pub use create::create;
pub use delete::delete;
pub use get::get;
pub use list::list;
pub use stop::stop;
pub use update::update;

/// One line per field of `body` that `operation` ignores here (`opendlc_api::ledger`).
fn ignored_fields<T: serde::Serialize>(operation: &str, body: &T) -> Vec<String> {
    match serde_json::to_value(body) {
        Ok(value) => opendlc_api::ledger::ignored_in(operation, &value)
            .iter()
            .map(ToString::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// AssignNodeSpec against the nodes this server's pods run on: a rule that allows none of them
/// could never run. (Which role asked is in the core's check; here the job's rule as a whole.)
pub(super) fn check_nodes(
    state: &crate::state::AppState,
    job: &opendlc_core::Job,
) -> Result<(), crate::http::ApiError> {
    let rule = job.node_rule();
    if rule.is_any() || state.nodes.is_empty() {
        return Ok(());
    }
    let unknown: Vec<&String> = rule
        .only
        .iter()
        .flatten()
        .chain(&rule.never)
        .filter(|n| !state.nodes.contains(n))
        .collect();
    let known = state.nodes.join(", ");
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|n| n.as_str()).collect();
        return Err(opendlc_core::error::Invalid::value(
            "JobSpecs[].AssignNodeSpec",
            format!("no node {} here: the nodes are {known}", names.join(", ")),
        )
        .into());
    }
    if !state.nodes.iter().any(|n| rule.allows(n)) {
        return Err(opendlc_core::error::Invalid::value(
            "JobSpecs[].AssignNodeSpec",
            format!("allows none of this server's nodes ({known}): the job could never run"),
        )
        .into());
    }
    Ok(())
}
