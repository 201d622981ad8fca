//! A job's own credentials: made at its first launch, kept across restarts, revoked (their
//! file removed) before its final status.

use opendlc_core::JobStatus;
use serde_json::json;

use super::{pool, pytorch, Harness};

#[test]
fn a_jobs_key_lives_as_long_as_the_job_and_no_longer() {
    let mut h = Harness::new(pool(4));
    // The key is its owner's (the user the harness submits as).
    let owner = opendlc_core::identity::User {
        user_id: "1".into(),
        name: "ann".into(),
        is_admin: false,
    };
    h.store.ensure_user(&owner, 0).unwrap();
    let mut body = pytorch(
        1,
        json!({"CredentialConfig": {"EnableCredentialInject": true}}),
    );
    body["JobSpecs"][0]["RestartPolicy"] = json!("OnFailure");
    let id = h.submit(body);
    let key = h
        .store
        .job_key(&id)
        .unwrap()
        .expect("made at the first launch");
    let recipe = h.fake.launched()[0].clone();
    assert_eq!(
        recipe.env["ALIBABA_CLOUD_ACCESS_KEY_ID"].to_string(),
        key.access_key_id
    );
    let file = h.dir.path().join("jobs").join(&id).join("credentials");
    assert_eq!(
        recipe.env["ALIBABA_CLOUD_CREDENTIALS_FILE"].to_string(),
        file.display().to_string()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("access_key_id = {}", key.access_key_id)),
        "{text}"
    );
    // A restart keeps the key.
    h.start_all(&id);
    h.exit_all(&id, 1);
    let again = h.fake.launched().last().unwrap().clone();
    assert_eq!(
        again.env["ALIBABA_CLOUD_ACCESS_KEY_ID"].to_string(),
        key.access_key_id
    );
    // The end revokes it and removes its file.
    h.start_all(&id);
    h.exit_all(&id, 0);
    assert_eq!(h.status(&id), JobStatus::Succeeded);
    assert!(h.store.job_key(&id).unwrap().is_none(), "revoked");
    assert!(!file.exists(), "its file is gone");
}

#[test]
fn a_job_without_credentials_gets_none() {
    let mut h = Harness::new(pool(4));
    let id = h.submit(pytorch(1, json!({})));
    let recipe = h.fake.launched()[0].clone();
    assert!(!recipe.env.contains_key("ALIBABA_CLOUD_ACCESS_KEY_ID"));
    assert!(h.store.job_key(&id).unwrap().is_none());
}
