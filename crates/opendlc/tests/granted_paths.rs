//! Paths are granted, not taken; shared links follow their issuer's rights (docs/SECURITY.md,
//! "Paths and shared links"). Each test performs the attack and shows it stopped.

mod common;

use common::{pytorch_job, Key, TestServer};
use serde_json::{json, Value};

async fn server() -> TestServer {
    // No tensorboard is needed: the checks come before the process.
    TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.tensorboard_program = "/nonexistent/bin/tensorboard".into();
    })
    .await
}

fn private(name: &str, command: &str) -> Value {
    let mut body = pytorch_job(name, &[("Worker", 1)], command);
    body["Accessibility"] = "PRIVATE".into();
    body
}

async fn create_job_as(server: &TestServer, key: &Key, body: Value) -> String {
    let (status, created) = server
        .call_as(key, "POST", "/api/v1/jobs", Some(body))
        .await;
    assert_eq!(status, 200, "{created}");
    created["JobId"].as_str().unwrap().to_string()
}

/// The refusal's message, which must name the field.
async fn refused(server: &TestServer, key: &Key, path: &str, body: Value, field: &str) -> String {
    let (status, err) = server.call_as(key, "POST", path, Some(body)).await;
    assert_eq!(
        (status, err["Code"].as_str()),
        (400, Some("InvalidParameter")),
        "{err}"
    );
    let message = err["Message"].as_str().unwrap().to_string();
    assert!(message.contains(field), "{message}");
    message
}

