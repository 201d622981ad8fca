//! The admission queue: priority 9 → 1, first come first served within a priority, gang
//! admission (a job's pods start together or not at all).
//!
//! This is the pure decision half of the scheduler: given the queue and what is free, it says
//! which jobs to start and why the head waits. The server applies the decisions.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::resources::Resources;

#[derive(Debug, Clone, PartialEq)]
pub struct QueuedJob {
    pub job_id: String,
    pub priority: u8,
    /// Submission order (the store's sequence), for FIFO within a priority.
    pub seq: i64,
    pub resources: Resources,
}

type Key = (Reverse<u8>, i64);

#[derive(Debug, Default)]
pub struct Queue {
    jobs: BTreeMap<Key, QueuedJob>,
    keys: std::collections::HashMap<String, Key>,
}

/// The scheduler's answer for one round.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Admission {
    pub start: Vec<QueuedJob>,
    /// The first job that could not start, and why.
    pub blocked: Option<(String, String)>,
}

impl Queue {
    pub fn push(&mut self, job: QueuedJob) {
        self.remove(&job.job_id);
        let key = (Reverse(job.priority), job.seq);
        self.keys.insert(job.job_id.clone(), key);
        self.jobs.insert(key, job);
    }

    pub fn remove(&mut self, job_id: &str) -> Option<QueuedJob> {
        let key = self.keys.remove(job_id)?;
        self.jobs.remove(&key)
    }

    pub fn contains(&self, job_id: &str) -> bool {
        self.keys.contains_key(job_id)
    }

    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Jobs to start with `free` resources, in queue order. Strict order: the first job that
    /// does not fit blocks the ones behind it, so a big gang is never starved by small jobs.
    pub fn admit(&self, mut free: Resources) -> Admission {
        let mut admission = Admission::default();
        for job in self.jobs.values() {
            match job.resources.shortfall(&free) {
                None => {
                    free = free.saturating_sub(&job.resources);
                    admission.start.push(job.clone());
                }
                Some(why) => {
                    admission.blocked = Some((job.job_id.clone(), why));
                    break;
                }
            }
        }
        admission
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, priority: u8, seq: i64, cpu: u64) -> QueuedJob {
        QueuedJob {
            job_id: id.into(),
            priority,
            seq,
            resources: Resources::new(cpu * 1000, 1024, 0),
        }
    }

    #[test]
    fn higher_priority_first_then_fifo() {
        let mut q = Queue::default();
        q.push(job("a", 1, 1, 1));
        q.push(job("b", 5, 2, 1));
        q.push(job("c", 5, 3, 1));
        let ids: Vec<_> = q
            .admit(Resources::new(10_000, 10_240, 0))
            .start
            .into_iter()
            .map(|j| j.job_id)
            .collect();
        assert_eq!(ids, ["b", "c", "a"]);
    }

    #[test]
    fn the_head_blocks_the_rest_with_a_reason() {
        let mut q = Queue::default();
        q.push(job("big", 1, 1, 8));
        q.push(job("small", 1, 2, 1));
        let a = q.admit(Resources::new(4000, 10_240, 0));
        assert!(a.start.is_empty());
        assert_eq!(
            a.blocked,
            Some(("big".into(), "needs 8 CPU, 4 available".into()))
        );
    }

    #[test]
    fn re_pushing_moves_a_job() {
        let mut q = Queue::default();
        q.push(job("a", 1, 1, 1));
        q.push(job("b", 1, 2, 1));
        q.push(job("b", 9, 2, 1));
        assert_eq!(q.len(), 2);
        assert_eq!(
            q.admit(Resources::new(1000, 10_240, 0)).start[0].job_id,
            "b"
        );
        assert!(q.remove("a").is_some());
        assert!(!q.contains("a"));
    }
}
