//! A real server, in-process on 127.0.0.1:0 with a temporary data directory, and a small
//! HTTP client speaking its JSON API.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::Value;

/// An access key pair to sign requests with.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

pub struct TestServer {
    pub base: String,
    /// The administrator's key, which [`TestServer::call`] signs with.
    pub admin: Key,
    pub data_dir: tempfile::TempDir,
    /// Files a test gives its pods (scripts, datasets, wheels) and that pods leave for it:
    /// not the data directory, which pods do not see. World-writable and sticky, like /tmp,
    /// since pods run as their owners' own uids.
    scratch: tempfile::TempDir,
    /// The followed log streams the server is producing now.
    pub log_streams: opendlc_server::LogStreams,
    /// The server runs on a runtime of its own, in a thread of its own, so that dropping the test
    /// server can stop it (and wait for it) before its data directory is removed, whatever
    /// runtime the test itself runs on.
    running: Option<Running>,
    client: reqwest::Client,
}

struct Running {
    shutdown: tokio::sync::oneshot::Sender<()>,
    /// Says when the server has stopped (it sends nothing: it is dropped).
    stopped: std::sync::mpsc::Receiver<()>,
}

impl Running {
    /// Asks the server to stop and waits, at most `timeout`, until it has: a connection
    /// still streaming (a followed log, a terminal) holds a graceful shutdown.
    fn stop(self, timeout: Duration) {
        let _ = self.shutdown.send(());
        let _ = self.stopped.recv_timeout(timeout);
    }
}

/// TensorBoards are detached processes that outlive their server by design (the next server
/// on the same data re-adopts them); a test server takes its own down with it, so that a test
/// run leaves no process behind, pass or fail.
impl Drop for TestServer {
    fn drop(&mut self) {
        // Stopped first, so that nothing launches a pod or writes in the data directory
        // while it is being removed.
        if let Some(running) = self.running.take() {
            running.stop(Duration::from_secs(10));
        }
        // Pods outlive their server by design: a test that ends (or fails) with pods still
        // running takes them down with it.
        let pods = std::fs::read_dir(self.data_dir.path().join("jobs"))
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|job| {
                std::fs::read_dir(job.path().join("pods"))
                    .into_iter()
                    .flatten()
            })
            .flatten();
        for pod in pods {
            let _ = opendlc_runtime::local::kill_now(&pod.path());
        }
        let Ok(store) = opendlc_server::admin::open(self.data_dir.path()) else {
            return;
        };
        for tb in store.active_tensorboards().unwrap_or_default() {
            let Some(pid) = tb.pid else { continue };
            // Only if the pid is still that TensorBoard (its command line names its id).
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(tb.tensorboard_id.as_str()) {
                // SAFETY: kill(2) on the TensorBoard's process group; no memory involved.
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
            }
        }
    }
}

/// Whether the tests run as root: only then does the server run pods as their owners.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `command` in a session of its own, killed when the calling thread ends: a server the
/// test kills with SIGKILL leaves the session of the test run as it was (a server raises its
/// session's scheduling group while it serves, and only a clean stop gives it back), and out
/// of the test's process group it still ends with the test.
pub fn own_session(command: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid and prctl are async-signal-safe and touch no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

pub fn shim_program() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_opendlc").into()
}

