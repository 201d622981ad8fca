//! The store against a real SQLite file.

mod common;

use std::collections::BTreeMap;

use common::{job, numbered_jobs, open, pod};
use opendlc_core::{JobStatus, PodStatus};
use opendlc_store::{
    Admission, JobFilter, NameSearch, PodEnd, SortField, Store, StoreError, Transition, Visibility,
};

#[test]
fn a_job_round_trips_and_its_lifecycle_is_recorded() {
    let (dir, store) = open();
    let seq = store.insert_job(&job("dlca", "a", 1_000)).unwrap();
    let mut stored = store.get_job("dlca").unwrap();
    assert_eq!(stored.seq, seq);
    stored.seq = 0;
    assert_eq!(stored, job("dlca", "a", 1_000));

    // What the engine keeps in memory follows every transition as the store records it.
    let mut kept = store.get_job("dlca").unwrap();
    let queuing = Transition::new(JobStatus::Queuing, 2_000).because("JobQueuing", "waits");
    store.transition("dlca", &queuing).unwrap();
    queuing.record_in(&mut kept);
    let pods = [pod("dlca", 0), pod("dlca", 1)];
    let t = Transition::new(JobStatus::EnvPreparing, 3_000);
    let admission = Admission {
        job_id: "dlca",
        ports: &[4242, 4243],
        pods: &pods,
    };
    assert_eq!(store.admit_all(&[admission], &t).unwrap(), [true]);
    t.record_in(&mut kept);
    kept.ports = vec![4242, 4243];
    assert_eq!(store.get_job("dlca").unwrap(), kept);
    store
        .pod_started(&pods[0], 77, "127.0.0.1", "host", 3_500, None)
        .unwrap();
    let running = Transition::new(JobStatus::Running, 4_000);
    store.transition("dlca", &running).unwrap();
    running.record_in(&mut kept);
    let end = PodEnd {
        status: PodStatus::Succeeded,
        exit_code: Some(0),
        exit_signal: None,
        reason: None,
        at: 5_000,
    };
    assert!(store.pod_ended(&pods[0], &end, "exited").unwrap());
    assert!(
        !store.pod_ended(&pods[0], &end, "exited").unwrap(),
        "an end is recorded once"
    );
    let done = Transition::new(JobStatus::Succeeded, 6_000).because("JobSucceeded", "done");
    store.transition("dlca", &done).unwrap();
    done.record_in(&mut kept);
    let job = store.get_job("dlca").unwrap();
    assert_eq!(job, kept);
    assert_eq!(
        (job.times.submitted, job.times.running),
        (Some(2_000), Some(4_000))
    );
    assert_eq!(
        (job.times.succeeded, job.times.finished),
        (Some(6_000), Some(6_000))
    );

    let err = store
        .transition("dlca", &Transition::new(JobStatus::Running, 7_000))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Transition {
            from: JobStatus::Succeeded,
            ..
        }
    ));

    let history: Vec<_> = store
        .status_history("dlca")
        .unwrap()
        .into_iter()
        .map(|h| (h.status, h.start, h.end))
        .collect();
    assert_eq!(
        history,
        [
            (JobStatus::Creating, 1_000, Some(2_000)),
            (JobStatus::Queuing, 2_000, Some(3_000)),
            (JobStatus::EnvPreparing, 3_000, Some(4_000)),
            (JobStatus::Running, 4_000, Some(6_000)),
            (JobStatus::Succeeded, 6_000, Some(6_000)),
        ]
    );
    let stored_pods = store.pods("dlca").unwrap();
    assert_eq!(stored_pods[0].status, PodStatus::Succeeded);
    assert_eq!(stored_pods[0].pid, Some(77));
    assert_eq!(
        store
            .events("dlca", Some("dlca-worker-0"), 0, i64::MAX, 10)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .events("dlca", None, 0, i64::MAX, 3)
            .unwrap()
            .last()
            .unwrap()
            .text,
        "Job dlca is Succeeded: done"
    );

    // Reopening the file finds everything again.
    drop(store);
    let store = Store::open(&dir.path().join("db")).unwrap();
    assert_eq!(store.get_job("dlca").unwrap().status, JobStatus::Succeeded);
    store.delete_job("dlca").unwrap();
    assert!(matches!(
        store.get_job("dlca"),
        Err(StoreError::JobNotFound(_))
    ));
    assert!(store.pods("dlca").unwrap().is_empty());
}

