//! A job's declared ports (`ServiceSpec`: DefaultPort, ExtraPorts), reached from outside
//! through this server, as a Kubernetes Service with an ingress would give them:
//! `/services/<JobId>/<PodId>/<port>/…` → that port of that pod, the prefix taken off.
//!
//! - [`access`]: who may open them: a caller allowed to read the job (HTTP Basic with an access
//!   key), or a token for the job (GetToken, GetDashboard's) in the URL, then in a cookie.
//! - [`proxy`]: the reverse proxy. Only a port the pod's role declared, of a current pod of
//!   that job, while it is Running; nothing in the path or the query chooses another host or
//!   port.

pub mod access;
mod proxy;

pub use proxy::router;

/// `/services/<JobId>`: where the ports of a job's pods are served.
pub fn prefix(job_id: &str) -> String {
    format!("/services/{job_id}")
}
