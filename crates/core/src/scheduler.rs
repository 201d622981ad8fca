//! One scheduling decision, as a pure function of the queue, what runs, and the capacity:
//! which queued jobs start, which running jobs are preempted for whom, and why every other
//! queued job waits. The engine applies the plan (habit: decide purely, apply separately).
//!
//! Rules, in queue order (priority 9 → 1, FIFO within a priority):
//! - **Gang**: a job starts only if all its pods fit at once, in the pool and in its quota
//!   (`ResourceId`); nothing partial is ever held.
//! - **Reservation** (EASY backfill, as Slurm's): the first job the pool cannot hold reserves
//!   what it needs. Its start time is known when the running jobs it waits for have known ends
//!   (JobMaxRunningTimeMinutes). A later job may start ahead of it only if it fits now and
//!   either ends (by its own limit) before that reserved start, or uses only resources the
//!   reserved job does not need. So a big gang is never starved by a stream of small jobs.
//! - **Quotas**: a quota's first blocked job reserves within its quota the same way; it does
//!   not hold back jobs of other quotas or of the public pool.
//! - **Preemption** (when enabled): if the reserved job outranks preemptible running jobs,
//!   the cheapest set of them that makes room (lowest priority first, then the smallest, then
//!   the most recently started) is preempted for it.
//! - **Spot jobs** (`SpotSpec`) run on spare capacity only: they are considered after every
//!   normal job, start only where no reservation needs the room and within the spot limits
//!   (the pool's and their quota's), never reserve or preempt, and wait meanwhile as
//!   `Bidding`. They are the first evicted when a normal job needs the room, whatever the
//!   priorities and whether preemption is on.
//! - **Elastic jobs' extra pods** (above their minimum, taken while capacity was spare) come
//!   next: a normal job that needs the room shrinks them, pod by pod, whatever the priorities
//!   and whether preemption is on; whole jobs are preempted only after that.

use std::collections::BTreeMap;

use crate::job::Reason;
use crate::resources::{format_cpu, format_memory, Resources};
use crate::time::Millis;

/// The public pool's name in messages.
pub const PUBLIC_POOL: &str = "public";
/// Estimated start times are worked out for this many waiting jobs (the rest: unknown).
pub const ETA_LIMIT: usize = 100;
/// The ReasonCode of a job that was preempted; it stays until the job runs again.
pub const PREEMPTED: &str = "JobPreempted";
/// The ReasonCode of a spot job evicted for a normal job; it stays until the job runs again.
pub const SPOT_EVICTED: &str = "JobEvicted";

/// What can be scheduled.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capacity {
    pub pool: Resources,
    /// `ResourceId` → its limits (inside the pool).
    pub quotas: BTreeMap<String, Resources>,
    /// Whether higher-priority jobs may preempt preemptible ones.
    pub preemption: bool,
    /// How much of the pool spot jobs may hold together; `None`: all of it.
    pub spot_limit: Option<Resources>,
    /// `ResourceId` → how much of that quota its spot jobs may hold.
    pub spot_quotas: BTreeMap<String, Resources>,
}

/// A job holding resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub job_id: String,
    pub priority: u8,
    pub resources: Resources,
    pub quota: Option<String>,
    pub preemptible: bool,
    pub started: Millis,
    /// When it will have ended at the latest (its JobMaxRunningTimeMinutes); `None`: unknown.
    pub ends_by: Option<Millis>,
    /// A spot job: evicted first when a normal job needs the room.
    pub spot: bool,
    /// An elastic job's pods above its minimum: what each holds, and how many there are.
    /// Taken back pod by pod (after spot jobs) when a normal job needs the room.
    pub surplus: Option<(Resources, u32)>,
}

/// A job waiting to start, in queue order.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub job_id: String,
    pub priority: u8,
    pub resources: Resources,
    pub quota: Option<String>,
    /// Its JobMaxRunningTimeMinutes in ms, if any: how long it may hold resources.
    pub max_run_ms: Option<i64>,
    /// A spot job: runs on spare capacity only.
    pub spot: bool,
}

