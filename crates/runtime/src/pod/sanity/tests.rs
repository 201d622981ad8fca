use std::net::TcpListener;

use opendlc_core::sanity::{CheckPlan, Phase};

use super::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn plan(rank: usize, peers: &[String], command: &str) -> CheckPlan {
    CheckPlan {
        rank,
        peers: peers.to_vec(),
        phases: Phase::ALL.to_vec(),
        timeout_secs: 20,
        command: command.into(),
        workdir: std::env::temp_dir().display().to_string(),
        mounts: vec![],
        gpus: vec![],
    }
}

#[test]
fn two_pods_check_each_other() {
    let peers: Vec<String> = (0..2)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let handles: Vec<_> = (0..2)
        .map(|rank| {
            let plan = plan(rank, &peers, "python3 train.py");
            std::thread::spawn(move || run(&plan))
        })
        .collect();
    for handle in handles {
        let results = handle.join().unwrap();
        assert_eq!(results.len(), 5);
        for r in &results {
            // python3 may be missing on a bare machine: only CheckInit depends on it.
            if r.phase != Phase::CheckInit {
                assert!(r.passed, "{:?}: {}", r.phase, r.message);
            }
        }
        assert!(
            results[4].message.contains("reached 1 peer"),
            "{}",
            results[4].message
        );
    }
}

#[test]
fn check_init_names_what_is_missing() {
    let peers = vec![format!("127.0.0.1:{}", free_port())];
    let mut plan = plan(0, &peers, "no-such-program --flag");
    plan.mounts = vec!["/no/such/mount".into()];
    plan.phases = vec![Phase::CheckInit];
    let results = run(&plan);
    assert!(!results[0].passed);
    assert!(results[0]
        .message
        .contains("\"no-such-program\" is not on PATH"));
    assert!(results[0].message.contains("/no/such/mount"));
}

#[test]
fn a_busy_port_fails_check_init() {
    let busy = TcpListener::bind("0.0.0.0:0").unwrap();
    let peers = vec![format!("127.0.0.1:{}", busy.local_addr().unwrap().port())];
    let results = run(&plan(0, &peers, "true"));
    assert!(!results[0].passed && results[0].message.contains("not free"));
    assert!(!results[1].passed && results[1].message.contains("no listener"));
}

#[test]
fn shell_commands_have_no_program_to_resolve() {
    assert_eq!(program_of("echo hi"), None);
    assert_eq!(program_of("A=1 B=2 torchrun x.py"), Some("torchrun".into()));
    assert_eq!(program_of("$HOME/run.sh"), None);
    assert_eq!(program_of("sh -c 'x'"), Some("sh".into()));
}
