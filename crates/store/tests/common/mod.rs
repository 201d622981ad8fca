//! Fixtures the store's tests share: a job, a pod, a fresh store.

#![allow(dead_code)]

use std::collections::BTreeMap;

use opendlc_core::{Job, JobStatus, JobTimes, JobType, Pod, PodStatus, Resources, Role, RoleSpec};
use opendlc_store::Store;

pub fn job(id: &str, name: &str, created: i64) -> Job {
    Job {
        job_id: id.into(),
        seq: 0,
        display_name: name.into(),
        job_type: JobType::PyTorchJob,
        status: JobStatus::Creating,
        reason: None,
        priority: 1,
        workspace_id: "default".into(),
        resource_id: String::new(),
        user_id: "1".into(),
        accessibility: "PRIVATE".into(),
        user_command: "echo hi".into(),
        roles: vec![RoleSpec {
            role: Role::Worker,
            pod_count: 2,
            image: "img:1".into(),
            resources: Resources::new(1000, 1024, 0),
            command: None,
            considered_in_success: true,
            restart_policy: Default::default(),
            startup_dependencies: Vec::new(),
            elastic: None,
            shared_memory_mib: None,
            extras: Default::default(),
            metadata: Default::default(),
            service: None,
        }],
        envs: BTreeMap::from([("A".into(), "B".into())]),
        tags: BTreeMap::from([("team".into(), "vision".into())]),
        max_running_minutes: Some(5),
        request: Default::default(),
        ports: Vec::new(),
        restart_count: 0,
        infra_restart_count: 0,
        times: JobTimes {
            created,
            ..JobTimes::default()
        },
    }
}

/// `n` jobs named `name`, `<prefix>0`, `<prefix>1`, …, created a millisecond apart from
/// `created`.
pub fn numbered_jobs(prefix: &str, name: &str, n: i64, created: i64) -> Vec<Job> {
    (0..n)
        .map(|i| job(&format!("{prefix}{i}"), name, created + i))
        .collect()
}

pub fn pod(job_id: &str, index: u32) -> Pod {
    Pod {
        pod_uid: format!("{job_id}-uid-{index}"),
        job_id: job_id.into(),
        pod_id: format!("{job_id}-worker-{index}"),
        role: Role::Worker,
        index,
        status: PodStatus::Pending,
        ip: None,
        node_name: None,
        pid: None,
        exit_code: None,
        exit_signal: None,
        reason: None,
        created: 10,
        started: None,
        finished: None,
        current: true,
    }
}

pub fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    (dir, store)
}
