//! One scheduling decision at scale, in process (the scheduler is a pure function): 100,000
//! queued jobs against a pool of 1,000 hosts' worth of capacity (1,000 × 64 cores, 512 GiB,
//! 8 GPUs) that running jobs mostly fill, so the decision has to walk the whole queue looking
//! for backfill. Timed over repeated decisions on the same input.

use std::time::Instant;

use opendlc_core::scheduler::{schedule, Capacity, Running, Waiting};
use opendlc_core::Resources;

use crate::report::Measure;
use crate::stats::{ms, Summary};

const NAME: &str = "sched";
const HOSTS: u64 = 1_000;
const QUEUED: usize = 100_000;
const RUNNING: usize = 2_400;
const ROUNDS: usize = 20;

/// A deterministic spread of job sizes (no RNG: the same input every run).
fn size(i: u64) -> Resources {
    let gpus = [0, 1, 2, 4, 8][(i % 5) as usize];
    let cpu = 4 + (i * 7) % 29;
    Resources::new(cpu * 1000, (16 + (i * 13) % 240) * 1024, gpus)
}

pub fn run() -> Vec<Measure> {
    let capacity = Capacity {
        pool: Resources::new(HOSTS * 64_000, HOSTS * 512 * 1024, (HOSTS * 8) as u32),
        preemption: true,
        ..Capacity::default()
    };
    let now = 1_000_000;
    let running: Vec<Running> = (0..RUNNING as u64)
        .map(|i| Running {
            job_id: format!("run{i}"),
            priority: (1 + i % 9) as u8,
            resources: size(i),
            quota: None,
            preemptible: i % 3 == 0,
            started: now - 1_000,
            ends_by: (i % 4 != 0).then_some(now + 60_000 + (i as i64 % 500) * 1_000),
            spot: false,
            surplus: None,
        })
        .collect();
    let queued: Vec<Waiting> = (0..QUEUED as u64)
        .map(|i| Waiting {
            job_id: format!("job{i}"),
            priority: (1 + (i * 5) % 9) as u8,
            resources: size(i * 31 + 7),
            quota: None,
            max_run_ms: (i % 2 == 0).then_some(3_600_000),
            spot: false,
        })
        .collect();
    let mut ordered: Vec<&Waiting> = queued.iter().collect();
    ordered.sort_by_key(|w| std::cmp::Reverse(w.priority));
    let mut times = Vec::with_capacity(ROUNDS);
    let mut started = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let plan = schedule(&capacity, &running, &ordered, now);
        times.push(t.elapsed());
        started = plan.start.len();
        std::hint::black_box(plan);
    }
    let summary = Summary::of(times);
    vec![
        Measure::info(NAME, "queued jobs", QUEUED as f64, "jobs"),
        Measure::info(NAME, "running jobs", RUNNING as f64, "jobs"),
        Measure::info(NAME, "pool (1,000 hosts)", HOSTS as f64, "hosts"),
        Measure::info(NAME, "jobs started by the decision", started as f64, "jobs"),
        Measure::info(NAME, "decision p50", ms(summary.p50), "ms").at_most(50.0),
        Measure::info(NAME, "decision max", ms(summary.max), "ms").at_most(50.0),
    ]
}
