//! JobReservedMinutes: a finished job keeps its pods and resources for a while.

use std::time::Duration;

use opendlc_core::JobStatus;

use super::{pool, pytorch, Harness};

fn reserved(minutes: u32) -> serde_json::Value {
    pytorch(
        2,
        serde_json::json!({"Settings": {"JobReservedMinutes": minutes, "JobReservedPolicy": "Always"}}),
    )
}

#[test]
fn a_reserved_job_keeps_its_resources_until_the_reservation_ends() {
    let mut h = Harness::new(pool(2));
    let id = h.submit(reserved(5));
    h.start_all(&id);
    h.exit_all(&id, 0);
    assert_eq!(h.status(&id), JobStatus::SucceededReserving);
    let next = h.submit(pytorch(1, serde_json::json!({})));
    assert_eq!(
        h.status(&next),
        JobStatus::Queuing,
        "the kept job holds the pool"
    );
    // Time passes: the reservation ends on the engine's tick.
    h.clock.advance(Duration::from_secs(5 * 60 - 1));
    h.tick();
    assert_eq!(h.status(&id), JobStatus::SucceededReserving);
    h.clock.advance(Duration::from_secs(1));
    h.tick();
    assert_eq!(h.status(&id), JobStatus::Succeeded);
    assert_eq!(h.status(&next), JobStatus::EnvPreparing);
}

#[test]
fn stopping_a_reserved_job_ends_its_reservation_with_its_outcome() {
    let mut h = Harness::new(pool(2));
    let id = h.submit(reserved(5));
    h.start_all(&id);
    h.exit_all(&id, 1);
    assert_eq!(h.status(&id), JobStatus::FailedReserving);
    h.stop(&id).unwrap();
    assert_eq!(h.status(&id), JobStatus::Failed);
    let next = h.submit(pytorch(2, serde_json::json!({})));
    assert_eq!(h.status(&next), JobStatus::EnvPreparing);
}

#[test]
fn a_reserved_job_survives_a_server_restart() {
    let mut h = Harness::new(pool(2));
    let id = h.submit(reserved(5));
    h.start_all(&id);
    h.exit_all(&id, 0);
    let mut h = h.restart_server();
    assert_eq!(h.status(&id), JobStatus::SucceededReserving);
    let next = h.submit(pytorch(1, serde_json::json!({})));
    assert_eq!(h.status(&next), JobStatus::Queuing);
}
