//! Secrets at rest: sealed in the database file, opened for whoever reads through the store,
//! plain ones of an older version sealed on open, and the files readable by their owner only.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use opendlc_core::{Job, JobStatus, JobTimes, JobType, Resources, Role, RoleSpec};
use opendlc_store::{AccessKeyRecord, Store, StoreError, KEY_FILE};

const SECRET: &str = "AkSecretNeverOnDisk0123456789";
const PASSWORD: &str = "RegistryPasswordNeverOnDisk";
const HIDDEN: &str = "HiddenEnvValueNeverOnDisk";

fn job(id: &str) -> Job {
    let request = serde_json::from_value(serde_json::json!({
        "JobSpecs": [{"Type": "Worker", "Image": "img:1", "PodCount": 1,
            "ImageConfig": {"DockerRegistry": "r.example", "Username": "u", "Password": PASSWORD}}],
        "CustomEnvs": [{"Key": "TOKEN", "Value": HIDDEN, "Visible": "false"},
                       {"Key": "SHOWN", "Value": "visible-value", "Visible": "true"}],
    }))
    .unwrap();
    Job {
        job_id: id.into(),
        seq: 0,
        display_name: id.into(),
        job_type: JobType::PyTorchJob,
        status: JobStatus::Creating,
        reason: None,
        priority: 1,
        workspace_id: "default".into(),
        resource_id: String::new(),
        user_id: "1".into(),
        accessibility: "PRIVATE".into(),
        user_command: "true".into(),
        roles: vec![RoleSpec {
            role: Role::Worker,
            pod_count: 1,
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
        envs: BTreeMap::from([
            ("TOKEN".into(), HIDDEN.into()),
            ("SHOWN".into(), "visible-value".into()),
        ]),
        tags: BTreeMap::new(),
        max_running_minutes: None,
        request,
        ports: Vec::new(),
        restart_count: 0,
        infra_restart_count: 0,
        times: JobTimes {
            created: 1,
            ..JobTimes::default()
        },
    }
}

fn key(id: &str) -> AccessKeyRecord {
    AccessKeyRecord {
        access_key_id: id.into(),
        user_id: "1".into(),
        secret: SECRET.into(),
        created: 1,
        revoked: None,
        job_id: None,
    }
}

fn user(store: &Store) {
    let admin = opendlc_core::identity::User {
        user_id: "1".into(),
        name: "admin".into(),
        is_admin: true,
    };
    store.ensure_user(&admin, 1).unwrap();
}

/// Every byte of the database and its WAL, after a checkpoint-free write.
fn disk_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        bytes.extend(std::fs::read(Path::new(&name)).unwrap_or_default());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn secrets_are_sealed_on_disk_and_open_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("opendlc.db");
    let store = Store::open(&db).unwrap();
    user(&store);
    store.put_access_key(&key("AK1")).unwrap();
    store.insert_job(&job("dlcsecret")).unwrap();
    let mut updated = store.get_job("dlcsecret").unwrap();
    updated.priority = 3;
    store.update_job(&updated).unwrap();

    assert_eq!(store.access_key("AK1").unwrap().unwrap().secret, SECRET);
    let stored = store.get_job("dlcsecret").unwrap();
    assert_eq!(stored.envs["TOKEN"], HIDDEN);
    let text = serde_json::to_string(&stored.request).unwrap();
    assert!(text.contains(PASSWORD) && text.contains(HIDDEN));

    let bytes = disk_bytes(&db);
    assert!(
        contains(&bytes, "visible-value"),
        "the test reads the files"
    );
    for secret in [SECRET, PASSWORD, HIDDEN] {
        assert!(!contains(&bytes, secret), "{secret} is on disk in clear");
    }
    for file in [
        db.clone(),
        dir.path().join("opendlc.db-wal"),
        dir.path().join(KEY_FILE),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[test]
fn a_reopened_store_reads_what_it_sealed_and_a_lost_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("opendlc.db");
    {
        let store = Store::open(&db).unwrap();
        user(&store);
        store.put_access_key(&key("AK1")).unwrap();
        store.insert_job(&job("dlcsecret")).unwrap();
    }
    let store = Store::open(&db).unwrap();
    assert_eq!(store.access_key("AK1").unwrap().unwrap().secret, SECRET);
    assert_eq!(store.get_job("dlcsecret").unwrap().envs["TOKEN"], HIDDEN);
    drop(store);

    let key_file = dir.path().join(KEY_FILE);
    let kept = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    // Refused at every start, not only the first: no new key is left to take.
    for _ in 0..2 {
        let Err(refused) = Store::open(&db) else {
            panic!("a store without its key opened");
        };
        assert!(matches!(refused, StoreError::Key(_)), "{refused}");
        assert!(refused.to_string().contains("is missing"), "{refused}");
        assert!(!key_file.exists());
    }
    // Another database's key is refused too.
    let other = tempfile::tempdir().unwrap();
    drop(Store::open(&other.path().join("opendlc.db")).unwrap());
    std::fs::copy(other.path().join(KEY_FILE), &key_file).unwrap();
    let Err(refused) = Store::open(&db) else {
        panic!("a store opened with another's key");
    };
    assert!(refused.to_string().contains("does not open"), "{refused}");
    std::fs::write(&key_file, kept).unwrap();
    assert_eq!(
        Store::open(&db)
            .unwrap()
            .access_key("AK1")
            .unwrap()
            .unwrap()
            .secret,
        SECRET
    );
}

#[test]
fn plain_secrets_of_an_older_database_are_sealed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("opendlc.db");
    {
        let store = Store::open(&db).unwrap();
        user(&store);
        store.insert_job(&job("dlcold")).unwrap();
    }
    // What an older version left: secrets in clear, no record of sealing, loose modes.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let old = job("dlcold");
        conn.execute_batch("DROP TABLE store_flags").unwrap();
        conn.execute(
            "INSERT INTO access_keys (access_key_id, user_id, secret, gmt_create)
             VALUES ('AKOLD', '1', ?1, 1)",
            [SECRET],
        )
        .unwrap();
        conn.execute(
            "UPDATE jobs SET request = ?1, envs = ?2 WHERE job_id = 'dlcold'",
            [
                serde_json::to_string(&old.request).unwrap(),
                serde_json::to_string(&old.envs).unwrap(),
            ],
        )
        .unwrap();
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
    }
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(contains(&disk_bytes(&db), SECRET));

    let store = Store::open(&db).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(store.access_key("AKOLD").unwrap().unwrap().secret, SECRET);
    let job = store.get_job("dlcold").unwrap();
    assert_eq!(job.envs["TOKEN"], HIDDEN);
    assert_eq!(job, {
        let mut expected = self::job("dlcold");
        expected.seq = job.seq;
        expected
    });
    drop(store);
    let bytes = disk_bytes(&db);
    for secret in [SECRET, PASSWORD, HIDDEN] {
        assert!(
            !contains(&bytes, secret),
            "{secret} is still on disk in clear"
        );
    }
}
