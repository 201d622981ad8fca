use proptest::prelude::*;

use super::*;

fn res(cpu: u64, gpu: u32) -> Resources {
    Resources::new(cpu * 1000, cpu * 1024, gpu)
}

fn waiting(id: &str, priority: u8, cpu: u64, gpu: u32) -> Waiting {
    Waiting {
        job_id: id.into(),
        priority,
        resources: res(cpu, gpu),
        quota: None,
        max_run_ms: None,
        spot: false,
    }
}

fn running(id: &str, priority: u8, cpu: u64, gpu: u32, ends_by: Option<Millis>) -> Running {
    Running {
        job_id: id.into(),
        priority,
        resources: res(cpu, gpu),
        quota: None,
        preemptible: true,
        started: 0,
        ends_by,
        spot: false,
        surplus: None,
    }
}

fn pool(cpu: u64, gpu: u32) -> Capacity {
    Capacity {
        pool: res(cpu, gpu),
        ..Capacity::default()
    }
}

fn run(capacity: &Capacity, running: &[Running], queue: &[Waiting]) -> Plan {
    let refs: Vec<&Waiting> = queue.iter().collect();
    schedule(capacity, running, &refs, 1_000)
}

#[test]
fn jobs_start_in_queue_order_while_they_fit() {
    let plan = run(
        &pool(4, 0),
        &[],
        &[
            waiting("a", 5, 2, 0),
            waiting("b", 1, 2, 0),
            waiting("c", 1, 1, 0),
        ],
    );
    assert_eq!(plan.start, ["a", "b"]);
    assert_eq!(plan.waiting[0].job_id, "c");
    assert_eq!(plan.waiting[0].position, 1);
}

#[test]
fn the_reason_names_the_resource_the_numbers_and_the_queue() {
    let plan = run(
        &pool(16, 2),
        &[],
        &[
            waiting("big", 1, 1, 4),
            waiting("x", 1, 1, 4),
            waiting("y", 1, 1, 4),
            waiting("z", 1, 1, 4),
        ],
    );
    assert_eq!(
        plan.waiting[3].message(),
        "needs 4 GPU, 2 free in pool public; 3 jobs ahead"
    );
    assert_eq!(
        plan.waiting[0].message(),
        "needs 4 GPU, 2 free in pool public; first in the queue"
    );
}

#[test]
fn a_wait_maps_to_one_reason_code_and_a_preemption_stays_in_front() {
    let wait = |blocker| Wait {
        job_id: "j".into(),
        position: 2,
        blocker,
        eta: None,
    };
    let resources = wait(Blocker::Resources {
        quota: None,
        need: res(1, 4),
        free: res(1, 2),
    });
    assert_eq!(
        resources.reason(None),
        Reason::new(
            "JobQueuing",
            "Waiting: needs 4 GPU, 2 free in pool public; 1 job ahead."
        )
    );
    let reserved = wait(Blocker::Reserved {
        for_job: "big".into(),
    });
    assert_eq!(reserved.reason(None).code, "JobReserved");
    let preempting = wait(Blocker::Preempting {
        victims: vec!["low".into()],
    });
    assert_eq!(preempting.reason(None).code, "JobPreempting");
    // Another recorded reason (an earlier wait) is replaced; a preemption is kept.
    let earlier = Reason::new("JobReserved", "Waiting: an hour ago.");
    assert_eq!(resources.reason(Some(&earlier)), resources.reason(None));
    let preempted = Reason::new(PREEMPTED, "Preempted by job hi.");
    assert_eq!(
        preempting.reason(Some(&preempted)),
        Reason::new(
            PREEMPTED,
            "Preempted by job hi. Waiting: preempting low to make room; 1 job ahead."
        )
    );
}

