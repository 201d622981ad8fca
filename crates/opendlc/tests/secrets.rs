//! The server's secrets at rest and in answers (docs/SECURITY.md, "Secrets at rest and in
//! answers"): the data directory and its key files are the server user's alone, the database
//! holds no secret in clear, keys survive a restart, and write-only job values are never
//! echoed while the pod still gets them.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{pytorch_job, TestServer};
use serde_json::{json, Value};

const PASSWORD: &str = "RegistryPassw0rdNeverEchoed";
const AUTH: &str = "UmVnaXN0cnlBdXRoTmV2ZXJFY2hvZWQ=";
const AK_ID: &str = "STS.AccessKeyIdNeverEchoed";
const STS_TOKEN: &str = "SecurityTokenNeverEchoed";
const HIDDEN: &str = "HiddenEnvValueNeverEchoed";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The database file and its WAL, as bytes.
fn database_bytes(data_dir: &Path) -> Vec<u8> {
    ["opendlc.db", "opendlc.db-wal"]
        .iter()
        .flat_map(|name| std::fs::read(data_dir.join(name)).unwrap_or_default())
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [PASSWORD, AUTH, AK_ID, STS_TOKEN, HIDDEN] {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_its_keys_are_the_servers_alone() {
    let data_dir = tempfile::tempdir().unwrap();
    // As an older version (or a loose umask) may have left them.
    std::fs::set_permissions(data_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let token_key = data_dir.path().join("token-key");
    std::fs::write(&token_key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&token_key, std::fs::Permissions::from_mode(0o644)).unwrap();

    let server = TestServer::start_in(data_dir).await;
    let job_id = server
        .create_job(pytorch_job("modes", &[("Worker", 1)], "true"))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    let dir = server.data_dir.path();
    assert_eq!(mode(dir), 0o700, "the data directory");
    for name in [
        "opendlc.db",
        "opendlc.db-wal",
        "opendlc.db-shm",
        "credentials",
        "token-key",
        "secrets.key",
        "lock",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    // No key where pods' directories are.
    let mut under_jobs = vec![dir.join("jobs")];
    while let Some(d) = under_jobs.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                !["credentials", "token-key", "secrets.key"].contains(&name.as_str()),
                "{} is under jobs/",
                entry.path().display()
            );
            if entry.file_type().unwrap().is_dir() {
                under_jobs.push(entry.path());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_before_a_restart_still_sign_and_are_not_on_disk_in_clear() {
    let server = TestServer::start().await;
    let alice = server.add_user("alice");
    let (status, _) = server
        .call_as(&alice, "GET", "/api/v1/jobs?PageSize=1", None)
        .await;
    assert_eq!(status, 200);
    let admin = server.admin.clone();
    let data_dir = server.stop().await;
    let bytes = database_bytes(data_dir.path());
    assert!(contains(&bytes, &alice.id), "the test reads the database");
    for secret in [&alice.secret, &admin.secret] {
        assert!(
            !contains(&bytes, secret),
            "an access-key secret is in clear"
        );
    }

    let server = TestServer::start_in(data_dir).await;
    assert_eq!(server.admin.id, admin.id);
    for key in [&alice, &admin] {
        let (status, body) = server
            .call_as(key, "GET", "/api/v1/jobs?PageSize=1", None)
            .await;
        assert_eq!(status, 200, "{}: {body}", key.id);
    }
    let forged = common::Key {
        id: alice.id.clone(),
        secret: "not-the-secret".into(),
    };
    let (status, _) = server
        .call_as(&forged, "GET", "/api/v1/jobs?PageSize=1", None)
        .await;
    assert_ne!(status, 200, "a wrong secret still fails after a restart");
}

fn job_with_secrets() -> Value {
    let mut job = pytorch_job(
        "secrets",
        &[("Worker", 1)],
        r#"echo "len=${#TOKEN}"; echo "sum=$(printf %s "$TOKEN" | sha256sum | cut -c1-16)"; echo "shown=$SHOWN""#,
    );
    job["JobSpecs"][0]["ImageConfig"] = json!({
        "DockerRegistry": "registry.example", "Username": "robot",
        "Password": PASSWORD, "Auth": AUTH,
    });
    job["CredentialConfig"] = json!({
        "EnableCredentialInject": true,
        "CredentialConfigItems": [{"Key": "oss", "Type": "Role", "Roles": [{
            "RoleArn": "acs:ram::1:role/reader",
            "AssumeUserInfo": {"AccessKeyId": AK_ID, "SecurityToken": STS_TOKEN, "Id": "1"}}]}],
    });
    job["CustomEnvs"] = json!([
        {"Key": "TOKEN", "Value": HIDDEN, "Visible": "false"},
        {"Key": "SHOWN", "Value": "plain-value", "Visible": "true"},
    ]);
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_only_values_are_never_echoed_but_reach_the_pod() {
    let server = TestServer::start().await;
    let job_id = server.create_job(job_with_secrets()).await;
    let job = server.wait_status(&job_id, "Succeeded").await;

    // GetJob: the fields are there, their values redacted; visible values as sent.
    assert_no_secret("GetJob", &job.to_string());
    let image = &job["JobSpecs"][0]["ImageConfig"];
    assert_eq!(image["Password"], "******", "{job}");
    assert_eq!(image["Auth"], "******", "{job}");
    assert_eq!(image["Username"], "robot", "{job}");
    let user = &job["CredentialConfig"]["CredentialConfigItems"][0]["Roles"][0]["AssumeUserInfo"];
    assert_eq!(user["AccessKeyId"], "******", "{job}");
    assert_eq!(user["SecurityToken"], "******", "{job}");
    let envs = job["CustomEnvs"].as_array().unwrap();
    assert_eq!(envs[0]["Value"], "******", "{job}");
    assert_eq!(envs[1]["Value"], "plain-value", "{job}");
    assert_eq!(job["Envs"]["TOKEN"], "******", "{job}");
    assert_eq!(job["Envs"]["SHOWN"], "plain-value", "{job}");

    // ListJobs.
    let list = server.ok("GET", "/api/v1/jobs", None).await;
    assert!(list.to_string().contains(&job_id));
    assert_no_secret("ListJobs", &list.to_string());

    // GetJob with a share token.
    let token = server
        .ok(
            "GET",
            &format!("/api/v1/tokens?TargetType=job&TargetId={job_id}"),
            None,
        )
        .await["Token"]
        .as_str()
        .unwrap()
        .to_string();
    let shared = reqwest::get(format!(
        "{}/api/v1/jobs/{job_id}?token={token}",
        server.base
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(shared.contains(&job_id), "{shared}");
    assert_no_secret("GetJob with a share token", &shared);

    // The CLI, in both of its shapes.
    let cli_json = server.cli(&["get", &job_id, "-o", "json"]);
    assert_eq!(cli_json.code, 0, "{cli_json:?}");
    assert_no_secret("opendlc get -o json", &cli_json.stdout);
    assert_no_secret("opendlc get", &server.cli_ok(&["get", &job_id]));

    // The pod got the real value.
    let pod_id = job["Pods"][0]["PodId"].as_str().unwrap();
    let logs = server.logs(&job_id, pod_id, "").await.join("\n");
    let sum = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(HIDDEN.as_bytes());
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()[..16]
            .to_string()
    };
    assert!(logs.contains(&format!("len={}", HIDDEN.len())), "{logs}");
    assert!(logs.contains(&format!("sum={sum}")), "{logs}");
    assert!(logs.contains("shown=plain-value"), "{logs}");

    // The database holds none of them in clear.
    let bytes = database_bytes(server.data_dir.path());
    assert!(
        contains(&bytes, "plain-value"),
        "the test reads the database"
    );
    for secret in [PASSWORD, AUTH, AK_ID, STS_TOKEN, HIDDEN] {
        assert!(
            !contains(&bytes, secret),
            "{secret} is in the database in clear"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_still_gives_the_pod_its_hidden_values() {
    let server = TestServer::start().await;
    let job_id = server.create_job(job_with_secrets()).await;
    server.wait_status(&job_id, "Succeeded").await;
    let data_dir = server.stop().await;
    let server = TestServer::start_in(data_dir).await;
    let job = server.get_job(&job_id).await;
    assert_no_secret("GetJob after a restart", &job.to_string());
    assert_eq!(job["Envs"]["TOKEN"], "******");
    let rerun = server.create_job(job_with_secrets()).await;
    let job = server.wait_status(&rerun, "Succeeded").await;
    let pod_id = job["Pods"][0]["PodId"].as_str().unwrap();
    let logs = server.logs(&rerun, pod_id, "").await.join("\n");
    assert!(logs.contains(&format!("len={}", HIDDEN.len())), "{logs}");
}
