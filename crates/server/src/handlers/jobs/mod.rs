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