#[test]
fn a_small_job_backfills_only_where_the_head_is_not_delayed() {
    // 8 CPU, 4 GPU; a running job holds 6 CPU and 4 GPU until t=60_000.
    let cap = pool(8, 4);
    let busy = [running("r", 1, 6, 4, Some(60_000))];
    let head = waiting("head", 1, 4, 4);
    // Needs only CPU the head does not need once r ends (8 - 4 = 4 spare, 2 free now): starts.
    let cpu_only = waiting("cpu-only", 1, 2, 0);
    let plan = run(&cap, &busy, &[head.clone(), cpu_only]);
    assert_eq!(plan.start, ["cpu-only"]);
    // The spare CPU (2 now) is used up by a; b finds nothing free.
    let plan = run(
        &cap,
        &busy,
        &[head.clone(), waiting("a", 1, 2, 0), waiting("b", 1, 1, 0)],
    );
    assert_eq!(plan.start, ["a"]);
    // A job that fits what is free now but would hold what the head needs at its start waits.
    let busy_cpu = [running("r", 1, 2, 4, Some(60_000))];
    let plan = run(
        &cap,
        &busy_cpu,
        &[
            waiting("head", 1, 6, 4),
            waiting("x", 1, 4, 0),
            waiting("y", 1, 2, 0),
        ],
    );
    assert_eq!(plan.start, ["y"], "y fits the 2 spare CPU");
    assert!(matches!(
        &plan.waiting[1].blocker,
        Blocker::Reserved { for_job } if for_job == "head"
    ));
    assert!(plan.waiting[1].message().contains("would delay job head"));
    // One that ends (by its limit) before the reservation may use anything free.
    let mut short = waiting("short", 1, 2, 0);
    short.max_run_ms = Some(10_000);
    let plan = run(&cap, &busy, &[head, waiting("a", 1, 2, 0), short]);
    assert_eq!(plan.start, ["a"]);
    let plan = run(
        &cap,
        &[running("r", 1, 4, 4, Some(60_000))],
        &[waiting("head", 1, 8, 4), {
            let mut s = waiting("short", 1, 4, 0);
            s.max_run_ms = Some(10_000);
            s
        }],
    );
    assert_eq!(
        plan.start,
        ["short"],
        "ends at 11_000, before the head's start at 60_000"
    );
    assert_eq!(plan.waiting[0].eta, Some(60_000));
}

#[test]
fn quotas_limit_their_jobs_without_blocking_others() {
    let mut cap = pool(16, 0);
    cap.quotas.insert("team".into(), res(4, 0));
    let mut t1 = waiting("t1", 1, 4, 0);
    t1.quota = Some("team".into());
    let mut t2 = waiting("t2", 1, 2, 0);
    t2.quota = Some("team".into());
    let plan = run(&cap, &[], &[t1, t2, waiting("public", 1, 4, 0)]);
    assert_eq!(plan.start, ["t1", "public"]);
    assert_eq!(
        plan.waiting[0].message(),
        "needs 2 CPU, 0 free in quota team; first in the queue"
    );
}

#[test]
fn preemption_picks_the_cheapest_lower_priority_victims() {
    let mut cap = pool(8, 4);
    cap.preemption = true;
    let busy = [
        running("low-big", 1, 4, 2, None),
        running("low-small", 1, 2, 1, None),
        running("mid", 5, 2, 1, None),
    ];
    let plan = run(
        &cap,
        &busy,
        &[waiting("urgent", 9, 2, 1), waiting("after", 1, 1, 0)],
    );
    assert_eq!(
        plan.preempt,
        [Preemption {
            victim: "low-small".into(),
            for_job: "urgent".into(),
            pods: None,
        }]
    );
    assert!(
        plan.start.is_empty(),
        "nothing starts while room is being made"
    );
    // Never an equal or higher priority, never a job that opted out.
    let mut keep = busy.clone();
    for r in &mut keep {
        r.preemptible = r.job_id != "low-small" && r.job_id != "low-big";
    }
    let plan = run(&cap, &keep, &[waiting("urgent", 5, 2, 1)]);
    assert!(plan.preempt.is_empty());
    cap.preemption = false;
    assert!(run(&cap, &busy, &[waiting("urgent", 9, 2, 1)])
        .preempt
        .is_empty());
}