#[test]
fn list_jobs_filters_in_sql() {
    let (_dir, store) = open();
    store.insert_job(&job("dlc1", "Train-A", 1_000)).unwrap();
    let mut other = job("dlc2", "eval", 2_000);
    other.tags.clear();
    store.insert_job(&other).unwrap();
    store.insert_job(&job("dlc3", "train-b", 3_000)).unwrap();
    let names = |filter: &JobFilter| -> Vec<String> {
        store
            .list_jobs(filter)
            .unwrap()
            .0
            .into_iter()
            .map(|j| j.display_name)
            .collect()
    };
    let base = JobFilter {
        limit: 10,
        descending: true,
        ..JobFilter::default()
    };
    assert_eq!(names(&base), ["train-b", "eval", "Train-A"]);
    assert_eq!(
        names(&JobFilter {
            display_name: Some("TRAIN".into()),
            ..base.clone()
        }),
        ["train-b", "Train-A"]
    );
    let tags = BTreeMap::from([("team".to_string(), "vision".to_string())]);
    assert_eq!(
        names(&JobFilter {
            tags,
            ..base.clone()
        }),
        ["train-b", "Train-A"]
    );
    assert_eq!(
        names(&JobFilter {
            start: Some(1_500),
            end: Some(2_500),
            ..base.clone()
        }),
        ["eval"]
    );
    assert_eq!(
        names(&JobFilter {
            sort: SortField::DisplayName,
            descending: false,
            ..base.clone()
        }),
        ["Train-A", "eval", "train-b"]
    );
    let (page, total) = store
        .list_jobs(&JobFilter {
            limit: 1,
            offset: 1,
            ..base.clone()
        })
        .unwrap();
    assert_eq!((page[0].display_name.as_str(), total), ("eval", 3));
    assert_eq!(
        names(&JobFilter {
            statuses: vec!["Running".into()],
            ..base
        }),
        Vec::<String>::new()
    );
}

#[test]
fn many_jobs_are_recorded_in_one_transaction_in_order() {
    let (_dir, store) = open();
    let jobs = numbered_jobs("dlcbatch", "b", 3, 1_000);
    let seqs = store.insert_jobs(&jobs).unwrap();
    assert_eq!(seqs.len(), 3);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for (job, seq) in jobs.iter().zip(&seqs) {
        let stored = store.get_job(&job.job_id).unwrap();
        assert_eq!(stored.seq, *seq);
        assert_eq!(store.status_history(&job.job_id).unwrap().len(), 1);
    }
}

#[test]
fn jobs_created_together_are_stored_waiting_or_not_at_all() {
    let (_dir, store) = open();
    let jobs = numbered_jobs("dlcwait", "w", 2, 1_000);
    let notes = vec!["a note".to_string()];
    let queuing = Transition::new(JobStatus::Queuing, 1_500).because("JobQueuing", "waiting");
    let noted: Vec<_> = jobs
        .iter()
        .map(|j| (j, notes.as_slice(), queuing.clone()))
        .collect();
    store.insert_jobs_noting(&noted).unwrap();
    for job in &jobs {
        let stored = store.get_job(&job.job_id).unwrap();
        assert_eq!(stored.status, JobStatus::Queuing);
        assert_eq!(stored.times.submitted, Some(1_500));
        let history: Vec<_> = store
            .status_history(&job.job_id)
            .unwrap()
            .into_iter()
            .map(|h| (h.status, h.start, h.end))
            .collect();
        assert_eq!(
            history,
            [
                (JobStatus::Creating, job.times.created, Some(1_500)),
                (JobStatus::Queuing, 1_500, None),
            ]
        );
        let events: Vec<_> = store
            .events(&job.job_id, None, 0, i64::MAX, 10)
            .unwrap()
            .into_iter()
            .map(|e| e.text)
            .collect();
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[1], "a note");
        assert!(events[2].contains("Queuing"), "{events:?}");
    }

    // A transition the lifecycle refuses stores none of the batch.
    let refused = Transition::new(JobStatus::Creating, 1_500);
    let more = numbered_jobs("dlcnone", "n", 2, 2_000);
    let noted = [
        (&more[0], &[][..], queuing.clone()),
        (&more[1], &[][..], refused),
    ];
    assert!(matches!(
        store.insert_jobs_noting(&noted),
        Err(StoreError::Transition { .. })
    ));
    for job in &more {
        assert!(matches!(
            store.get_job(&job.job_id),
            Err(StoreError::JobNotFound(_))
        ));
    }
}

