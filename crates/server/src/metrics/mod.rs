//! Pod metrics: a background task samples every running pod and stores the samples
//! (GetJobMetrics reads them from the store).

mod sampler;

pub use sampler::{spawn, SamplerConfig};
