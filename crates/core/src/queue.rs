//! The queue of jobs waiting to start: priority 9 → 1, first come first served within a
//! priority. Re-pushing a job (a new priority) moves it. What starts is decided by
//! [`crate::scheduler::schedule`] over the queue in this order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use crate::scheduler::Waiting;

type Key = (Reverse<u8>, i64);

#[derive(Debug, Default)]
pub struct Queue {
    jobs: BTreeMap<Key, Waiting>,
    keys: HashMap<String, Key>,
}

impl Queue {
    /// Queues `job`; `seq` is its submission order (the store's sequence).
    pub fn push(&mut self, job: Waiting, seq: i64) {
        self.remove(&job.job_id);
        let key = (Reverse(job.priority), seq);
        self.keys.insert(job.job_id.clone(), key);
        self.jobs.insert(key, job);
    }

    pub fn remove(&mut self, job_id: &str) -> Option<Waiting> {
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

    /// The waiting jobs in queue order.
    pub fn iter(&self) -> impl Iterator<Item = &Waiting> {
        self.jobs.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Resources;

    fn job(id: &str, priority: u8) -> Waiting {
        Waiting {
            job_id: id.into(),
            priority,
            resources: Resources::new(1000, 1024, 0),
            quota: None,
            max_run_ms: None,
            spot: false,
        }
    }

    fn order(q: &Queue) -> Vec<&str> {
        q.iter().map(|j| j.job_id.as_str()).collect()
    }

    #[test]
    fn higher_priority_first_then_fifo() {
        let mut q = Queue::default();
        q.push(job("a", 1), 1);
        q.push(job("b", 5), 2);
        q.push(job("c", 5), 3);
        assert_eq!(order(&q), ["b", "c", "a"]);
    }

    #[test]
    fn re_pushing_moves_a_job() {
        let mut q = Queue::default();
        q.push(job("a", 1), 1);
        q.push(job("b", 1), 2);
        q.push(job("b", 9), 2);
        assert_eq!(q.len(), 2);
        assert_eq!(order(&q), ["b", "a"]);
        assert!(q.remove("a").is_some());
        assert!(!q.contains("a"));
    }
}
