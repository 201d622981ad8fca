//! What admitted jobs hold of this server's pool, as one [`Allocation`] per job: taken at
//! admission (or given back to a recovered job), released once its last pod has ended. The
//! scheduler decides whether a job fits (`opendlc_core::scheduler`, from the running jobs'
//! allocations); the pool hands out what is countable per device: GPU indices, disjoint across
//! running pods, and the cores of pods pinned by `Settings.EnableCPUAffinity`, disjoint while the
//! host has cores enough (CPU is overcommitted, so more may be asked than there are: the least
//! used are shared then).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use opendlc_core::env_contract::PodPlan;
use opendlc_core::ids::PodId;
use opendlc_core::Resources;

use super::active::Allocation;

pub(super) struct Pool {
    /// GPU indices no pod holds.
    free_gpus: BTreeSet<u32>,
    /// How many pinned pods each core of the host holds.
    core_use: BTreeMap<u32, u32>,
}

impl Pool {
    /// A pool of GPUs `0..gpus`, all free, and of `cores`, none pinned.
    pub fn new(gpus: u32, cores: impl IntoIterator<Item = u32>) -> Self {
        Pool {
            free_gpus: (0..gpus).collect(),
            core_use: cores.into_iter().map(|c| (c, 0)).collect(),
        }
    }

    /// Pins each pod of `plans` to as many cores as its CPU asks (rounded up, at least one):
    /// the least used ones, the lowest first among equals, so free cores go first.
    pub fn pin(&mut self, allocation: &mut Allocation, plans: &[PodPlan]) {
        for plan in plans {
            let wanted = plan.resources.cpu_milli.div_ceil(1000).max(1) as usize;
            let mut by_use: Vec<(u32, u32)> = self.core_use.iter().map(|(c, u)| (*u, *c)).collect();
            by_use.sort_unstable();
            let mut cores: Vec<u32> = by_use.into_iter().take(wanted).map(|(_, c)| c).collect();
            cores.sort_unstable();
            for core in &cores {
                *self.core_use.entry(*core).or_default() += 1;
            }
            allocation
                .cpus
                .insert(PodId::from(plan.pod_id.as_str()), cores);
        }
    }

    /// Takes what a newly admitted job's pods (`plans`) ask for: its resources, disjoint GPU
    /// indices for each pod that asks for GPUs, and the ports chosen for it.
    pub fn allocate(
        &mut self,
        resources: Resources,
        plans: &[PodPlan],
        ports: Vec<u16>,
    ) -> Allocation {
        let gpus = plans
            .iter()
            .filter(|p| p.resources.gpu > 0)
            .map(|p| (PodId::from(p.pod_id.as_str()), self.take(p.resources.gpu)))
            .collect();
        Allocation {
            resources,
            gpus,
            ports,
            cpus: HashMap::new(),
        }
    }

    /// A recovered job takes back the GPUs its pods were started with (`held`); pods without
    /// any (not started yet) get free ones.
    pub fn reclaim(
        &mut self,
        resources: Resources,
        plans: &[PodPlan],
        ports: Vec<u16>,
        mut held: HashMap<PodId, Vec<u32>>,
    ) -> Allocation {
        for gpus in held.values() {
            for g in gpus {
                self.free_gpus.remove(g);
            }
        }
        for plan in plans.iter().filter(|p| p.resources.gpu > 0) {
            if !held.contains_key(plan.pod_id.as_str()) {
                let gpus = self.take(plan.resources.gpu);
                held.insert(PodId::from(plan.pod_id.as_str()), gpus);
            }
        }
        Allocation {
            resources,
            gpus: held,
            ports,
            cpus: HashMap::new(),
        }
    }

    /// An elastic job grows by the pod of `plan`: its resources, its GPUs, its cores if the
    /// job pins them.
    pub fn add_pod(&mut self, allocation: &mut Allocation, plan: &PodPlan, pin: bool) {
        allocation.resources = allocation.resources + plan.resources;
        if plan.resources.gpu > 0 {
            let gpus = self.take(plan.resources.gpu);
            allocation
                .gpus
                .insert(PodId::from(plan.pod_id.as_str()), gpus);
        }
        if pin {
            self.pin(allocation, std::slice::from_ref(plan));
        }
    }