#[test]
fn a_hundred_thousand_jobs_are_planned() {
    let cap = pool(64_000, 8_000);
    let queue: Vec<Waiting> = (0..100_000)
        .map(|i| {
            waiting(
                &format!("j{i}"),
                (i % 9 + 1) as u8,
                1 + i as u64 % 7,
                (i % 3) as u32,
            )
        })
        .collect();
    let plan = run(&cap, &[], &queue);
    assert_eq!(plan.start.len() + plan.waiting.len(), 100_000);
}

fn arb_waiting() -> impl Strategy<Value = Waiting> {
    (
        1u8..=9,
        1u64..8,
        0u32..4,
        proptest::option::of(1i64..100_000),
        proptest::bool::ANY,
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(priority, cpu, gpu, max, quota, spot)| Waiting {
            job_id: String::new(),
            priority,
            resources: res(cpu, gpu),
            quota: quota.then(|| "q".to_string()),
            max_run_ms: max,
            spot,
        })
}

fn arb_running() -> impl Strategy<Value = Running> {
    (
        1u8..=9,
        1u64..6,
        0u32..3,
        proptest::option::of(1_000i64..200_000),
        proptest::bool::ANY,
        proptest::bool::ANY,
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(priority, cpu, gpu, ends_by, preemptible, quota, spot)| Running {
                job_id: String::new(),
                priority,
                resources: res(cpu, gpu),
                quota: quota.then(|| "q".to_string()),
                preemptible,
                started: 0,
                ends_by,
                spot,
                surplus: None,
            },
        )
}

proptest! {
    /// Whatever the input: starts never exceed the pool or a quota, each job appears once, and
    /// a started job never has a preemption victim in the same plan blocking it.
    #[test]
    fn accounting_never_goes_over_capacity(
        mut queue in proptest::collection::vec(arb_waiting(), 0..40),
        mut runs in proptest::collection::vec(arb_running(), 0..8),
        preemption in proptest::bool::ANY,
    ) {
        for (i, w) in queue.iter_mut().enumerate() { w.job_id = format!("w{i}"); }
        for (i, r) in runs.iter_mut().enumerate() { r.job_id = format!("r{i}"); }
        let mut cap = pool(24, 8);
        cap.preemption = preemption;
        cap.quotas.insert("q".into(), res(10, 4));
        // Only running sets that fit are realistic.
        let held = runs.iter().fold(Resources::default(), |a, r| a + r.resources);
        let held_q = runs.iter().filter(|r| r.quota.is_some()).fold(Resources::default(), |a, r| a + r.resources);
        prop_assume!(held.fits_in(&cap.pool) && held_q.fits_in(&cap.quotas["q"]));
        queue.sort_by_key(|w| std::cmp::Reverse(w.priority));
        let plan = run(&cap, &runs, &queue);

        let started: Vec<&Waiting> = queue.iter().filter(|w| plan.start.contains(&w.job_id)).collect();
        let total = started.iter().fold(held, |a, w| a + w.resources);
        prop_assert!(total.fits_in(&cap.pool), "pool overcommitted: {total:?}");
        let in_q = started.iter().filter(|w| w.quota.is_some()).fold(held_q, |a, w| a + w.resources);
        prop_assert!(in_q.fits_in(&cap.quotas["q"]), "quota overcommitted: {in_q:?}");
        prop_assert_eq!(plan.start.len() + plan.waiting.len(), queue.len());
        for (i, w) in plan.waiting.iter().enumerate() {
            prop_assert_eq!(w.position, i + 1);
        }
        // Victims are spot jobs, or (with preemption on) preemptible ones of a lower priority
        // than the job they make room for, which is never a spot job.
        for p in &plan.preempt {
            let victim = runs.iter().find(|r| r.job_id == p.victim).unwrap();
            let for_job = queue.iter().find(|w| w.job_id == p.for_job).unwrap();
            prop_assert!(!for_job.spot);
            prop_assert!(
                victim.spot
                    || (preemption && victim.preemptible && victim.priority < for_job.priority)
            );
        }
    }

    /// No starvation: the first job the pool cannot hold is never overtaken by a job that
    /// would still hold its resources when it could start.
    #[test]
    fn the_reserved_head_is_never_delayed(
        queue in proptest::collection::vec(arb_waiting(), 1..30),
        runs in proptest::collection::vec(arb_running(), 1..6),
    ) {
        let mut queue = queue;
        for (i, w) in queue.iter_mut().enumerate() { w.job_id = format!("w{i}"); w.quota = None; }
        let runs: Vec<Running> = runs.into_iter().enumerate().map(|(i, mut r)| { r.job_id = format!("r{i}"); r.quota = None; r }).collect();
        let cap = pool(24, 8);
        let held = runs.iter().fold(Resources::default(), |a, r| a + r.resources);
        prop_assume!(held.fits_in(&cap.pool));
        let plan = run(&cap, &runs, &queue);
        let Some(head) = plan.waiting.iter().find(|w| matches!(w.blocker, Blocker::Resources { quota: None, .. })) else {
            return Ok(());
        };
        let head_job = queue.iter().find(|w| w.job_id == head.job_id).unwrap();
        let head_index = queue.iter().position(|w| w.job_id == head.job_id).unwrap();
        // Simulate: at the reserved start (or once every known end passed), the head fits
        // in what is then free, counting the backfilled jobs that still run.
        let start = head.eta.unwrap_or(i64::MAX);
        let mut free = cap.pool;
        for r in &runs {
            if r.ends_by.is_none_or(|e| e > start) { free = free.saturating_sub(&r.resources); }
        }
        for w in queue.iter().take(head_index) {
            if plan.start.contains(&w.job_id) && w.max_run_ms.is_none_or(|m| 1_000 + m > start) {
                free = free.saturating_sub(&w.resources);
            }
        }
        let mut backfilled = Resources::default();
        for w in queue.iter().skip(head_index + 1) {
            if plan.start.contains(&w.job_id) && w.max_run_ms.is_none_or(|m| 1_000 + m > start) {
                backfilled = backfilled + w.resources;
            }
        }
        if head.eta.is_some() {
            let left = free.saturating_sub(&backfilled);
            prop_assert!(head_job.resources.fits_in(&left) || !head_job.resources.fits_in(&free),
                "backfill took what the head needs at its start: need {:?}, free {:?}, backfilled {:?}", head_job.resources, free, backfilled);
        }
    }
}

