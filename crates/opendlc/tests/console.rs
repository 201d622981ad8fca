//! The web console: `/` serves it (embedded files, with a content security policy), the
//! capacity extension it reads is signed and shows only what the caller may see, its pure-JS
//! signing passes its unit tests (Node), and the whole console works end to end in headless
//! Chromium (console/tests/e2e.mjs). The Node and browser tests need `eval
//! "$(scripts/console-env.sh)"` (scripts/test.sh does it) and skip, saying why, without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_at_the_root() {
    let server = TestServer::start().await;
    let page = reqwest::get(format!("{}/", server.base)).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/console/js/app.js">"#),
        "{html}"
    );

    let js = reqwest::get(format!("{}/console/js/sign.js", server.base))
        .await
        .unwrap();
    assert_eq!(js.status().as_u16(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = js.headers()["etag"].to_str().unwrap().to_string();
    assert!(js.text().await.unwrap().contains("ACS3-HMAC-SHA256"));
    let again = reqwest::Client::new()
        .get(format!("{}/console/js/sign.js", server.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);

    let missing = reqwest::get(format!("{}/console/js/nope.js", server.base))
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    // The API is unchanged beside it: an unknown API path, and the root when it is an API call
    // (signed), still answer the error envelope.
    for path in ["/api/v1/nope", "/"] {
        let (status, error) = server.call("GET", path, None).await;
        assert_eq!(
            (status, error["Code"].as_str()),
            (404, Some("InvalidAction.NotFound")),
            "{path}"
        );
    }
    let post = reqwest::Client::new()
        .post(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 404);
    let error: Value = post.json().await.unwrap();
    assert_eq!(error["Code"], "InvalidAction.NotFound");
}

const CAPACITY: &str = "pool: {cpu: 2, memory: 8Gi}
cpu_overcommit: 1
quotas:
  - {id: team, cpu: 1}
";

fn job(name: &str, cpu: u32, command: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "local",
                      "ResourceConfig": {"CPU": cpu.to_string(), "Memory": "1Gi"}}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_is_signed_and_shows_only_what_the_caller_may_see() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capacity.yaml");
    std::fs::write(&file, CAPACITY).unwrap();
    let server = TestServer::start_with(dir, |c| c.capacity_file = Some(file)).await;
    let ann = server.add_user("ann");

    let holder = server.create_job(job("holder", 2, "sleep 60")).await;
    server.wait_status(&holder, "Running").await;
    let (status, created) = server
        .call_as(
            &ann,
            "POST",
            "/api/v1/jobs",
            Some(job("anns-wait", 1, "true")),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let waiting = created["JobId"].as_str().unwrap().to_string();
    server
        .wait_job(&waiting, Duration::from_secs(10), |j| {
            j["QueuePosition"].is_number()
        })
        .await;

    // Unsigned: refused like every API call; a share token does not open it either.
    let unsigned = reqwest::get(format!("{}/api/v1/capacity", server.base))
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 400);
    let error: Value = unsigned.json().await.unwrap();
    assert_eq!(error["Code"], "IncompleteSignature", "{error}");
    let token = server
        .ok(
            "GET",
            &format!("/api/v1/tokens?TargetType=job&TargetId={holder}"),
            None,
        )
        .await["Token"]
        .as_str()
        .unwrap()
        .to_string();
    let with_token = reqwest::get(format!("{}/api/v1/capacity?token={token}", server.base))
        .await
        .unwrap();
    assert_eq!(with_token.status().as_u16(), 403);

    // The administrator sees every job.
    let admin = server.ok("GET", "/api/v1/capacity", None).await;
    assert!(admin["RequestId"].is_string(), "{admin}");
    assert_eq!(admin["Pool"]["Name"], "public");
    assert_eq!(admin["Pool"]["Total"]["CPU"], 2.0, "{admin}");
    assert_eq!(admin["Pool"]["Used"]["CPU"], 2.0, "{admin}");
    assert_eq!(admin["Pool"]["Free"]["CPU"], 0.0, "{admin}");
    assert_eq!(admin["Pool"]["Used"]["MemoryMiB"], 1024);
    assert_eq!(admin["Quotas"][0]["ResourceId"], "team");
    assert_eq!(admin["Quotas"][0]["Total"]["CPU"], 1.0);
    assert_eq!(admin["QueueLength"], 1);
    assert_eq!(admin["Queue"][0]["JobId"], waiting.as_str());
    assert_eq!(admin["Queue"][0]["Position"], 1);
    assert_eq!(admin["Queue"][0]["ReasonCode"], "JobQueuing");
    assert!(
        admin["Queue"][0]["ReasonMessage"]
            .as_str()
            .unwrap()
            .contains("needs 1 CPU"),
        "{admin}"
    );
    assert_eq!(admin["Running"][0]["JobId"], holder.as_str());
    assert_eq!(
        (
            admin["HiddenQueued"].as_u64(),
            admin["HiddenRunning"].as_u64()
        ),
        (Some(0), Some(0))
    );

    // Ann sees the totals and her own job; the administrator's private job is only counted.
    let (status, theirs) = server.call_as(&ann, "GET", "/api/v1/capacity", None).await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs["Pool"]["Used"]["CPU"], 2.0);
    assert_eq!(theirs["Queue"][0]["JobId"], waiting.as_str());
    assert_eq!(theirs["Running"], json!([]), "{theirs}");
    assert_eq!(theirs["HiddenRunning"], 1);
    assert!(!theirs.to_string().contains(&holder), "{theirs}");

    server.stop_job(&holder).await;
    server.stop_job(&waiting).await;
}