#[test]
fn jobs_admitted_together_leave_out_one_stopped_meanwhile() {
    let (_dir, store) = open();
    let jobs = numbered_jobs("dlcadmit", "a", 3, 1_000);
    store.insert_jobs(&jobs).unwrap();
    for job in &jobs {
        let queuing = Transition::new(JobStatus::Queuing, 2_000);
        store.transition(&job.job_id, &queuing).unwrap();
    }
    let stopped = Transition::new(JobStatus::Stopped, 2_500);
    store.transition("dlcadmit1", &stopped).unwrap();
    let pods: Vec<Vec<_>> = jobs.iter().map(|j| vec![pod(&j.job_id, 0)]).collect();
    let admissions: Vec<Admission<'_>> = jobs
        .iter()
        .zip(&pods)
        .map(|(job, pods)| Admission {
            job_id: &job.job_id,
            ports: &[5000],
            pods,
        })
        .collect();
    let t = Transition::new(JobStatus::EnvPreparing, 3_000);
    assert_eq!(
        store.admit_all(&admissions, &t).unwrap(),
        [true, false, true]
    );
    for (job, admitted) in jobs.iter().zip([true, false, true]) {
        let stored = store.get_job(&job.job_id).unwrap();
        let (status, ports, pods) = if admitted {
            (JobStatus::EnvPreparing, vec![5000], 1)
        } else {
            (JobStatus::Stopped, vec![], 0)
        };
        assert_eq!(
            (stored.status, stored.ports),
            (status, ports),
            "{}",
            job.job_id
        );
        assert_eq!(
            store.pods(&job.job_id).unwrap().len(),
            pods,
            "{}",
            job.job_id
        );
    }
}

/// TotalCount over a whole history comes from the kept counts; it matches the jobs as they are
/// after inserts, status changes and deletions, whatever the filter.
#[test]
fn kept_counts_give_the_same_total_as_counting_the_jobs() {
    let (_dir, store) = open();
    let jobs = numbered_jobs("dlccount", "c", 6, 1_000);
    store.insert_jobs(&jobs).unwrap();
    for id in ["dlccount0", "dlccount1", "dlccount2"] {
        store
            .transition(id, &Transition::new(JobStatus::Queuing, 2_000))
            .unwrap();
    }
    store
        .transition("dlccount0", &Transition::new(JobStatus::Stopped, 3_000))
        .unwrap();
    store.delete_job("dlccount0").unwrap();
    let total = |filter: JobFilter| {
        store
            .list_jobs(&JobFilter {
                limit: 100,
                ..filter
            })
            .unwrap()
    };
    // From 1970 on: the bounds hold every job, so the kept counts answer.
    let whole = JobFilter {
        start: Some(0),
        ..JobFilter::default()
    };
    let (page, n) = total(whole.clone());
    assert_eq!((page.len(), n), (5, 5));
    let queuing = JobFilter {
        statuses: vec!["Queuing".into()],
        ..whole.clone()
    };
    assert_eq!(total(queuing).1, 2);
    let creating = JobFilter {
        statuses: vec!["Creating".into()],
        user_id: Some("1".into()),
        ..whole
    };
    assert_eq!(total(creating).1, 3);
    // A window inside the history counts the jobs themselves.
    let window = JobFilter {
        start: Some(1_003),
        ..JobFilter::default()
    };
    assert_eq!(total(window).1, 3);
}

/// The names of the jobs (up to 100, sorted) whose DisplayName holds `needle`, over every
/// owner's, and how many there are in all.
fn names_holding(store: &Store, needle: &str) -> (Vec<String>, u64) {
    let filter = JobFilter {
        display_name: Some(needle.into()),
        limit: 100,
        ..JobFilter::default()
    };
    let (page, total) = store.list_jobs(&filter).unwrap();
    let mut names: Vec<String> = page.into_iter().map(|j| j.display_name).collect();
    names.sort();
    (names, total)
}