fn mounting(uri: &str) -> Value {
    let mut body = pytorch_job("mount", &[("Worker", 1)], "true");
    body["DataSources"] = json!([{"Uri": uri, "MountPath": "/mnt/data"}]);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_cannot_name_a_host_path_outside_the_granted_roots() {
    let server = server().await;
    let alice = server.add_user("alice");
    let bob = server.add_user("bob");
    let alices = create_job_as(&server, &alice, private("alices", "true")).await;
    let scratch = server.scratch().to_path_buf();
    std::fs::create_dir_all(scratch.join("ro")).unwrap();
    std::os::unix::fs::symlink("/etc", scratch.join("to-etc")).unwrap();
    let data_dir = server.data_dir.path().to_path_buf();
    let outside = [
        "/".to_string(),
        "/etc".into(),
        "file:///etc".into(),
        data_dir.display().to_string(),
        data_dir.join("jobs").join(&alices).display().to_string(),
        scratch.join("to-etc").display().to_string(),
        format!("{}2", scratch.display()),
    ];
    for uri in &outside {
        refused(
            &server,
            &bob,
            "/api/v1/jobs",
            mounting(uri),
            "DataSources[0].Uri",
        )
        .await;
    }
    // A missing path and a forbidden one get the same answer.
    let said = |m: String, path: &str| m.replace(path, "PATH");
    let missing = refused(&server, &bob, "/api/v1/jobs", mounting("/etc/none"), "Uri").await;
    let forbidden = refused(
        &server,
        &bob,
        "/api/v1/jobs",
        mounting("/etc/passwd"),
        "Uri",
    )
    .await;
    assert_eq!(said(missing, "/etc/none"), said(forbidden, "/etc/passwd"));
    // Wheels and requirement directories are host paths too.
    let mut libs = pytorch_job("libs", &[("Worker", 1)], "true");
    libs["ThirdpartyLibs"] = json!(["/etc/x.whl"]);
    refused(&server, &bob, "/api/v1/jobs", libs, "ThirdpartyLibs[0]").await;
    let mut lib_dir = pytorch_job("libs", &[("Worker", 1)], "true");
    lib_dir["ThirdpartyLibDir"] = "file:///etc".into();
    refused(&server, &bob, "/api/v1/jobs", lib_dir, "ThirdpartyLibDir").await;
    // Under the granted root, a mount is accepted; a read-only root refuses RW.
    create_job_as(&server, &bob, mounting(&scratch.display().to_string())).await;
    let sources = server.data_dir.path().join("sources.yaml");
    let text = std::fs::read_to_string(&sources).unwrap();
    let ro = scratch.join("ro").display().to_string();
    let text = text.replace(
        "roots:\n",
        &format!("roots:\n  - path: {ro}\n    read_only: true\n"),
    );
    std::fs::write(&sources, text).unwrap();
    let mut rw = mounting(&ro);
    rw["DataSources"][0]["MountAccess"] = "RW".into();
    let message = refused(&server, &bob, "/api/v1/jobs", rw, "DataSources[0].Uri").await;
    assert!(message.contains("read-only"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bob_cannot_open_a_tensorboard_on_alices_private_job_or_the_data_directory() {
    let server = server().await;
    let alice = server.add_user("alice");
    let bob = server.add_user("bob");
    let alices = create_job_as(&server, &alice, private("alices", "true")).await;
    let data_dir = server.data_dir.path().to_path_buf();
    let bobs = create_job_as(
        &server,
        &bob,
        private("bobs", &format!("ln -s {} link", data_dir.display())),
    )
    .await;
    server.wait_status(&bobs, "Succeeded").await;
    let tbs = "/api/v1/tensorboards";
    let (status, err) = server
        .call_as(&bob, "POST", tbs, Some(json!({"JobId": alices})))
        .await;
    assert_eq!(
        (status, err["Code"].as_str()),
        (404, Some("EntityNotFound.Job")),
        "{err}"
    );
    let alices_work = data_dir.join("jobs").join(&alices).join("work");
    for path in [alices_work, data_dir.clone(), "/etc".into()] {
        let body = json!({"SummaryPath": path.display().to_string()});
        refused(&server, &bob, tbs, body, "SummaryPath").await;
        // Naming his own job does not widen what SummaryPath reaches.
        let body = json!({"JobId": bobs, "SummaryPath": path.display().to_string()});
        refused(&server, &bob, tbs, body, "SummaryPath").await;
    }
    // A link his job made in its working directory does not lead out of it.
    let body = json!({"JobId": bobs, "SummaryRelativePath": "link"});
    refused(&server, &bob, tbs, body, "SummaryRelativePath").await;
    // His own job's directory is his to read.
    let (status, created) = server
        .call_as(
            &bob,
            "POST",
            tbs,
            Some(json!({"JobId": bobs, "SummaryRelativePath": "logs"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
}

async fn unsigned(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_shared_link_fails_on_the_proxy_and_the_api_alike() {
    let server = server().await;
    let alice = server.add_user("alice");
    let bob = server.add_user("bob");
    let mut public = pytorch_job("public", &[("Worker", 1)], "true");
    public["Accessibility"] = "PUBLIC".into();
    let job = create_job_as(&server, &alice, public).await;
    let (_, tb) = server
        .call_as(
            &alice,
            "POST",
            "/api/v1/tensorboards",
            Some(json!({"JobId": job, "Accessibility": "PUBLIC"})),
        )
        .await;
    let id = tb["TensorboardId"].as_str().unwrap().to_string();
    // Bob may read Alice's PUBLIC TensorBoard and shares it.
    let (status, shared) = server
        .call_as(
            &bob,
            "GET",
            &format!("/api/v1/tensorboards/{id}/sharedurl"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{shared}");
    let link = shared["TensorboardSharedUrl"].as_str().unwrap().to_string();
    let token = link.split("?token=").nth(1).unwrap().to_string();
    let api = format!("{}/api/v1/tensorboards/{id}?Token={token}", server.base);
    let (status, body) = unsigned(&link).await;
    assert_ne!(status, 403, "{body}");
    assert_eq!(unsigned(&api).await.0, 200);

    // Alice makes it PRIVATE: Bob could no longer read it, so neither can his link.
    let (status, body) = server
        .call_as(
            &alice,
            "PUT",
            &format!("/api/v1/tensorboards/{id}?Accessibility=PRIVATE"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = unsigned(&link).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no longer works"), "{body}");
    let (status, body) = unsigned(&api).await;
    assert_eq!(status, 404, "{body}");

    // Bob's job link stops when his key is revoked: the API and the job page alike.
    let (_, got) = server
        .call_as(
            &bob,
            "GET",
            &format!("/api/v1/tokens?TargetType=job&TargetId={job}"),
            None,
        )
        .await;
    let job_token = got["Token"].as_str().expect("a token").to_string();
    let get_job = format!("{}/api/v1/jobs/{job}?Token={job_token}", server.base);
    let page = format!("{}/dashboard/jobs/{job}?token={job_token}", server.base);
    assert_eq!(unsigned(&get_job).await.0, 200);
    assert_eq!(unsigned(&page).await.0, 200);
    let store = opendlc_server::admin::open(server.data_dir.path()).unwrap();
    opendlc_server::admin::revoke_key(&store, &bob.id).unwrap();
    let (status, body) = unsigned(&get_job).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no active access key"), "{body}");
    assert_eq!(unsigned(&page).await.0, 404);
}