fn spot(w: Waiting) -> Waiting {
    Waiting { spot: true, ..w }
}

fn spot_running(r: Running) -> Running {
    Running { spot: true, ..r }
}

#[test]
fn spot_jobs_take_only_what_no_normal_job_needs_and_wait_bidding() {
    // The normal job ahead of the spot job is blocked and reserves: its room is not spare.
    let capacity = pool(8, 0);
    let plan = run(
        &capacity,
        &[running("busy", 5, 4, 0, None)],
        &[
            spot(waiting("cheap", 9, 2, 0)),
            waiting("big", 1, 6, 0),
            spot(waiting("tiny", 1, 1, 0)),
        ],
    );
    assert!(plan.start.is_empty(), "{plan:?}");
    let cheap = plan.waiting.iter().find(|w| w.job_id == "cheap").unwrap();
    assert_eq!(cheap.blocker.reason_code(), "JobBidding");
    assert!(
        cheap
            .message()
            .starts_with("a spot job runs on capacity no normal job needs: needs 2 CPU"),
        "{}",
        cheap.message()
    );
    // Considered after every normal job, whatever its priority.
    assert_eq!(plan.waiting[0].job_id, "big");
    // With nothing ahead of them, spot jobs take what is free.
    let plan = run(
        &capacity,
        &[running("busy", 5, 4, 0, None)],
        &[spot(waiting("cheap", 1, 2, 0)), waiting("small", 1, 1, 0)],
    );
    assert_eq!(plan.start, ["small", "cheap"]);
}