/// A DisplayName substring over every owner's jobs goes through the names' trigrams: any case,
/// anywhere in the name, and a deleted job's name is gone from them.
#[test]
fn a_name_substring_over_every_owner_is_found_by_its_trigrams() {
    let (_dir, store) = open();
    let mut jobs: Vec<_> = ["Train-ResNet", "eval-resnet", "bert-train", "gpt"]
        .iter()
        .enumerate()
        .map(|(i, name)| job(&format!("dlcname{i}"), name, 1_000 + i as i64))
        .collect();
    jobs[1].user_id = "2".into();
    store.insert_jobs(&jobs).unwrap();
    let names = |needle: &str| {
        let (names, total) = names_holding(&store, needle);
        assert_eq!(total as usize, names.len());
        names
    };
    assert_eq!(names("RESNET"), ["Train-ResNet", "eval-resnet"]);
    assert_eq!(names("train"), ["Train-ResNet", "bert-train"]);
    // Shorter than a trigram: tested name by name.
    assert_eq!(names("pt"), ["gpt"]);
    assert!(names("resnets").is_empty());
    store.delete_job("dlcname1").unwrap();
    assert_eq!(names("resnet"), ["Train-ResNet"]);
}

/// Over every owner's jobs, a needle of any length from 3 finds exactly the names that hold it
/// in any case (`instr(lower(…))`), whichever of the index's grams it is searched by: the
/// trigrams, or for a caller who may see every job a gram of up to 6 characters or a phrase of
/// them.
#[test]
fn a_name_search_over_everyone_finds_each_needle_s_names_whatever_its_length() {
    let (_dir, store) = open();
    let names = [
        "resnet-7-12",
        "ResNet50-train",
        "train-resnet",
        "bert-base-zh",
        "Übung-resnet-7",
        "res-net",
        "netres",
        "llama-7b-resnet-7-1",
    ];
    let jobs: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| job(&format!("dlclen{i}"), name, 1_000 + i as i64))
        .collect();
    store.insert_jobs(&jobs).unwrap();
    let mut needles: Vec<String> = names
        .iter()
        .flat_map(|name| {
            let chars: Vec<char> = name.chars().collect();
            (3..=chars.len()).flat_map(move |length| {
                chars
                    .windows(length)
                    .map(|w| w.iter().collect::<String>())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    needles.extend(["RESNET-7-1", "resnet-8", "netresnet", "übung"].map(String::from));
    for needle in needles {
        let (found, total) = names_holding(&store, &needle);
        let mut expected: Vec<String> = names
            .iter()
            .filter(|name| {
                name.to_ascii_lowercase()
                    .contains(&needle.to_ascii_lowercase())
            })
            .map(|name| name.to_string())
            .collect();
        expected.sort();
        assert_eq!(found, expected, "{needle}");
        assert_eq!(total as usize, expected.len(), "{needle}");
    }
}

/// A name many jobs share, all of them older than a walk of the newest jobs reaches: its count
/// is the index's, and its page is looked up among its matches, in every way the index is read.
#[test]
fn a_name_shared_only_by_old_jobs_is_paged_among_its_matches() {
    let (_dir, store) = open();
    let jobs: Vec<_> = (0..3_000)
        .map(|i| {
            let name = if i < 150 {
                format!("old-run-{i}")
            } else {
                format!("new-{i}")
            };
            job(&format!("dlcold{i}"), &name, 1_000 + i)
        })
        .collect();
    store.insert_jobs(&jobs).unwrap();
    for tuning in name_searches() {
        store.tune_name_search(tuning);
        let filter = JobFilter {
            display_name: Some("OLD-RUN".into()),
            descending: true,
            limit: 10,
            ..JobFilter::default()
        };
        let (page, total) = store.list_jobs(&filter).unwrap();
        let names: Vec<String> = page.into_iter().map(|j| j.display_name).collect();
        let expected: Vec<String> = (140..150).rev().map(|i| format!("old-run-{i}")).collect();
        assert_eq!((names, total), (expected, 150), "{tuning:?}");
    }
}

/// The ways a DisplayName's trigram index is read, for jobs this few: the candidates held in
/// memory, found by each statement instead (over 5), and read by three threads.
fn name_searches() -> [NameSearch; 3] {
    let held = NameSearch {
        split_from: u64::MAX,
        ..NameSearch::default()
    };
    [
        held,
        NameSearch {
            most_listed: 5,
            ..held
        },
        NameSearch {
            split_from: 0,
            threads: 3,
            ..held
        },
    ]
}

/// Over every owner's jobs a DisplayName is searched within what the caller may see; a caller
/// who may see every job is spared the test of each, and a page of many matches, found walking
/// the creation order, is the page the matches' lookups give. A name with a letter beyond ASCII
/// is matched in ASCII's case rules only, as over one owner's jobs.
#[test]
fn a_name_search_over_everyone_keeps_to_what_the_caller_may_see() {
    let (_dir, store) = open();
    let jobs: Vec<_> = (0..200)
        .map(|i| {
            let mut job = job(&format!("dlcvis{i}"), &format!("run-{i}"), 1_000 + i);
            job.user_id = if i % 2 == 0 { "1" } else { "2" }.into();
            if i % 10 == 1 {
                job.accessibility = "PUBLIC".into();
            }
            job
        })
        .collect();
    store.insert_jobs(&jobs).unwrap();
    store
        .insert_jobs(&[job("dlcvisu", "Übung-run-x", 5_000)])
        .unwrap();
    // A PRIVATE job of another workspace, which only its owner and that workspace's
    // administrators see.
    let mut other = job("dlcvisb", "run-b", 5_001);
    (other.workspace_id, other.user_id) = ("ws-b".into(), "2".into());
    store.insert_jobs(&[other]).unwrap();
    let list = |needle: &str, visible_to: &Visibility, limit| {
        let filter = JobFilter {
            display_name: Some(needle.into()),
            visible_to: Some(visible_to.clone()),
            descending: true,
            limit,
            ..JobFilter::default()
        };
        let (page, total) = store.list_jobs(&filter).unwrap();
        let names: Vec<String> = page.into_iter().map(|j| j.display_name).collect();
        (names, total)
    };
    for tuning in name_searches() {
        store.tune_name_search(tuning);
        let member = Visibility {
            user_id: "1".into(),
            member_of: vec!["default".into()],
            admin_of: vec![],
        };
        let (names, total) = list("RUN-1", &member, 3);
        // User 1's (even) run-1x and run-1xx, and user 2's PUBLIC ones (run-1, run-11, run-1x1).
        assert_eq!(total, 55 + 12, "{names:?}");
        assert_eq!(names, ["run-198", "run-196", "run-194"]);
        let (names, _) = list("run-19", &member, 6);
        assert_eq!(
            names,
            ["run-198", "run-196", "run-194", "run-192", "run-191", "run-190"]
        );
        let admin = Visibility {
            admin_of: vec!["default".into()],
            ..member.clone()
        };
        // 201 matches of the 201 jobs of the workspace: the page walks the creation order.
        let (walked, total) = list("run-", &admin, 6);
        assert_eq!(total, 201);
        assert_eq!(walked[..2], ["Übung-run-x", "run-199"]);
        let admin_of_b = Visibility {
            user_id: "3".into(),
            member_of: vec!["ws-b".into()],
            admin_of: vec!["ws-b".into()],
        };
        assert_eq!(list("run-", &admin_of_b, 10), (vec!["run-b".into()], 1));
        assert_eq!(list("run-b", &member, 10).1, 0);
        // Beyond ASCII, case counts as it does for one owner.
        assert_eq!(list("übung", &admin, 10).1, 0);
        assert_eq!(list("Übung", &admin, 10).1, 1);
    }
}

/// A DisplayName search's page is the same whether it is found walking the creation order
/// (the matches are dense enough), looked up match by match (a deep page), or looked up
/// after a walk that did not reach far enough (the matches are all among the oldest jobs).
#[test]
fn a_name_search_pages_alike_walked_or_looked_up() {
    let (_dir, store) = open();
    // 201 matches among the 3,201 jobs, all created before the others.
    let jobs: Vec<_> = (0..3_201)
        .map(|i| {
            let name = if i <= 200 {
                format!("match-{i}")
            } else {
                format!("other-{i}")
            };
            job(&format!("dlcwalk{i}"), &name, 1_000 + i)
        })
        .collect();
    store.insert_jobs(&jobs).unwrap();
    let member = Visibility {
        user_id: "1".into(),
        member_of: vec!["default".into()],
        admin_of: vec![],
    };
    let list = |descending, offset, limit| {
        let filter = JobFilter {
            display_name: Some("match".into()),
            visible_to: Some(member.clone()),
            descending,
            offset,
            limit,
            ..JobFilter::default()
        };
        let (page, total) = store.list_jobs(&filter).unwrap();
        assert_eq!(total, 201);
        page.into_iter().map(|j| j.display_name).collect::<Vec<_>>()
    };
    for (tuning, descending) in name_searches()
        .into_iter()
        .flat_map(|t| [(t, false), (t, true)])
    {
        store.tune_name_search(tuning);
        // Oldest first a page of 6 is walked (1,000 entries hold every match); newest first
        // the walk finds none of them, and they are looked up. 40 a page are looked up.
        let all = list(descending, 0, 201);
        assert_eq!(all.len(), 201);
        assert_eq!(list(descending, 0, 6), all[..6]);
        assert_eq!(list(descending, 0, 40), all[..40]);
        assert_eq!(list(descending, 195, 10), all[195..]);
    }
    assert_eq!(list(false, 0, 2), ["match-0", "match-1"]);
}

/// Who may see a job is kept in the name index as the job changes: made PUBLIC or PRIVATE
/// again (UpdateJob), deleted; a workspace's administrator sees its jobs, a caller no job
/// names (no code yet) sees none.
#[test]
fn a_name_search_follows_a_jobs_accessibility_and_its_deletion() {
    let (_dir, store) = open();
    let mut jobs: Vec<_> = (0..4)
        .map(|i| job(&format!("dlcacc{i}"), &format!("train-{i}"), 1_000 + i))
        .collect();
    jobs[3].workspace_id = "ws-b".into();
    jobs[3].user_id = "3".into();
    store.insert_jobs(&jobs).unwrap();
    let count = |user: &str, member_of: &[&str], admin_of: &[&str]| {
        let filter = JobFilter {
            display_name: Some("train".into()),
            visible_to: Some(Visibility {
                user_id: user.into(),
                member_of: member_of.iter().map(|w| w.to_string()).collect(),
                admin_of: admin_of.iter().map(|w| w.to_string()).collect(),
            }),
            limit: 10,
            ..JobFilter::default()
        };
        let (page, total) = store.list_jobs(&filter).unwrap();
        assert_eq!(page.len() as u64, total);
        total
    };
    // User 2 owns none: user 1's three are PRIVATE.
    assert_eq!(count("2", &["default"], &[]), 0);
    // Nobody's code (no job of theirs, no workspace with jobs).
    assert_eq!(count("9", &["ws-none"], &["ws-none"]), 0);
    let mut public = store.get_job("dlcacc1").unwrap();
    public.accessibility = "PUBLIC".into();
    store.update_job(&public).unwrap();
    assert_eq!(count("2", &["default"], &[]), 1);
    // PUBLIC in a workspace the caller does not belong to.
    assert_eq!(count("2", &["ws-b"], &[]), 0);
    // Administrators see a workspace's jobs whoever owns them.
    assert_eq!(count("2", &["default"], &["ws-b"]), 2);
    assert_eq!(count("1", &[], &[]), 3);
    public.accessibility = "PRIVATE".into();
    store.update_job(&public).unwrap();
    assert_eq!(count("2", &["default"], &["ws-b"]), 1);
    store.delete_job("dlcacc0").unwrap();
    assert_eq!(count("1", &[], &[]), 2);
}

/// What the write-ahead log holds is copied into the database by `checkpoint`, beside the
/// writer (which copies only at 32,768 pages itself): afterwards a reader of the database file
/// alone, without the log, sees the jobs.
#[test]
fn a_checkpoint_copies_the_log_into_the_database() {
    let (dir, store) = open();
    let jobs: Vec<_> = (0..50)
        .map(|i| job(&format!("dlcwal{i}"), &format!("wal-{i}"), 1_000 + i))
        .collect();
    store.insert_jobs(&jobs).unwrap();
    let db = dir.path().join("db");
    let copy = dir.path().join("copy");
    let stored_without_the_log = |copy: &std::path::Path| {
        std::fs::copy(&db, copy).unwrap();
        let conn = rusqlite::Connection::open(copy).unwrap();
        // Before any copy not even the schema is in the file.
        conn.query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    assert_eq!(
        stored_without_the_log(&copy),
        0,
        "copied before any checkpoint"
    );
    store.checkpoint().unwrap();
    assert_eq!(stored_without_the_log(&dir.path().join("copy2")), 50);
}