/// The headers of a request to `base` + `path` (with its query string, encoded) signed with
/// `key` as the SDK signs (ACS3-HMAC-SHA256).
pub fn signed_headers(
    base: &str,
    key: &Key,
    version: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Vec<(String, String)> {
    let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let signer = opendlc_api::signature::Signer {
        access_key_id: key.id.clone(),
        access_key_secret: key.secret.clone(),
        user_agent: "opendlc-tests".into(),
    };
    let date = opendlc_core::time::format_wire(opendlc_core::time::now_millis());
    let nonce = opendlc_core::ids::new_pod_uid();
    let info = opendlc_api::signature::CallInfo {
        host: base
            .trim_start_matches("http://")
            .trim_start_matches("https://"),
        action: "Test",
        version,
        date: &date,
        nonce: &nonce,
    };
    signer.headers(&info, method, raw_path, &query, body)
}

impl TestServer {
    pub async fn start() -> TestServer {
        let data_dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(data_dir).await
    }

    pub async fn start_in(data_dir: tempfile::TempDir) -> TestServer {
        Self::start_with(data_dir, |_| {}).await
    }

    /// A server whose configuration `configure` adjusts first.
    pub async fn start_with(
        data_dir: tempfile::TempDir,
        configure: impl FnOnce(&mut opendlc_server::Config),
    ) -> TestServer {
        Self::start_configured(data_dir, configure, reqwest::Client::new()).await
    }

    /// A server speaking HTTPS with `tls` (its configuration adjusted by `configure`), and a
    /// client that trusts `ca_pem` (PEM).
    pub async fn start_tls(
        data_dir: tempfile::TempDir,
        tls: opendlc_server::TlsFiles,
        ca_pem: &[u8],
        configure: impl FnOnce(&mut opendlc_server::Config),
    ) -> TestServer {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).expect("a PEM CA"))
            .build()
            .expect("an HTTPS client");
        let configure = |c: &mut opendlc_server::Config| {
            c.tls = Some(tls);
            configure(c);
        };
        Self::start_configured(data_dir, configure, client).await
    }

    async fn start_configured(
        data_dir: tempfile::TempDir,
        configure: impl FnOnce(&mut opendlc_server::Config),
        client: reqwest::Client,
    ) -> TestServer {
        let mut config = opendlc_server::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            data_dir.path().to_path_buf(),
            shim_program(),
        );
        // Pods run as their owners and do not see root's home, where the test environments
        // are installed: they may read those, as an administrator would declare them.
        config.pod_isolation.readable = framework_installs();
        configure(&mut config);
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            let _stopped = stopped_tx;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the server's runtime");
            runtime.block_on(async move {
                let server = match opendlc_server::Server::bind(config).await {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = bound_tx.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                let admin = Key {
                    id: server.admin_key.id.clone(),
                    secret: server.admin_key.secret.clone(),
                };
                let bound = (server.url(), server.log_streams.clone(), admin);
                if bound_tx.send(Ok(bound)).is_err() {
                    return;
                }
                server
                    .serve(async {
                        let _ = shutdown_rx.await;
                    })
                    .await
                    .expect("server runs");
            });
        });
        let (base, log_streams, admin) = bound_rx
            .await
            .expect("the server's thread answers")
            .unwrap_or_else(|e| panic!("server binds: {e}"));
        let scratch = tempfile::tempdir().expect("temp dir");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o1777))
                .expect("scratch directory mode");
        }
        // The scratch directory is the one host path requests may name, declared as an
        // administrator would (tests that register sources append to this file).
        std::fs::write(
            data_dir.path().join("sources.yaml"),
            format!("roots:\n  - path: {}\n", scratch.path().display()),
        )
        .expect("sources.yaml");
        TestServer {
            base,
            admin,
            data_dir,
            scratch,
            log_streams,
            running: Some(Running { shutdown, stopped }),
            client,
        }
    }

    /// Stops the server (pods keep running) and gives back its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(running) = self.running.take() {
            tokio::task::spawn_blocking(move || running.stop(Duration::from_secs(60)))
                .await
                .expect("the server stops");
        }
        std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        let (_, host) = self.base.split_once("://").expect("a URL");
        host.parse().expect("an address")
    }

    /// Where a test puts what its pods read and finds what they write.
    pub fn scratch(&self) -> &std::path::Path {
        self.scratch.path()
    }

    /// Creates a user (a member of the default workspace) and returns their first key.
    pub fn add_user(&self, name: &str) -> Key {
        let store = opendlc_server::admin::open(self.data_dir.path()).unwrap();
        let (_, key) = opendlc_server::admin::add_user(&store, name, false).unwrap();
        Key {
            id: key.id,
            secret: key.secret,
        }
    }

    /// Creates a workspace administered by `owner`; returns its id.
    pub fn add_workspace(&self, name: &str, owner: &str) -> String {
        let store = opendlc_server::admin::open(self.data_dir.path()).unwrap();
        opendlc_server::admin::add_workspace(&store, name, owner)
            .unwrap()
            .workspace_id
    }

    /// Makes `user` a member (or, with `admin`, an admin) of the workspace.
    pub fn add_member(&self, workspace: &str, user: &str, admin: bool) {
        let store = opendlc_server::admin::open(self.data_dir.path()).unwrap();
        let role = if admin {
            opendlc_core::identity::WorkspaceRole::Admin
        } else {
            opendlc_core::identity::WorkspaceRole::Member
        };
        opendlc_server::admin::set_member(&store, workspace, user, role).unwrap();
    }

    /// A request signed with `key` the way the SDK signs (ACS3-HMAC-SHA256); `path` may carry
    /// a query string, already encoded.
    pub fn signed(
        &self,
        key: &Key,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::RequestBuilder {
        self.signed_for(key, "2020-12-03", method, path, body)
    }

    /// [`TestServer::signed`] for another API version (AIWorkspace's `2021-02-04`).
    pub fn signed_for(
        &self,
        key: &Key,
        version: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::RequestBuilder {
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        let headers = signed_headers(&self.base, key, version, method, path, body.as_deref());
        let url = format!("{}{}", self.base, path);
        let mut request = self.client.request(method.parse().unwrap(), &url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        request
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.admin, method, path, body).await
    }

    /// A call signed with `key`: the status and the JSON body.
    pub async fn call_as(
        &self,
        key: &Key,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let response = self
            .signed(key, method, path, body.as_ref())
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, value)
    }

    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path}: {value}");
        value
    }

    /// Sends a request that must fail with `status` and `code`; returns the error body.
    pub async fn error(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        status: u16,
        code: &str,
    ) -> Value {
        let (got, err) = self.call(method, path, body).await;
        assert_eq!(
            (got, err["Code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {err}"
        );
        for key in ["RequestId", "HostId", "Message", "Recommend"] {
            assert!(err[key].is_string(), "{key} missing: {err}");
        }
        err
    }

    pub async fn stop_job(&self, job_id: &str) {
        self.ok("POST", &format!("/api/v1/jobs/{job_id}/stop"), None)
            .await;
    }

    pub async fn create_job(&self, body: Value) -> String {
        let created = self.ok("POST", "/api/v1/jobs", Some(body)).await;
        created["JobId"].as_str().expect("JobId").to_string()
    }

    /// GetJobEvents: the job's event lines, oldest first.
    pub async fn events(&self, job_id: &str) -> Vec<String> {
        let body = self
            .ok("GET", &format!("/api/v1/jobs/{job_id}/events"), None)
            .await;
        body["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect()
    }

    /// CreateJob signed with `key` (another user's).
    pub async fn create_job_as(&self, key: &Key, body: Value) -> String {
        let response = self
            .signed(key, "POST", "/api/v1/jobs", Some(&body))
            .send()
            .await
            .unwrap();
        let answer: Value = response.json().await.unwrap();
        answer["JobId"].as_str().expect("a JobId").to_string()
    }

    pub async fn get_job(&self, job_id: &str) -> Value {
        self.ok("GET", &format!("/api/v1/jobs/{job_id}"), None)
            .await
    }

    /// Polls GetJob until `done` holds for it, or panics after `timeout`.
    pub async fn wait_job(
        &self,
        job_id: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let job = self.get_job(job_id).await;
            if done(&job) {
                return job;
            }
            assert!(
                start.elapsed() < timeout,
                "job {job_id} did not get there in {timeout:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_status(&self, job_id: &str, status: &str) -> Value {
        self.wait_job(job_id, Duration::from_secs(30), |j| j["Status"] == status)
            .await
    }

    pub async fn logs(&self, job_id: &str, pod_id: &str, query: &str) -> Vec<String> {
        let v = self
            .ok(
                "GET",
                &format!("/api/v1/jobs/{job_id}/pods/{pod_id}/logs?{query}"),
                None,
            )
            .await;
        v["Logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    }
}

/// A CreateJob body for a PyTorchJob with the given roles (`(Type, PodCount)`) and command.
pub fn pytorch_job(name: &str, roles: &[(&str, u32)], command: &str) -> Value {
    let specs: Vec<Value> = roles
        .iter()
        .map(|(role, count)| {
            serde_json::json!({"Type": role, "PodCount": count, "Image": "local", "EcsSpec": "ecs.c6.large"})
        })
        .collect();
    serde_json::json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "JobSpecs": specs,
        "UserCommand": command,
    })
}

/// What one run of the `opendlc` client binary did.
#[derive(Debug)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// stdout as JSON (for `-o json`).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

impl TestServer {
    /// The `opendlc` binary with an environment of its own: a HOME under the data directory
    /// (no user config), this server as the endpoint, its data directory for the key.
    pub fn cli_command(&self, args: &[&str]) -> std::process::Command {
        let home = self.data_dir.path().join("client-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_opendlc"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("OPENDLC_DATA_DIR", self.data_dir.path())
            .env("OPENDLC_ENDPOINT", &self.base);
        command
    }

    /// Runs the client binary to the end (blocking; use a multi-thread runtime).
    pub fn cli(&self, args: &[&str]) -> CliRun {
        self.cli_with(args, |_| {})
    }

    /// Like [`TestServer::cli`], after `adjust` changed the command (env, stdin).
    pub fn cli_with(
        &self,
        args: &[&str],
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> CliRun {
        let mut command = self.cli_command(args);
        adjust(&mut command);
        let output = command.output().expect("the opendlc binary runs");
        CliRun {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs the client binary and requires exit code 0; returns stdout trimmed.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let run = self.cli(args);
        assert_eq!(run.code, 0, "opendlc {args:?}: {run:?}");
        run.stdout.trim().to_string()
    }
}

/// The test environments' venvs (OPENDLC_FRAMEWORKS_PYTHON, OPENDLC_TENSORBOARD,
/// OPENDLC_TEST_PYTHON: pods run each of them) and the Pythons they were made from, each once:
/// what pods need to read to run the frameworks.
pub fn framework_installs() -> Vec<std::path::PathBuf> {
    let mut installs: Vec<_> = [
        "OPENDLC_FRAMEWORKS_PYTHON",
        "OPENDLC_TENSORBOARD",
        "OPENDLC_TEST_PYTHON",
    ]
    .into_iter()
    .filter_map(|var| std::env::var(var).ok())
    .flat_map(|program| venv_and_base(std::path::Path::new(&program)))
    .collect();
    installs.sort();
    installs.dedup();
    installs
}

/// The venv a program in its `bin/` belongs to, and the Python the venv was made from.
fn venv_and_base(program: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Some(venv) = program.parent().and_then(|bin| bin.parent()) else {
        return Vec::new();
    };
    let base = std::fs::read_to_string(venv.join("pyvenv.cfg"))
        .ok()
        .and_then(|cfg| {
            cfg.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == "home")
                .map(|(_, v)| std::path::PathBuf::from(v.trim()))
        })
        .and_then(|bin| bin.parent().map(std::path::Path::to_path_buf));
    std::iter::once(venv.to_path_buf()).chain(base).collect()
}

/// A Python that can import `module`: OPENDLC_FRAMEWORKS_PYTHON (scripts/test.sh points it at
/// the venv scripts/frameworks-env.sh builds).
pub fn python_with(module: &str) -> Option<String> {
    let Ok(python) = std::env::var("OPENDLC_FRAMEWORKS_PYTHON") else {
        eprintln!("OPENDLC_FRAMEWORKS_PYTHON is not set (scripts/test.sh sets it from scripts/frameworks-env.sh): skipped");
        return None;
    };
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("{python} cannot import {module}: skipped");
    }
    ok.then_some(python)
}

/// The pods' PATH with the framework venv's bin first (where `ray` and `python` are).
pub fn path_with(python: &str) -> String {
    let bin = std::path::Path::new(python).parent().unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Reads until the server closes the connection (EOF or reset); what it sent before. Fails
/// the test if the connection stays open `within`.
pub async fn until_closed(stream: &mut tokio::net::TcpStream, within: Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    got
}
