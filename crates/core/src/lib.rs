//! The opendlc domain: jobs, pods, statuses, job plans, resources, the EcsSpec catalog.
//! No I/O beyond reading what the host has (`capacity`).

pub mod capacity;
pub mod catalog;
pub mod containers;
pub mod elastic;
pub mod env_contract;
pub mod env_value;
pub mod error;
pub mod frameworks;
pub mod grants;
pub mod identity;
pub mod ids;
pub mod job;
pub mod job_type;
pub mod metrics;
pub mod monitoring;
pub mod placement;
pub mod prices;
pub mod resources;
pub mod status;
pub mod tensorboard;
pub mod time;

pub use job::{Event, Job, JobTimes, Pod, Reason, RoleSpec, StatusPeriod};
pub use job_type::{JobType, Role};
pub use resources::Resources;
pub use status::{JobStatus, PodStatus};
pub mod lifecycle;
pub mod queue;
pub mod ranges;
pub mod reservation;
pub mod restart;
pub mod sanity;
pub mod scheduler;
pub mod secrets;
pub mod service;
pub mod shell;
pub mod sources;
pub mod startup;
pub mod submission;
