//! The TensorBoard operations: a real `tensorboard` process reading a job's summaries, served
//! through the server's proxy behind its credentials or a shared link.
//!
//! The tests that run tensorboard find it through OPENDLC_TENSORBOARD (scripts/test.sh sets it
//! to the one in its Python environment) or on PATH; without it they say so and pass.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{pytorch_job, TestServer};
use serde_json::{json, Value};

fn tensorboard() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OPENDLC_TENSORBOARD") {
        return Some(path.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tensorboard"))
            .find(|p| p.is_file())
    })
}

async fn server_with(program: PathBuf) -> TestServer {
    TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.tensorboard_program = program;
    })
    .await
}

async fn get_tb(server: &TestServer, id: &str) -> Value {
    server
        .ok("GET", &format!("/api/v1/tensorboards/{id}"), None)
        .await
}

async fn wait_tb(server: &TestServer, id: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let tb = get_tb(server, id).await;
        if tb["Status"] == status {
            return tb;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "TensorBoard {id} is not {status}: {tb}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_tb(server: &TestServer, body: Value) -> String {
    let created = server.ok("POST", "/api/v1/tensorboards", Some(body)).await;
    created["TensorboardId"].as_str().unwrap().to_string()
}

async fn finished_job(server: &TestServer, command: &str) -> String {
    let job_id = server
        .create_job(pytorch_job("writer", &[("Worker", 1)], command))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    job_id
}

#[tokio::test]
async fn without_tensorboard_installed_the_failure_says_why() {
    let server = server_with("/nonexistent/bin/tensorboard".into()).await;
    let job_id = finished_job(&server, "true").await;
    let id = create_tb(&server, json!({"JobId": job_id})).await;
    assert!(id.starts_with("tb") && id.len() == 15, "{id}");
    let tb = wait_tb(&server, &id, "Failed").await;
    assert_eq!(tb["ReasonCode"], "TensorboardNotInstalled");
    let message = tb["ReasonMessage"].as_str().unwrap();
    assert!(message.contains("pip install tensorboard"), "{message}");
    assert_eq!(tb["JobId"], job_id.as_str());
    assert_eq!(tb["DisplayName"], format!("tensorboard-{job_id}"));
}

#[tokio::test]
async fn create_tensorboard_errors_name_the_field() {
    let server = server_with("/nonexistent/bin/tensorboard".into()).await;
    let job_id = finished_job(&server, "true").await;
    let post = |body: Value| (Some(body), "/api/v1/tensorboards");
    let cases = [
        (json!({}), 400, "MissingParameter", "JobId or SummaryPath"),
        (
            json!({"DataSourceId": "d-1"}),
            400,
            "MissingParameter",
            "DataSourceId",
        ),
        (
            json!({"JobId": "dlcnosuchjob0000"}),
            404,
            "EntityNotFound.Job",
            "dlcnosuchjob0000",
        ),
        (
            json!({"JobId": job_id, "SummaryRelativePath": "../../etc"}),
            400,
            "InvalidParameter",
            "SummaryRelativePath",
        ),
        (
            json!({"SummaryRelativePath": "logs"}),
            400,
            "InvalidParameter",
            "needs JobId",
        ),
        (
            json!({"SummaryPath": "relative/dir"}),
            400,
            "InvalidParameter",
            "absolute",
        ),
        (
            json!({"SummaryPath": "/nonexistent/dir"}),
            400,
            "InvalidParameter",
            "not a directory",
        ),
        (
            json!({"JobId": job_id, "DisplayName": "a b"}),
            400,
            "InvalidParameter",
            "DisplayName",
        ),
        (
            json!({"JobId": job_id, "MaxRunningTimeMinutes": -1}),
            400,
            "InvalidParameter",
            "MaxRunningTimeMinutes",
        ),
        (
            json!({"JobId": job_id, "Accessibility": "WORLD"}),
            400,
            "InvalidParameter",
            "Accessibility",
        ),
        (json!({"JobId": 5}), 400, "InvalidParameter", "JobId"),
    ];
    for (body, status, code, needle) in cases {
        let (body, path) = post(body.clone());
        let err = server.error("POST", path, body.clone(), status, code).await;
        assert!(
            err["Message"].as_str().unwrap().contains(needle),
            "{body:?}: {err}"
        );
    }
    server
        .error(
            "GET",
            "/api/v1/tensorboards/tbnosuch",
            None,
            404,
            "EntityNotFound.Tensorboard",
        )
        .await;
    let id = create_tb(&server, json!({"JobId": job_id})).await;
    for expire in ["0", "604801", "abc", "-5"] {
        let err = server
            .error(
                "GET",
                &format!("/api/v1/tensorboards/{id}/sharedurl?ExpireTimeSeconds={expire}"),
                None,
                400,
                "InvalidParameter",
            )
            .await;
        assert!(err["Message"]
            .as_str()
            .unwrap()
            .contains("ExpireTimeSeconds"));
    }
    server
        .error(
            "GET",
            "/api/v1/tensorboards?Status=Sleeping",
            None,
            400,
            "InvalidParameter",
        )
        .await;
    server
        .error(
            "PUT",
            &format!("/api/v1/tensorboards/{id}?MaxRunningTimeMinutes=-3"),
            None,
            400,
            "InvalidParameter",
        )
        .await;
    // A Failed TensorBoard cannot be stopped; starting it retries (and fails the same way).
    wait_tb(&server, &id, "Failed").await;
    server
        .error(
            "PUT",
            &format!("/api/v1/tensorboards/{id}/stop"),
            None,
            400,
            "IncorrectStatus",
        )
        .await;
}

/// Writes two scalar summaries under `logs/run1` of the job's directory with tensorboard's own
/// writer (the python next to the tensorboard executable).
fn writer_command(tensorboard: &std::path::Path) -> String {
    let python = tensorboard.with_file_name("python");
    format!(
        "{} -c \"from tensorboard.summary import Writer\nw = Writer('logs/run1')\nw.add_scalar('loss', 1.5, step=1)\nw.add_scalar('loss', 0.5, step=2)\nw.close()\"",
        python.display()
    )
}

#[tokio::test]
async fn a_job_tensorboard_serves_through_the_proxy_and_outlives_the_job() {
    let Some(program) = tensorboard() else {
        eprintln!("tensorboard not found (set OPENDLC_TENSORBOARD): test skipped");
        return;
    };
    if !program.with_file_name("python").exists() {
        eprintln!("no python next to {}: test skipped", program.display());
        return;
    }
    let server = server_with(program.clone()).await;
    let job_id = finished_job(&server, &writer_command(&program)).await;
    let id = create_tb(
        &server,
        json!({"JobId": job_id, "SummaryRelativePath": "/logs/", "DisplayName": "curves"}),
    )
    .await;
    let tb = wait_tb(&server, &id, "Running").await;
    let url = tb["TensorboardUrl"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{}/tensorboard/{id}/", server.base));
    assert_eq!(tb["SummaryRelativePath"], "/logs/");

    let http = reqwest::Client::new();
    let (key_id, secret) = &server.admin_key;
    // No credentials: refused, asking for them.
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = http
        .get(&url)
        .basic_auth(key_id, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    // The server's credentials: TensorBoard's page and its data, from the job's summaries.
    let page = http
        .get(&url)
        .basic_auth(key_id, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<title>TensorBoard"));
    let runs_url = format!("{url}data/runs");
    let start = Instant::now();
    loop {
        let runs: Value = http
            .get(&runs_url)
            .basic_auth(key_id, Some(secret))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if runs == json!(["run1"]) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "runs: {runs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A shared link opens it without credentials, and its cookie lets the page's requests in.
    let shared: Value = server
        .ok(
            "GET",
            &format!("/api/v1/tensorboards/{id}/sharedurl?ExpireTimeSeconds=600"),
            None,
        )
        .await;
    let shared_url = shared["TensorboardSharedUrl"].as_str().unwrap();
    assert!(
        shared_url.starts_with(&url) && shared_url.contains("?token="),
        "{shared_url}"
    );
    let opened = http.get(shared_url).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let with_cookie = http
        .get(&runs_url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    let token = shared_url.split("?token=").nth(1).unwrap();
    // GetTensorboard accepts the token too, and refuses a forged one.
    server
        .ok(
            "GET",
            &format!("/api/v1/tensorboards/{id}?Token={token}"),
            None,
        )
        .await;
    server
        .error(
            "GET",
            &format!("/api/v1/tensorboards/{id}?Token={token}x"),
            None,
            403,
            "Forbidden",
        )
        .await;

    // The token opens only its own TensorBoard.
    let other = create_tb(
        &server,
        json!({"JobId": job_id, "SummaryRelativePath": "logs"}),
    )
    .await;
    wait_tb(&server, &other, "Running").await;
    let elsewhere = http
        .get(format!(
            "{}/tensorboard/{other}/?token={token}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403);

    // An expired link is refused.
    let short: Value = server
        .ok(
            "GET",
            &format!("/api/v1/tensorboards/{id}/sharedurl?ExpireTimeSeconds=1"),
            None,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = http
        .get(short["TensorboardSharedUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));

    // List filters.
    let list = |query: &str| format!("/api/v1/tensorboards?{query}");
    let by_job = server
        .ok("GET", &list(&format!("JobId={job_id}")), None)
        .await;
    assert_eq!(by_job["TotalCount"], 2);
    let by_name = server.ok("GET", &list("DisplayName=curv"), None).await;
    assert_eq!(by_name["TotalCount"], 1);
    assert_eq!(by_name["Tensorboards"][0]["TensorboardId"], id.as_str());
    let by_id = server
        .ok("GET", &list(&format!("TensorboardId={other}")), None)
        .await;
    assert_eq!(by_id["Tensorboards"][0]["TensorboardId"], other.as_str());

    // Stop: the proxy says so; Start: the same URL serves again.
    server
        .ok("PUT", &format!("/api/v1/tensorboards/{id}/stop"), None)
        .await;
    let stopped = get_tb(&server, &id).await;
    assert_eq!(stopped["Status"], "Stopped");
    assert_eq!(stopped["ReasonCode"], "TensorboardStoppedByUser");
    let running_only = server.ok("GET", &list("Status=Running"), None).await;
    assert_eq!(running_only["TotalCount"], 1);
    let down = http
        .get(&url)
        .basic_auth(key_id, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 503);
    server
        .ok("PUT", &format!("/api/v1/tensorboards/{id}/start"), None)
        .await;
    server
        .error(
            "PUT",
            &format!("/api/v1/tensorboards/{id}/start"),
            None,
            400,
            "IncorrectStatus",
        )
        .await;
    wait_tb(&server, &id, "Running").await;
    let again = http
        .get(&url)
        .basic_auth(key_id, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);

    // Update, then delete: gone, and its process with it.
    server
        .ok(
            "PUT",
            &format!("/api/v1/tensorboards/{id}?MaxRunningTimeMinutes=30&Accessibility=PUBLIC&Priority=2"),
            None,
        )
        .await;
    let updated = get_tb(&server, &id).await;
    assert_eq!(
        (
            &updated["MaxRunningTimeMinutes"],
            &updated["Accessibility"],
            &updated["Priority"]
        ),
        (&json!(30), &json!("PUBLIC"), &json!("2"))
    );
    for tb in [&id, &other] {
        server
            .ok("DELETE", &format!("/api/v1/tensorboards/{tb}"), None)
            .await;
        server
            .error(
                "GET",
                &format!("/api/v1/tensorboards/{tb}"),
                None,
                404,
                "EntityNotFound.Tensorboard",
            )
            .await;
    }
    let gone = http
        .get(&url)
        .basic_auth(key_id, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}