/// Why a job waits.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    /// Not enough free in the pool (`quota: None`) or in its quota.
    Resources {
        quota: Option<String>,
        need: Resources,
        free: Resources,
    },
    /// It would fit, but would delay the reserved start of an earlier job.
    Reserved { for_job: String },
    /// Room is being made for it: these jobs are being preempted.
    Preempting { victims: Vec<String> },
    /// A spot job: not enough spare capacity (`limit`: held back by the pool's spot limit,
    /// or its quota's, rather than by what is free).
    Bidding {
        need: Resources,
        free: Resources,
        limit: Option<SpotLimit>,
    },
}

/// Which spot limit holds a spot job back.
#[derive(Debug, Clone, PartialEq)]
pub enum SpotLimit {
    Pool,
    Quota(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub job_id: String,
    /// 1-based place among the waiting jobs.
    pub position: usize,
    pub blocker: Blocker,
    /// When it is expected to start, if that can be known (jobs with limits ahead of it).
    pub eta: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Preemption {
    pub victim: String,
    pub for_job: String,
    /// `Some(n)`: the victim (an elastic job) only gives up `n` of its pods above its minimum.
    pub pods: Option<u32>,
}

impl Preemption {
    /// The victim, as a waiting job's reason names it.
    fn describe(&self) -> String {
        match self.pods {
            None => self.victim.clone(),
            Some(1) => format!("1 pod of {}", self.victim),
            Some(n) => format!("{n} pods of {}", self.victim),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub start: Vec<String>,
    pub preempt: Vec<Preemption>,
    pub waiting: Vec<Wait>,
}

impl Blocker {
    /// The ReasonCode of a job held back by this.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Blocker::Resources { .. } => "JobQueuing",
            Blocker::Reserved { .. } => "JobReserved",
            Blocker::Preempting { .. } => "JobPreempting",
            Blocker::Bidding { .. } => "JobBidding",
        }
    }
}

impl Wait {
    /// Why the job waits, as its ReasonCode/ReasonMessage: the one mapping from a wait to a
    /// reason, shared by what is recorded with the job and what GetJob and the queue show.
    /// `recorded` is the reason stored with the job; a preemption (or a spot job's eviction)
    /// stays its code and leads the message, so a user sees both why it stopped and why it has not started again.
    pub fn reason(&self, recorded: Option<&Reason>) -> Reason {
        let waiting = format!("Waiting: {}.", self.message());
        match recorded.filter(|r| r.code == PREEMPTED || r.code == SPOT_EVICTED) {
            Some(preempted) => Reason::new(
                preempted.code.clone(),
                format!("{} {waiting}", preempted.message),
            ),
            None => Reason::new(self.blocker.reason_code(), waiting),
        }
    }

    /// The reason a person reads: "needs 4 GPU, 2 free in pool public; 3 jobs ahead".
    pub fn message(&self) -> String {
        let what = match &self.blocker {
            Blocker::Resources { quota, need, free } => {
                let pool = match quota {
                    Some(q) => format!("quota {q}"),
                    None => format!("pool {PUBLIC_POOL}"),
                };
                format!("{} in {pool}", shortfall(need, free))
            }
            Blocker::Reserved { for_job } => {
                format!("it fits, but would delay job {for_job}, which has the resources reserved")
            }
            Blocker::Preempting { victims } => {
                format!("preempting {} to make room", victims.join(", "))
            }
            Blocker::Bidding { need, free, limit } => {
                let rule = match limit {
                    None => "on capacity no normal job needs".to_string(),
                    Some(SpotLimit::Pool) => "within the pool's spot limit".to_string(),
                    Some(SpotLimit::Quota(q)) => format!("within quota {q}'s spot limit"),
                };
                format!("a spot job runs {rule}: {}", shortfall(need, free))
            }
        };
        let ahead = self.position - 1;
        let ahead = match ahead {
            0 => "first in the queue".to_string(),
            1 => "1 job ahead".to_string(),
            n => format!("{n} jobs ahead"),
        };
        format!("{what}; {ahead}")
    }
}

/// "needs 4 GPU, 2 free": the first dimension that does not fit.
pub fn shortfall(need: &Resources, free: &Resources) -> String {
    if need.gpu > free.gpu {
        format!("needs {} GPU, {} free", need.gpu, free.gpu)
    } else if need.cpu_milli > free.cpu_milli {
        format!(
            "needs {} CPU, {} free",
            format_cpu(need.cpu_milli),
            format_cpu(free.cpu_milli)
        )
    } else if need.memory_mib > free.memory_mib {
        format!(
            "needs {} memory, {} free",
            format_memory(need.memory_mib),
            format_memory(free.memory_mib)
        )
    } else {
        "fits".to_string()
    }
}

/// Per-dimension `a - b`, never below zero.
fn extra(a: &Resources, b: &Resources) -> Resources {
    a.saturating_sub(b)
}

/// A reservation: what the job needs, where, and from when (if known).
struct Reservation {
    job_id: String,
    /// Free beyond what the reserved job needs (what a backfill may use for as long as it
    /// likes).
    spare: Resources,
    starts_at: Option<Millis>,
}

/// When `need` fits in `scope`: walks the running jobs' known ends. `None` if it depends on
/// a job with no limit.
fn earliest_start(
    need: &Resources,
    free_now: Resources,
    running: &[&Running],
    now: Millis,
) -> (Option<Millis>, Resources) {
    let mut free = free_now;
    if need.fits_in(&free) {
        return (Some(now), free);
    }
    let mut ends: Vec<&&Running> = running.iter().filter(|r| r.ends_by.is_some()).collect();
    ends.sort_by_key(|r| r.ends_by);
    for r in ends {
        free = free + r.resources;
        if need.fits_in(&free) {
            return (r.ends_by, free);
        }
    }
    (None, free)
}

/// The decision. `queue` in queue order; `used` what running jobs hold in the pool and in each
/// quota.
pub fn schedule(capacity: &Capacity, running: &[Running], queue: &[&Waiting], now: Millis) -> Plan {
    let mut plan = Plan::default();
    let sum = |jobs: &mut dyn Iterator<Item = &Running>| {
        jobs.fold(Resources::default(), |acc, r| acc + r.resources)
    };
    let mut free_pool = capacity.pool.saturating_sub(&sum(&mut running.iter()));
    let mut free_quota: BTreeMap<&str, Resources> = capacity
        .quotas
        .iter()
        .map(|(q, limit)| {
            let used = sum(&mut running.iter().filter(|r| r.quota.as_deref() == Some(q)));
            (q.as_str(), limit.saturating_sub(&used))
        })
        .collect();
    // The pool's reservation, and each quota's.
    let mut pool_reserved: Option<Reservation> = None;
    let mut quota_reserved: BTreeMap<String, Reservation> = BTreeMap::new();
    let running_refs: Vec<&Running> = running.iter().collect();
    let mut preempting = false;
    // What spot jobs may still take, by limit.
    let mut spot_free = capacity
        .spot_limit
        .map(|limit| limit.saturating_sub(&sum(&mut running.iter().filter(|r| r.spot))));
    let mut spot_quota_free: BTreeMap<&str, Resources> = capacity
        .spot_quotas
        .iter()
        .map(|(q, limit)| {
            let used = sum(&mut running
                .iter()
                .filter(|r| r.spot && r.quota.as_deref() == Some(q)));
            (q.as_str(), limit.saturating_sub(&used))
        })
        .collect();

    // Spot jobs after every normal one: they take only what none of those needs.
    let (normal, spot): (Vec<&Waiting>, Vec<&Waiting>) = queue.iter().partition(|j| !j.spot);
    for job in normal.into_iter().chain(spot) {
        let quota_free = job
            .quota
            .as_deref()
            .and_then(|q| free_quota.get(q).copied());
        let fits_pool = job.resources.fits_in(&free_pool);
        let fits_quota = quota_free.is_none_or(|f| job.resources.fits_in(&f));
        let ends_by = job.max_run_ms.map(|ms| now + ms);

        // May it start without delaying a reservation ahead of it?
        let allowed_by = |r: &Option<&Reservation>| -> bool {
            match r {
                None => true,
                Some(r) => {
                    job.resources.fits_in(&r.spare)
                        || matches!((ends_by, r.starts_at), (Some(end), Some(start)) if end <= start)
                }
            }
        };
        let quota_reservation = job.quota.as_ref().and_then(|q| quota_reserved.get(q));
        let pool_ok = allowed_by(&pool_reserved.as_ref());
        let quota_ok = allowed_by(&quota_reservation);

        // While room is being made for the head, nothing starts behind it: the freed resources
        // are the head's, and a job started there would be preempted in turn.
        if !job.spot && fits_pool && fits_quota && pool_ok && quota_ok && !preempting {
            free_pool = free_pool.saturating_sub(&job.resources);
            if let Some(r) = pool_reserved.as_mut() {
                if job.resources.fits_in(&r.spare) {
                    r.spare = r.spare.saturating_sub(&job.resources);
                }
            }
            if let Some(q) = job.quota.as_deref() {
                if let Some(f) = free_quota.get_mut(q) {
                    *f = f.saturating_sub(&job.resources);
                }
                if let Some(r) = quota_reserved.get_mut(q) {
                    if job.resources.fits_in(&r.spare) {
                        r.spare = r.spare.saturating_sub(&job.resources);
                    }
                }
            }
            plan.start.push(job.job_id.clone());
            continue;
        }

        let position = plan.waiting.len() + 1;
        let blocker = if job.spot {
            // Room a reservation needs is not spare: only its spare counts.
            let mut spare = free_pool;
            for r in [pool_reserved.as_ref(), quota_reservation]
                .into_iter()
                .flatten()
            {
                spare = spare.min_with(&r.spare);
            }
            let mut limit = None;
            if let Some(q) = job.quota.as_deref() {
                spare = spare.min_with(&quota_free.unwrap_or(spare));
                if let Some(f) = spot_quota_free.get(q) {
                    if !job.resources.fits_in(f) {
                        limit = Some((SpotLimit::Quota(q.to_string()), *f));
                    }
                }
            }
            if let Some(f) = spot_free.filter(|f| !job.resources.fits_in(f)) {
                limit.get_or_insert((SpotLimit::Pool, f));
            }
            if limit.is_none() && job.resources.fits_in(&spare) && !preempting {
                free_pool = free_pool.saturating_sub(&job.resources);
                for r in [pool_reserved.as_mut()].into_iter().flatten() {
                    r.spare = r.spare.saturating_sub(&job.resources);
                }
                if let Some(q) = job.quota.as_deref() {
                    if let Some(f) = free_quota.get_mut(q) {
                        *f = f.saturating_sub(&job.resources);
                    }
                    if let Some(r) = quota_reserved.get_mut(q) {
                        r.spare = r.spare.saturating_sub(&job.resources);
                    }
                    if let Some(f) = spot_quota_free.get_mut(q) {
                        *f = f.saturating_sub(&job.resources);
                    }
                }
                if let Some(f) = spot_free.as_mut() {
                    *f = f.saturating_sub(&job.resources);
                }
                plan.start.push(job.job_id.clone());
                continue;
            }
            match limit {
                Some((limit, free)) => Blocker::Bidding {
                    need: job.resources,
                    free,
                    limit: Some(limit),
                },
                None => Blocker::Bidding {
                    need: job.resources,
                    free: spare,
                    limit: None,
                },
            }
        } else if !fits_quota {
            let q = job.quota.clone().unwrap_or_default();
            let free = quota_free.unwrap_or_default();
            let first_in_quota = !quota_reserved.contains_key(&q);
            if first_in_quota {
                let in_quota: Vec<&Running> = running_refs
                    .iter()
                    .copied()
                    .filter(|r| r.quota.as_deref() == Some(q.as_str()))
                    .collect();
                let (starts_at, then_free) = earliest_start(&job.resources, free, &in_quota, now);
                quota_reserved.insert(
                    q.clone(),
                    Reservation {
                        job_id: job.job_id.clone(),
                        spare: extra(&then_free, &job.resources).min_with(&free),
                        starts_at,
                    },
                );
            }
            // Spot jobs and elastic jobs' extra pods of the quota make room for it, if that is
            // enough.
            let spot_in_quota: Vec<&Running> = running_refs
                .iter()
                .copied()
                .filter(|r| {
                    (r.spot || r.surplus.is_some()) && r.quota.as_deref() == Some(q.as_str())
                })
                .collect();
            let victims = (first_in_quota && !preempting)
                .then(|| choose_victims_by(job, free, &spot_in_quota, |r| r.spot))
                .flatten();
            match victims {
                Some(victims) if !victims.is_empty() => {
                    preempting = true;
                    let names = victims.iter().map(Preemption::describe).collect();
                    plan.preempt.extend(victims);
                    Blocker::Preempting { victims: names }
                }
                _ => Blocker::Resources {
                    quota: Some(q),
                    need: job.resources,
                    free,
                },
            }
        } else if !fits_pool && pool_reserved.is_none() {
            // The pool's first blocked job: reserve, and preempt for it if allowed.
            let (starts_at, then_free) =
                earliest_start(&job.resources, free_pool, &running_refs, now);
            pool_reserved = Some(Reservation {
                job_id: job.job_id.clone(),
                spare: extra(&then_free, &job.resources).min_with(&free_pool),
                starts_at,
            });
            // Spot jobs and elastic jobs' extra pods first, whatever their priority; then,
            // with preemption on, preemptible jobs of a lower priority.
            let candidates: Vec<&Running> = running
                .iter()
                .filter(|r| {
                    r.spot
                        || r.surplus.is_some()
                        || (capacity.preemption && r.preemptible && r.priority < job.priority)
                })
                .collect();
            let whole = |r: &Running| {
                r.spot || (capacity.preemption && r.preemptible && r.priority < job.priority)
            };
            let victims = choose_victims_by(job, free_pool, &candidates, whole);
            match victims {
                Some(victims) => {
                    preempting = true;
                    let names = victims.iter().map(Preemption::describe).collect();
                    plan.preempt.extend(victims);
                    Blocker::Preempting { victims: names }
                }
                None => Blocker::Resources {
                    quota: None,
                    need: job.resources,
                    free: free_pool,
                },
            }
        } else if !fits_pool {
            Blocker::Resources {
                quota: None,
                need: job.resources,
                free: free_pool,
            }
        } else {
            let for_job = if !pool_ok {
                pool_reserved.as_ref().map(|r| r.job_id.clone())
            } else {
                quota_reservation.map(|r| r.job_id.clone())
            };
            Blocker::Reserved {
                for_job: for_job.unwrap_or_default(),
            }
        };
        let eta = (position <= ETA_LIMIT)
            .then(|| estimate(job, &blocker, &pool_reserved, &quota_reserved, now))
            .flatten();
        plan.waiting.push(Wait {
            job_id: job.job_id.clone(),
            position,
            blocker,
            eta,
        });
    }
    plan
}

/// A job's expected start: known for a job holding a reservation whose start depends only
/// on jobs with limits, and for one being made room for (now). Others: unknown.
fn estimate(
    job: &Waiting,
    blocker: &Blocker,
    pool_reserved: &Option<Reservation>,
    quota_reserved: &BTreeMap<String, Reservation>,
    now: Millis,
) -> Option<Millis> {
    let holder = |r: &Reservation| (r.job_id == job.job_id).then_some(r.starts_at).flatten();
    match blocker {
        Blocker::Preempting { .. } => Some(now),
        Blocker::Resources { quota: Some(q), .. } => quota_reserved.get(q).and_then(holder),
        Blocker::Resources { quota: None, .. } => pool_reserved.as_ref().and_then(holder),
        Blocker::Reserved { .. } | Blocker::Bidding { .. } => None,
    }
}

/// What a victim gives up: a whole job, or one pod of an elastic job's surplus.
struct Unit<'r> {
    job: &'r Running,
    resources: Resources,
    /// One surplus pod, not the whole job.
    pod: bool,
}

/// The cheapest set of `candidates` whose resources (with what is free) fit `job`: spot jobs
/// first, then elastic jobs' extra pods one by one, then whole jobs (those `whole` allows) by
/// the lowest priority, the smallest, the most recently started; `None` if even all of them
/// are not enough.
fn choose_victims_by(
    job: &Waiting,
    free: Resources,
    candidates: &[&Running],
    whole: impl Fn(&Running) -> bool,
) -> Option<Vec<Preemption>> {
    let mut units: Vec<Unit<'_>> = Vec::new();
    for r in candidates {
        if let Some((per_pod, n)) = r.surplus.filter(|_| !r.spot) {
            units.extend((0..n).map(|_| Unit {
                job: r,
                resources: per_pod,
                pod: true,
            }));
        }
        if whole(r) {
            // What its surplus pods (taken before) leave of it.
            let surplus = r
                .surplus
                .filter(|_| !r.spot)
                .map_or(Resources::default(), |(p, n)| p * u64::from(n));
            units.push(Unit {
                job: r,
                resources: r.resources.saturating_sub(&surplus),
                pod: false,
            });
        }
    }
    let class = |u: &Unit<'_>| match (u.job.spot, u.pod) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2,
    };
    units.sort_by(|a, b| {
        class(a)
            .cmp(&class(b))
            .then(a.job.priority.cmp(&b.job.priority))
            .then(size(&a.job.resources).total_cmp(&size(&b.job.resources)))
            .then(b.job.started.cmp(&a.job.started))
    });
    let mut chosen: Vec<Unit<'_>> = Vec::new();
    let mut room = free;
    for unit in units {
        if job.resources.fits_in(&room) {
            break;
        }
        room = room + unit.resources;
        chosen.push(unit);
    }
    if !job.resources.fits_in(&room) {
        return None;
    }
    // Drop any victim the others make unnecessary (most expensive first).
    let mut i = chosen.len();
    while i > 0 {
        i -= 1;
        let without = room.saturating_sub(&chosen[i].resources);
        if job.resources.fits_in(&without) {
            room = without;
            chosen.remove(i);
        }
    }
    // One preemption per victim: a whole job, or so many of its pods.
    let mut victims: Vec<Preemption> = Vec::new();
    for unit in chosen {
        match victims.iter_mut().find(|v| v.victim == unit.job.job_id) {
            Some(v) if unit.pod => {
                if let Some(n) = v.pods.as_mut() {
                    *n += 1;
                }
            }
            Some(v) => v.pods = None,
            None => victims.push(Preemption {
                victim: unit.job.job_id.clone(),
                for_job: job.job_id.clone(),
                pods: unit.pod.then_some(1),
            }),
        }
    }
    Some(victims)
}

/// A scalar for "how much": GPUs dominate, then CPU, then memory.
fn size(r: &Resources) -> f64 {
    f64::from(r.gpu) * 1e9 + r.cpu_milli as f64 * 1e3 + r.memory_mib as f64
}

trait MinWith {
    fn min_with(&self, other: &Resources) -> Resources;
}

impl MinWith for Resources {
    /// Per-dimension minimum.
    fn min_with(&self, other: &Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.min(other.cpu_milli),
            memory_mib: self.memory_mib.min(other.memory_mib),
            gpu: self.gpu.min(other.gpu),
        }
    }
}

#[cfg(test)]
mod tests;
