//! A role's `ServiceSpec`: the ports its pods serve and the names they are reached at, as the
//! Kubernetes Services of PAI-DLC give them.
//!
//! `PerPod` (the default): each pod is reached at its own names (`<PodId>`, `<role>-<index>`:
//! [`crate::env_contract::host_names`]). `PerRole`: the role's name (`worker`, and
//! `<JobId>-worker`) reaches its pods as well. The declared ports (DefaultPort, then
//! ExtraPorts) are the ones the server's proxy opens from outside; no other port of a pod is.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::{Job, Role};

/// How a role's pods are named for each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceMode {
    #[default]
    PerPod,
    PerRole,
}

/// A validated `ServiceSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub mode: ServiceMode,
    /// DefaultPort first (when set), then ExtraPorts, each once.
    pub ports: Vec<u16>,
}

impl Service {
    /// `spec` of `JobSpecs[i]`: the mode one of PAI's two, every port in 1–65535, no port
    /// named twice.
    pub fn from_spec(spec: &opendlc_api::ServiceSpec, i: usize) -> Result<Service, Invalid> {
        let field = |name: &str| format!("JobSpecs[{i}].ServiceSpec.{name}");
        let mode = match spec.service_mode.as_deref().map(str::trim) {
            None | Some("") | Some("PerPod") => ServiceMode::PerPod,
            Some("PerRole") => ServiceMode::PerRole,
            Some(other) => {
                return Err(Invalid::value(
                    field("ServiceMode"),
                    format!("must be PerPod or PerRole (empty means PerPod), got \"{other}\""),
                ))
            }
        };
        let named = spec
            .default_port
            .map(|p| (field("DefaultPort"), p))
            .into_iter()
            .chain(
                spec.extra_ports
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(j, p)| (field(&format!("ExtraPorts[{j}]")), *p)),
            );
        let mut ports: Vec<u16> = Vec::new();
        for (field, port) in named {
            let port = u16::try_from(port).ok().filter(|p| *p > 0).ok_or_else(|| {
                Invalid::value(&field, format!("must be between 1 and 65535, got {port}"))
            })?;
            if ports.contains(&port) {
                return Err(Invalid::value(
                    field,
                    format!("port {port} is declared twice (DefaultPort and ExtraPorts name each port once)"),
                ));
            }
            ports.push(port);
        }
        Ok(Service { mode, ports })
    }

    pub fn serves(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }
}

/// The ports `role`'s pods declared in job `job` (none without a ServiceSpec).
pub fn declared_ports(job: &Job, role: Role) -> &[u16] {
    job.roles
        .iter()
        .find(|r| r.role == role)
        .and_then(|r| r.service.as_ref())
        .map(|s| s.ports.as_slice())
        .unwrap_or_default()
}

/// The names a `PerRole` service gives role `role` of job `job_id`: the role's own name as
/// pod names spell it (`worker`), and with the JobId (`dlc…-worker`).
pub fn role_host_names(job_id: &str, role: &str) -> Vec<String> {
    let role = role.to_ascii_lowercase();
    vec![format!("{job_id}-{role}"), role]
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendlc_api::ServiceSpec;

    fn spec(mode: Option<&str>, default: Option<i64>, extra: &[i64]) -> ServiceSpec {
        ServiceSpec {
            service_mode: mode.map(String::from),
            default_port: default,
            extra_ports: Some(extra.to_vec()),
        }
    }

    #[test]
    fn ports_come_default_first_and_the_mode_defaults_to_per_pod() {
        let service = Service::from_spec(&spec(None, Some(8080), &[9090, 9091]), 0).unwrap();
        assert_eq!(service.mode, ServiceMode::PerPod);
        assert_eq!(service.ports, vec![8080, 9090, 9091]);
        let service = Service::from_spec(&spec(Some("PerRole"), None, &[80]), 0).unwrap();
        assert_eq!(service.mode, ServiceMode::PerRole);
        assert!(service.serves(80) && !service.serves(8080));
    }

    #[test]
    fn a_bad_mode_or_port_names_its_field() {
        let err = Service::from_spec(&spec(Some("perrole"), None, &[]), 1).unwrap_err();
        assert_eq!(err.field(), "JobSpecs[1].ServiceSpec.ServiceMode");
        let err = Service::from_spec(&spec(None, Some(8080), &[9090, 8080]), 0).unwrap_err();
        assert_eq!(err.field(), "JobSpecs[0].ServiceSpec.ExtraPorts[1]");
        assert!(err.to_string().contains("declared twice"), "{err}");
        let err = Service::from_spec(&spec(None, Some(0), &[]), 0).unwrap_err();
        assert_eq!(err.field(), "JobSpecs[0].ServiceSpec.DefaultPort");
        let err = Service::from_spec(&spec(None, None, &[70_000]), 0).unwrap_err();
        assert!(err.to_string().contains("between 1 and 65535"), "{err}");
    }

    #[test]
    fn a_role_is_named_as_its_pods_are() {
        assert_eq!(
            role_host_names("dlc1", "Worker"),
            vec!["dlc1-worker", "worker"]
        );
    }
}