    /// An elastic job shrinks by pod `pod_id`, of `resources`: what it held comes back.
    pub fn remove_pod(&mut self, allocation: &mut Allocation, pod_id: &str, resources: Resources) {
        allocation.resources = allocation.resources.saturating_sub(&resources);
        if let Some(gpus) = allocation.gpus.remove(pod_id) {
            self.free_gpus.extend(gpus);
        }
        for core in allocation.cpus.remove(pod_id).into_iter().flatten() {
            if let Some(used) = self.core_use.get_mut(&core) {
                *used = used.saturating_sub(1);
            }
        }
    }

    /// Gives back what a job held.
    pub fn release(&mut self, allocation: &Allocation) {
        for gpus in allocation.gpus.values() {
            self.free_gpus.extend(gpus.iter().copied());
        }
        for core in allocation.cpus.values().flatten() {
            if let Some(used) = self.core_use.get_mut(core) {
                *used = used.saturating_sub(1);
            }
        }
    }

    /// The lowest `n` free GPU indices (fewer if the pool has fewer: the scheduler admits a
    /// job only when its GPUs fit).
    fn take(&mut self, n: u32) -> Vec<u32> {
        let take: Vec<u32> = self.free_gpus.iter().take(n as usize).copied().collect();
        for g in &take {
            self.free_gpus.remove(g);
        }
        take
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opendlc_core::env_contract::{plan_pods, Rendezvous, RolePlan};
    use opendlc_core::{JobType, Role};

    use super::*;

    fn plans(workers: u32, gpus: u32) -> Vec<PodPlan> {
        let roles = [RolePlan {
            role: Role::Worker,
            pod_count: workers,
            resources: Resources::new(1000, 1024, gpus),
        }];
        let rendezvous = Rendezvous {
            ports: vec![0; workers as usize],
        };
        plan_pods(
            "j",
            JobType::PyTorchJob,
            &roles,
            &rendezvous,
            &BTreeMap::new(),
        )
    }

    #[test]
    fn pods_get_disjoint_gpus_and_give_them_back() {
        let mut pool = Pool::new(8, 0..2);
        let a = pool.allocate(Resources::default(), &plans(2, 2), vec![1, 2]);
        let b = pool.allocate(Resources::default(), &plans(1, 4), vec![3]);
        assert_eq!(a.gpus["j-worker-0"], [0, 1]);
        assert_eq!(a.gpus["j-worker-1"], [2, 3]);
        assert_eq!(b.gpus["j-worker-0"], [4, 5, 6, 7]);
        assert_eq!(a.ports, [1, 2]);
        pool.release(&a);
        let c = pool.allocate(Resources::default(), &plans(1, 4), vec![4]);
        assert_eq!(c.gpus["j-worker-0"], [0, 1, 2, 3]);
    }

    #[test]
    fn a_recovered_job_keeps_the_gpus_its_pods_started_with() {
        let mut pool = Pool::new(4, 0..2);
        let held = HashMap::from([(PodId::from("j-worker-1"), vec![2, 3])]);
        let a = pool.reclaim(Resources::default(), &plans(2, 2), vec![], held);
        assert_eq!(a.gpus["j-worker-1"], [2, 3]);
        // The pod that had not started gets free ones.
        assert_eq!(a.gpus["j-worker-0"], [0, 1]);
    }

    #[test]
    fn pods_without_gpus_hold_none() {
        let mut pool = Pool::new(2, 0..2);
        let a = pool.allocate(Resources::default(), &plans(3, 0), vec![]);
        assert!(a.gpus.is_empty());
    }

    #[test]
    fn pinned_pods_get_disjoint_cores_while_there_are_enough() {
        let mut pool = Pool::new(0, 0..4);
        let mut a = pool.allocate(Resources::default(), &plans(2, 0), vec![]);
        pool.pin(&mut a, &plans(2, 0));
        assert_eq!(a.cpus["j-worker-0"], [0]);
        assert_eq!(a.cpus["j-worker-1"], [1]);
        // Two cores each: the two free ones, then the least used.
        let mut b = pool.allocate(Resources::default(), &plans(1, 0), vec![]);
        let two = [RolePlan {
            role: Role::Worker,
            pod_count: 2,
            resources: Resources::new(1500, 1024, 0),
        }];
        let rendezvous = Rendezvous { ports: vec![0; 2] };
        let plans2 = plan_pods(
            "k",
            JobType::PyTorchJob,
            &two,
            &rendezvous,
            &BTreeMap::new(),
        );
        pool.pin(&mut b, &plans2);
        assert_eq!(b.cpus["k-worker-0"], [2, 3]);
        assert_eq!(b.cpus["k-worker-1"], [0, 1]);
        pool.release(&a);
        pool.release(&b);
        assert!(pool.core_use.values().all(|u| *u == 0));
    }
}