/// Node.js, if there is one (scripts/console-env.sh sets OPENDLC_NODE).
fn node() -> Option<String> {
    if let Ok(node) = std::env::var("OPENDLC_NODE") {
        return Some(node);
    }
    let found = Command::new("node").arg("--version").output().ok()?;
    found.status.success().then(|| "node".to_string())
}

/// Runs one of the console's node test files; skipped without Node.js.
fn node_tests(file: &str) {
    let Some(node) = node() else {
        eprintln!("skipped: no Node.js (run `eval \"$(scripts/console-env.sh)\"`)");
        return;
    };
    let out = Command::new(node)
        .args(["--test", file])
        .current_dir(repo_root())
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("# fail 0"), "{text}");
}

#[test]
fn the_signing_code_passes_its_unit_tests() {
    node_tests("console/tests/crypto.test.mjs");
}

#[test]
fn the_chart_axes_pass_their_unit_tests() {
    node_tests("console/tests/plot.test.mjs");
}

/// The submit form's job types come from the server: every type CreateJob accepts, with its
/// roles, unsigned like the console's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_submit_form_gets_every_job_type_from_the_server() {
    let server = TestServer::start().await;
    let reply = reqwest::get(format!("{}/console/job-types.json", server.base))
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    assert!(reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = reply.json().await.unwrap();
    let types = doc["JobTypes"].as_array().unwrap();
    let names: Vec<&str> = types
        .iter()
        .map(|t| t["JobType"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 9, "{doc}");
    assert_eq!(names[0], "PyTorchJob", "the form's default: {doc}");
    let tf = types.iter().find(|t| t["JobType"] == "TFJob").unwrap();
    assert_eq!(
        tf["Roles"],
        json!(["Chief", "PS", "Worker", "Evaluator", "GraphLearn"])
    );
    assert!(names.contains(&"DataJuicerJob"), "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_end_to_end_in_chromium() {
    let (Some(node), Ok(chromium), Ok(modules)) = (
        node(),
        std::env::var("OPENDLC_CHROMIUM"),
        std::env::var("OPENDLC_CONSOLE_NODE_MODULES"),
    ) else {
        eprintln!(
            "skipped: needs Node.js, Chromium and playwright-core (OPENDLC_NODE, OPENDLC_CHROMIUM, \
             OPENDLC_CONSOLE_NODE_MODULES: run `eval \"$(scripts/console-env.sh)\"`)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A small pool, whatever the host: two 2-CPU jobs fill it and a 4-CPU job waits.
    let file = dir.path().join("capacity.yaml");
    std::fs::write(&file, "pool: {cpu: 4, memory: 16Gi}\ncpu_overcommit: 1\n").unwrap();
    // The job page creates and opens a TensorBoard: the python env's (scripts/test.sh).
    let tensorboard = std::env::var_os("OPENDLC_TENSORBOARD").map(PathBuf::from);
    let Some(tensorboard) = tensorboard.filter(|p| p.is_file()) else {
        eprintln!("no tensorboard (OPENDLC_TENSORBOARD; scripts/test.sh sets it): skipped");
        return;
    };
    let server = TestServer::start_with(dir, |c| {
        c.capacity_file = Some(file);
        c.metrics.interval = Duration::from_secs(1);
        c.tensorboard_program = tensorboard;
    })
    .await;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    let screenshots = target.join("console-screenshots");
    let mut run = tokio::process::Command::new(node);
    run.arg("console/tests/e2e.mjs")
        .current_dir(repo_root())
        .env("OPENDLC_CONSOLE_URL", &server.base)
        .env("OPENDLC_AK_ID", &server.admin.id)
        .env("OPENDLC_AK_SECRET", &server.admin.secret)
        .env("OPENDLC_CHROMIUM", chromium)
        .env("OPENDLC_CONSOLE_NODE_MODULES", modules)
        .env("OPENDLC_SCREENSHOTS", &screenshots)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), run.output())
        .await
        .expect("the browser test finishes within 5 minutes")
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{text}");
    assert!(text.contains("e2e: passed"), "{text}");
    eprintln!("{text}screenshots: {}", screenshots.display());
}
