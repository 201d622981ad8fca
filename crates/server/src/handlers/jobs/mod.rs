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
