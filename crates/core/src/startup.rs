//! Startup dependencies (`JobSpec.StartupDependencies`): a role's pods start only once enough
//! pods of another role have reached a phase — say, the workers once the PS is Running.

use serde::{Deserialize, Serialize};

use crate::job_type::Role;
use crate::status::{string_enum, PodStatus};

string_enum! {
    /// `StartupDependency.OnPhase`.
    Phase { Running, Succeeded }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupDependency {
    pub role: Role,
    pub phase: Phase,
    pub min_replicas: u32,
}

/// A pod of the depended-on role, as far as its phase goes.
#[derive(Debug, Clone, Copy)]
pub struct PodPhase {
    pub role: Role,
    pub started: bool,
    pub status: PodStatus,
}

impl StartupDependency {
    pub fn is_met(&self, pods: &[PodPhase]) -> bool {
        let reached = pods
            .iter()
            .filter(|p| p.role == self.role)
            .filter(|p| match self.phase {
                Phase::Running => p.started,
                Phase::Succeeded => p.status == PodStatus::Succeeded,
            })
            .count();
        reached >= self.min_replicas as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_pods_that_reached_the_phase() {
        let dep = StartupDependency {
            role: Role::PS,
            phase: Phase::Running,
            min_replicas: 2,
        };
        let ps = |started, status| PodPhase {
            role: Role::PS,
            started,
            status,
        };
        let worker = PodPhase {
            role: Role::Worker,
            started: true,
            status: PodStatus::Running,
        };
        assert!(!dep.is_met(&[
            ps(true, PodStatus::Running),
            ps(false, PodStatus::Pending),
            worker
        ]));
        assert!(dep.is_met(&[ps(true, PodStatus::Running), ps(true, PodStatus::Succeeded)]));
        let done = StartupDependency {
            phase: Phase::Succeeded,
            min_replicas: 1,
            ..dep
        };
        assert!(!done.is_met(&[ps(true, PodStatus::Running)]));
        assert!(done.is_met(&[ps(true, PodStatus::Succeeded)]));
    }
}