#[test]
fn a_normal_job_evicts_spot_jobs_first_even_without_preemption() {
    let capacity = pool(8, 0); // preemption off
    let plan = run(
        &capacity,
        &[
            spot_running(running("spot-a", 9, 3, 0, None)),
            running("low", 1, 3, 0, None),
            spot_running(running("spot-b", 9, 2, 0, None)),
        ],
        &[waiting("normal", 1, 3, 0)],
    );
    assert!(plan.start.is_empty());
    let victims: Vec<&str> = plan.preempt.iter().map(|p| p.victim.as_str()).collect();
    assert_eq!(
        victims,
        ["spot-a"],
        "the cheapest set of spot jobs that makes room"
    );
    assert_eq!(plan.preempt[0].for_job, "normal");
}

#[test]
fn spot_jobs_stay_within_the_spot_limits() {
    let capacity = Capacity {
        spot_limit: Some(res(3, 0)),
        spot_quotas: [("team".to_string(), res(1, 0))].into(),
        quotas: [("team".to_string(), res(4, 0))].into(),
        ..pool(8, 0)
    };
    let in_team = |w: Waiting| Waiting {
        quota: Some("team".into()),
        ..w
    };
    let plan = run(
        &capacity,
        &[spot_running(running("old", 1, 2, 0, None))],
        &[
            spot(waiting("two", 1, 2, 0)),
            spot(in_team(waiting("team-two", 1, 2, 0))),
            spot(waiting("one", 1, 1, 0)),
        ],
    );
    assert_eq!(plan.start, ["one"], "{plan:?}");
    let message = |id: &str| {
        plan.waiting
            .iter()
            .find(|w| w.job_id == id)
            .unwrap()
            .message()
    };
    assert!(
        message("two").contains("within the pool's spot limit"),
        "{}",
        message("two")
    );
    assert!(
        message("team-two").contains("within quota team's spot limit"),
        "{}",
        message("team-two")
    );
}

#[test]
fn a_quota_blocked_job_evicts_the_spot_jobs_of_its_quota() {
    let capacity = Capacity {
        quotas: [("team".to_string(), res(4, 0))].into(),
        ..pool(16, 0)
    };
    let in_team = |r: Running| Running {
        quota: Some("team".into()),
        ..r
    };
    let plan = run(
        &capacity,
        &[spot_running(in_team(running("spot", 1, 3, 0, None)))],
        &[Waiting {
            quota: Some("team".into()),
            ..waiting("normal", 1, 2, 0)
        }],
    );
    assert_eq!(plan.preempt.len(), 1, "{plan:?}");
    assert_eq!(plan.preempt[0].victim, "spot");
}

#[test]
fn a_normal_job_takes_an_elastic_jobs_extra_pods_before_preempting_anyone() {
    let capacity = Capacity {
        preemption: true,
        ..pool(8, 0)
    };
    // An elastic job of 6 one-CPU pods, 2 of them its minimum: 4 extra; a low-priority one.
    let elastic = Running {
        surplus: Some((res(1, 0), 4)),
        ..running("elastic", 5, 6, 0, None)
    };
    let plan = run(
        &capacity,
        &[elastic, running("low", 1, 2, 0, None)],
        &[waiting("normal", 1, 3, 0)],
    );
    assert_eq!(
        plan.preempt,
        [Preemption {
            victim: "elastic".into(),
            for_job: "normal".into(),
            pods: Some(3),
        }],
        "three extra pods, whatever the priorities; no whole job"
    );
    assert_eq!(
        plan.waiting[0].message(),
        "preempting 3 pods of elastic to make room; first in the queue"
    );
}

#[test]
fn with_preemption_a_whole_job_goes_only_when_extra_pods_are_not_enough() {
    let capacity = Capacity {
        preemption: true,
        ..pool(8, 0)
    };
    let elastic = Running {
        surplus: Some((res(1, 0), 1)),
        ..running("elastic", 1, 3, 0, None)
    };
    let plan = run(
        &capacity,
        &[elastic, running("low", 1, 5, 0, None)],
        &[waiting("big", 9, 6, 0)],
    );
    let victims: Vec<(&str, Option<u32>)> = plan
        .preempt
        .iter()
        .map(|p| (p.victim.as_str(), p.pods))
        .collect();
    assert_eq!(victims, [("elastic", Some(1)), ("low", None)], "{plan:?}");
}
