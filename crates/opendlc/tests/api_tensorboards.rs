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
            "is not a path granted to workspace",
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
            json!({"JobId": job_id, "Cpu": -1}),
            400,
            "InvalidParameter",
            "Invalid parameter Cpu: must be positive",
        ),
        (
            json!({"JobId": job_id, "Memory": 1_000_000_000}),
            400,
            "InvalidParameter",
            "Invalid parameter Memory: 1000000000 is more than this server's pool has",
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
    // 0 is the default, as GetToken's ExpireTime.
    let shared = server
        .ok(
            "GET",
            &format!("/api/v1/tensorboards/{id}/sharedurl?ExpireTimeSeconds=0"),
            None,
        )
        .await;
    assert!(shared["TensorboardSharedUrl"].is_string(), "{shared}");
    for expire in ["604801", "abc", "-5"] {
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
    let (key_id, secret) = (&server.admin.id, &server.admin.secret);
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
    // GetTensorboard, unsigned, accepts the token too, and refuses a forged one.
    let by_token = http
        .get(format!(
            "{}/api/v1/tensorboards/{id}?Token={token}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), 200);
    let forged = http
        .get(format!(
            "{}/api/v1/tensorboards/{id}?Token={token}x",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

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

/// A stand-in for tensorboard: answers 200 on every path, on the `--port` it is given (and
/// keeps `--path_prefix` on its command line, as the server's recognition of it requires).
fn fake_tensorboard(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("fake-tensorboard");
    std::fs::write(
        &path,
        "#!/bin/sh\nexec python3 -c 'import sys, http.server\nport = int(sys.argv[sys.argv.index(\"--port\") + 1])\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200)\n        self.end_headers()\n        self.wfile.write(b\"fake tensorboard\")\n    def log_message(self, *a):\n        pass\nhttp.server.HTTPServer((\"127.0.0.1\", port), H).serve_forever()' \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn alive(pid: i64) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty()
        && !stat
            .rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .starts_with('Z')
}

#[tokio::test]
async fn max_running_time_stops_it() {
    let bin = tempfile::tempdir().unwrap();
    let program = fake_tensorboard(bin.path());
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.tensorboard_program = program;
        c.minute = Duration::from_millis(500);
    })
    .await;
    let job_id = finished_job(&server, "true").await;
    let id = create_tb(
        &server,
        json!({"JobId": job_id, "MaxRunningTimeMinutes": 3}),
    )
    .await;
    wait_tb(&server, &id, "Running").await;
    let pid = running_pid(&id);
    let stopped = wait_tb(&server, &id, "Stopped").await;
    assert_eq!(
        stopped["ReasonCode"], "TensorboardExceededMaxRunningTime",
        "{stopped}"
    );
    let ran: i64 = stopped["Duration"].as_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&ran), "ran 3 × 0.5 s: {stopped}");
    let start = Instant::now();
    while alive(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pid {pid} still runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `Cpu` and `Memory` limit the process: a cgroup of its own (v2 `cpu.max`/`memory.max`, v1
/// `cpu.cfs_quota_us`/`memory.limit_in_bytes`), removed when it stops. Where the server cannot
/// make cgroups (not root, none delegated), it runs without them.
#[tokio::test]
async fn cpu_and_memory_limit_the_tensorboard_process() {
    let bin = tempfile::tempdir().unwrap();
    let program = fake_tensorboard(bin.path());
    let server = server_with(program.clone()).await;
    let job_id = finished_job(&server, "true").await;
    let id = create_tb(&server, json!({"JobId": job_id, "Cpu": 1, "Memory": 1})).await;
    let created = get_tb(&server, &id).await;
    assert_eq!(
        (created["Cpu"].as_i64(), created["Memory"].as_i64()),
        (Some(1), Some(1))
    );
    wait_tb(&server, &id, "Running").await;
    let pid = running_pid(&id);
    let record = server
        .data_dir
        .path()
        .join("tensorboards")
        .join(format!("{id}.cgroup"));
    let Ok(bytes) = std::fs::read(&record) else {
        eprintln!("no cgroup could be made here (the server says why in its log): the TensorBoard runs without limits");
        return;
    };
    let dirs: Vec<PathBuf> = serde_json::from_slice(&bytes).unwrap();
    let read = |file: &str| {
        dirs.iter()
            .find_map(|d| std::fs::read_to_string(d.join(file)).ok())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    for dir in &dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|p| p == pid.to_string()),
            "{pid} not in {}: {procs}",
            dir.display()
        );
    }
    if dirs.len() == 1 {
        assert_eq!(read("cpu.max"), "100000 100000");
        assert_eq!(read("memory.max"), (1u64 << 30).to_string());
    } else {
        assert_eq!(read("cpu.cfs_quota_us"), "100000");
        assert_eq!(read("memory.limit_in_bytes"), (1u64 << 30).to_string());
    }
    // A later server adopts the process in its cgroup, and removes the cgroup when it stops.
    let data_dir = server.stop().await;
    let server = TestServer::start_with(data_dir, |c| c.tensorboard_program = program).await;
    wait_tb(&server, &id, "Running").await;
    assert_eq!(running_pid(&id), pid, "re-adopted, not restarted");
    assert_eq!(std::fs::read(&record).unwrap(), bytes);
    assert!(dirs.iter().all(|d| d.exists()));
    server
        .ok("PUT", &format!("/api/v1/tensorboards/{id}/stop"), None)
        .await;
    let start = Instant::now();
    while record.exists() || dirs.iter().any(|d| d.exists()) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "its cgroup stays: {dirs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pid of a TensorBoard's process, from the one process whose command line names it.
fn running_pid(id: &str) -> i64 {
    let prefix = format!("/tensorboard/{id}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| c.split(|b| *b == 0).any(|a| a == prefix.as_bytes()))
                .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no process of {id}"))
}

#[tokio::test]
async fn tensorboards_survive_a_server_restart_or_are_restarted() {
    let bin = tempfile::tempdir().unwrap();
    let program = fake_tensorboard(bin.path());
    let configure =
        |program: PathBuf| move |c: &mut opendlc_server::Config| c.tensorboard_program = program;
    let server =
        TestServer::start_with(tempfile::tempdir().unwrap(), configure(program.clone())).await;
    let job_id = finished_job(&server, "true").await;
    let id = create_tb(&server, json!({"JobId": job_id})).await;
    wait_tb(&server, &id, "Running").await;
    let pid = running_pid(&id);

    // The server stops; the process does not, and the next server adopts it.
    let data_dir = server.stop().await;
    assert!(alive(pid));
    let server = TestServer::start_with(data_dir, configure(program.clone())).await;
    wait_tb(&server, &id, "Running").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(get_tb(&server, &id).await["Status"], "Running");
    assert_eq!(running_pid(&id), pid, "re-adopted, not restarted");
    let url = get_tb(&server, &id).await["TensorboardUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let (key_id, secret) = (&server.admin.id, &server.admin.secret);
    let page = reqwest::Client::new()
        .get(&url)
        .basic_auth(key_id, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), "fake tensorboard");

    // It dies while no server runs: the next server restarts it.
    let data_dir = server.stop().await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    while alive(pid) {
        assert!(start.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = TestServer::start_with(data_dir, configure(program)).await;
    wait_tb(&server, &id, "Running").await;
    let new_pid = running_pid(&id);
    assert_ne!(new_pid, pid);
    server
        .ok("DELETE", &format!("/api/v1/tensorboards/{id}"), None)
        .await;
    let start = Instant::now();
    while alive(new_pid) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pid {new_pid} still runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn another_user_sees_a_private_tensorboard_only_through_a_shared_link() {
    let bin = tempfile::tempdir().unwrap();
    let program = fake_tensorboard(bin.path());
    let server = server_with(program).await;
    let job_id = finished_job(&server, "true").await;
    let id = create_tb(&server, json!({"JobId": job_id})).await;
    let url = wait_tb(&server, &id, "Running").await["TensorboardUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let bob = server.add_user("bob");
    let path = format!("/api/v1/tensorboards/{id}");
    for (method, path) in [
        ("GET", path.clone()),
        ("PUT", format!("{path}/stop")),
        ("DELETE", path.clone()),
        ("GET", format!("{path}/sharedurl")),
    ] {
        let (status, err) = server.call_as(&bob, method, &path, None).await;
        assert_eq!(
            (status, err["Code"].as_str()),
            (404, Some("EntityNotFound.Tensorboard")),
            "{method} {path}: {err}"
        );
    }
    for query in ["", "?ShowOwn=false"] {
        let listed = server
            .call_as(&bob, "GET", &format!("/api/v1/tensorboards{query}"), None)
            .await
            .1;
        assert_eq!(listed["TotalCount"], 0, "{query}: {listed}");
    }
    let http = reqwest::Client::new();
    let as_bob = http
        .get(&url)
        .basic_auth(&bob.id, Some(&bob.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(as_bob.status(), 403);
    let shared = server.ok("GET", &format!("{path}/sharedurl"), None).await;
    let opened = http
        .get(shared["TensorboardSharedUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.text().await.unwrap(), "fake tensorboard");
    assert_eq!(get_tb(&server, &id).await["Status"], "Running");
    // Made PUBLIC, a workspace member lists it beside their own (ShowOwn=false), as ListJobs
    // lists what the caller may read.
    server
        .ok("PUT", &format!("{path}?Accessibility=PUBLIC"), None)
        .await;
    let listed = server
        .call_as(&bob, "GET", "/api/v1/tensorboards?ShowOwn=false", None)
        .await
        .1;
    assert_eq!(
        listed["Tensorboards"][0]["TensorboardId"],
        id.as_str(),
        "{listed} {}",
        get_tb(&server, &id).await
    );
    let own = server
        .call_as(&bob, "GET", "/api/v1/tensorboards", None)
        .await
        .1;
    assert_eq!(own["TotalCount"], 0, "ShowOwn defaults to true: {own}");
    server.ok("DELETE", &path, None).await;
}

/// Under a server running as root, a tensorboard runs as its creator, in a view of their own
/// (the data directory covered), like their pods: it reads what they may read, nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tensorboard_runs_as_its_creator() {
    if !common::is_root() {
        eprintln!(
            "tensorboards run as their creators only under a server running as root: skipped"
        );
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    let program = fake_tensorboard(bin.path());
    let server = server_with(program).await;
    let job_id = finished_job(&server, "true").await;
    let id = create_tb(&server, json!({"JobId": job_id})).await;
    wait_tb(&server, &id, "Running").await;
    let store = opendlc_server::admin::open(server.data_dir.path()).unwrap();
    let pid = store
        .active_tensorboards()
        .unwrap()
        .into_iter()
        .find(|tb| tb.tensorboard_id == id)
        .and_then(|tb| tb.pid)
        .expect("its pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let creator = opendlc_server::DEFAULT_UID_BASE + 1; // the administrator is user 1
    assert_eq!(
        uid.split_whitespace().nth(1),
        Some(creator.to_string().as_str()),
        "{uid}"
    );
    // Its view: the data directory is covered, but for the way to its own directory and to the
    // summaries.
    let root = format!("/proc/{pid}/root{}", server.data_dir.path().display());
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("its view of the data directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["jobs", "tensorboards"]);
    server
        .ok("DELETE", &format!("/api/v1/tensorboards/{id}"), None)
        .await;
}

/// TensorboardDataSources: one TensorBoard over several jobs' summaries, each job's runs named
/// after its source, so they can be compared side by side.
#[tokio::test]
async fn one_tensorboard_compares_the_runs_of_several_jobs() {
    let Some(program) = tensorboard() else {
        eprintln!("tensorboard not found (set OPENDLC_TENSORBOARD): test skipped");
        return;
    };
    if !program.with_file_name("python").exists() {
        eprintln!("no python next to {}: test skipped", program.display());
        return;
    }
    let server = server_with(program.clone()).await;
    let base = finished_job(&server, &writer_command(&program)).await;
    let tuned = finished_job(&server, &writer_command(&program)).await;
    let source = |id: &str, name: &str| json!({"SourceType": "job", "Id": id, "SummaryPath": "logs", "DirectoryName": name});
    let id = create_tb(
        &server,
        json!({"TensorboardDataSources": [source(&base, "base"), source(&tuned, "tuned")]}),
    )
    .await;
    let tb = wait_tb(&server, &id, "Running").await;
    assert_eq!(tb["JobId"], base.as_str(), "{tb}");
    let url = tb["TensorboardUrl"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let mut runs: Vec<String> = http
            .get(format!("{url}data/runs"))
            .basic_auth(&server.admin.id, Some(&server.admin.secret))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        runs.sort();
        if runs == ["base/run1", "tuned/run1"] {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "runs: {runs:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
        .ok("PUT", &format!("/api/v1/tensorboards/{id}/stop"), None)
        .await;

    // Two sources of one name, or a job's source without its JobId: refused, naming them.
    let twice = json!({"TensorboardDataSources": [source(&base, "same"), source(&tuned, "same")]});
    let err = server
        .error(
            "POST",
            "/api/v1/tensorboards",
            Some(twice),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("TensorboardDataSources[1].DirectoryName"),
        "{err}"
    );
    let no_id = json!({"TensorboardDataSources": [{"SourceType": "job", "SummaryPath": "logs"}]});
    let err = server
        .error(
            "POST",
            "/api/v1/tensorboards",
            Some(no_id),
            400,
            "MissingParameter",
        )
        .await;
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("TensorboardDataSources[0].Id"),
        "{err}"
    );
}
