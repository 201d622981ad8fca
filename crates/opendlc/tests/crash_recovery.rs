//! `kill -9` the server while a job runs; a new server on the same data directory sees the job
//! finish with every log line. And the real binary's log, written to a file, is plain text, its
//! session is raised while it serves, and its allocator takes no huge pages.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A server process, killed when dropped: a test that fails half-way leaves none behind.
struct Server(Child);

impl std::ops::Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary serving on a free port; returns the process and its base URL.
fn spawn_server(data_dir: &std::path::Path) -> (Server, String) {
    spawn_server_logging(data_dir, Stdio::null())
}

/// [`spawn_server`], its log (stderr) going to `log`.
fn spawn_server_logging(data_dir: &std::path::Path, log: Stdio) -> (Server, String) {
    let mut command = Command::new(common::shim_program());
    common::own_session(&mut command);
    spawn_server_as(command, data_dir, log)
}

/// [`spawn_server_logging`] through `command` (the binary, with what the caller set on it:
/// [`common::own_session`], at least).
fn spawn_server_as(
    mut command: Command,
    data_dir: &std::path::Path,
    log: Stdio,
) -> (Server, String) {
    let mut child = Server(
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("OPENDLC_ACCESS_KEY_ID", "testak")
            .env("OPENDLC_ACCESS_KEY_SECRET", "testsk")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("server starts"),
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "server exited before printing its endpoint"
        );
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, base)
}

fn call(base: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let response = send(base, method, path, body);
    assert!(
        response.status().is_success(),
        "{method} {path}: {}",
        response.status()
    );
    response.json().unwrap()
}

/// A request signed with the server's key, whatever its answer.
fn send(base: &str, method: &str, path: &str, body: Option<Value>) -> reqwest::blocking::Response {
    try_send(base, method, path, body).expect("request sent")
}

/// [`send`], or why no answer came (the server is gone).
fn try_send(
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Result<reqwest::blocking::Response> {
    let client = reqwest::blocking::Client::new();
    let mut request = client.request(method.parse().unwrap(), format!("{base}{path}"));
    let key = common::Key {
        id: "testak".into(),
        secret: "testsk".into(),
    };
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    for (name, value) in
        common::signed_headers(base, &key, "2020-12-03", method, path, body.as_deref())
    {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    request.send()
}

fn wait_status(base: &str, job_id: &str, status: &str) -> Value {
    wait_job(base, job_id, status, |job| job["Status"] == status)
}

/// Reads the job until `done` says so; `what` names what is waited for.
fn wait_job(base: &str, job_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let job = call(base, "GET", &format!("/api/v1/jobs/{job_id}"), None);
        if done(&job) {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never {what}: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_job_finishes_with_all_its_logs_after_the_server_is_killed() {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut server, base) = spawn_server(data_dir.path());
    let body = json!({
        "DisplayName": "crash",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Master", "PodCount": 1}, {"Type": "Worker", "PodCount": 1}],
        "UserCommand": "for i in $(seq 1 50); do echo line $i; sleep 0.04; done",
    });
    let job_id = call(&base, "POST", "/api/v1/jobs", Some(body))["JobId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&base, &job_id, "Running");
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, base) = spawn_server(data_dir.path());
    let job = wait_status(&base, &job_id, "Succeeded");
    let expected: Vec<String> = (1..=50).map(|i| format!("line {i}")).collect();
    for pod in job["Pods"].as_array().unwrap() {
        let pod_id = pod["PodId"].as_str().unwrap();
        let logs = call(
            &base,
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod_id}/logs"),
            None,
        );
        let lines: Vec<String> = serde_json::from_value(logs["Logs"].clone()).unwrap();
        assert_eq!(lines, expected, "{pod_id}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

/// CreateJobs answered while many clients submit at once are all there after a `kill -9` in
/// the middle of it, and all run to their end: jobs are committed in groups, each answered only
/// once its group is, and pods caught mid-launch are taken over.
#[test]
fn jobs_acknowledged_under_load_survive_a_kill() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const CLIENTS: usize = 8;
    const BEFORE_KILL: usize = 60;
    let data_dir = tempfile::tempdir().unwrap();
    let (mut server, base) = spawn_server(data_dir.path());
    let body = json!({
        "DisplayName": "burst",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1,
                      "ResourceConfig": {"CPU": "0.01", "Memory": "16Mi"}}],
        "UserCommand": "true",
    });
    let answered = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (base, body, answered) = (base.clone(), body.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                // Until the server is gone: a refused connection or a cut answer ends it.
                while let Ok(response) = try_send(&base, "POST", "/api/v1/jobs", Some(body.clone()))
                {
                    let Ok(reply) = response.json::<Value>() else {
                        break;
                    };
                    acknowledged.push(reply["JobId"].as_str().unwrap().to_string());
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                acknowledged
            })
        })
        .collect();
    let start = Instant::now();
    while answered.load(Ordering::Relaxed) < BEFORE_KILL {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "too few jobs created"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let acknowledged: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(acknowledged.len() >= BEFORE_KILL);

    let (mut server, base) = spawn_server(data_dir.path());
    for job_id in &acknowledged {
        // Pods the kill caught being launched included: one whose launch got no further than
        // spec.json is launched again (no shim holds its lock), one whose shim was starting
        // is waited for, one whose start nobody heard runs on.
        let job = wait_final(&base, job_id);
        assert_eq!(job["Status"], "Succeeded", "{job}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

fn wait_final(base: &str, job_id: &str) -> Value {
    let finals = ["Succeeded", "Failed", "Stopped"];
    wait_job(base, job_id, "final", |job| {
        finals.contains(&job["Status"].as_str().unwrap_or(""))
    })
}

/// A DeleteJob answered stays done across a `kill -9`, metrics and all, though a long run's
/// metrics take it several transactions.
#[test]
fn a_deleted_job_stays_deleted_after_the_server_is_killed() {
    use opendlc_core::metrics::{reads, MetricType, PodSample};
    use opendlc_store::{SampledPod, DELETE_CHUNK};

    let data_dir = tempfile::tempdir().unwrap();
    let (mut server, base) = spawn_server(data_dir.path());
    let body = json!({
        "DisplayName": "deleted",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1}],
        "UserCommand": "true",
    });
    let job_id = call(&base, "POST", "/api/v1/jobs", Some(body))["JobId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&base, &job_id, "Succeeded");
    // Hours of samples, more than the delete's chunk, written beside the server.
    let store = opendlc_store::Store::open(&data_dir.path().join("opendlc.db")).unwrap();
    let pod = SampledPod {
        job_id: job_id.clone(),
        pod_id: format!("{job_id}-worker-0"),
        pod_uid: "an-earlier-incarnation".into(),
    };
    let now = opendlc_core::time::now_millis();
    let samples: Vec<_> = (0..3 * DELETE_CHUNK as i64)
        .map(|i| {
            let sample = PodSample {
                cpu: Some(1.0),
                ..PodSample::default()
            };
            (now - i * 5_000, pod.clone(), sample)
        })
        .collect();
    store.insert_samples(&samples).unwrap();

    call(&base, "DELETE", &format!("/api/v1/jobs/{job_id}"), None);
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, base) = spawn_server(data_dir.path());
    let get = send(&base, "GET", &format!("/api/v1/jobs/{job_id}"), None);
    assert_eq!(get.status(), 404);
    for step in [1, 3_600_000] {
        let left = store
            .metric_series(
                &job_id,
                MetricType::CpuCoreUsage,
                &reads(0, i64::MAX, step, now),
            )
            .unwrap();
        assert!(left.is_empty(), "{} points left", left.len());
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut first, _) = spawn_server(data_dir.path());
    let second = Command::new(common::shim_program())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another opendlc server (pid"), "{stderr}");
    first.kill().unwrap();
    first.wait().unwrap();
    // Once the first is gone (even killed), the directory is free again.
    let (mut third, _) = spawn_server(data_dir.path());
    third.kill().unwrap();
    third.wait().unwrap();
}

/// Where the kernel schedules processes a session at a time (autogroup), a thread's niceness
/// counts only among its session's threads: the server raises its session with its threads
/// (the engine's among them), where it may (root), or the whole server would weigh as much as
/// the pods' one cgroup; stopped (by a SIGTERM sent as soon as it says where it listens: a clean
/// stop, not the signal's default death), it gives the session's group back as it was.
#[test]
fn the_server_raises_its_session_while_it_serves() {
    let data_dir = tempfile::tempdir().unwrap();
    let keeper_pid = data_dir.path().join("keeper");
    // A session of its own, so that what the server raises is its own group, not this test's,
    // with a keeper in it that outlives the server: a `cat` of this test's pipe, which ends
    // when the pipe does, however the test ends. Then `sh` becomes the server.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(
            r#"exec 3<&0; cat <&3 >/dev/null 3<&- & echo $! > "$0"; exec 3<&-
               program=$1; shift; exec "$program" "$@""#,
        )
        .arg(&keeper_pid)
        .arg(common::shim_program())
        .stdin(Stdio::piped());
    common::own_session(&mut command);
    let (mut server, _) = spawn_server_as(command, data_dir.path(), Stdio::null());
    let pipe = server.stdin.take();
    let keeper = std::fs::read_to_string(&keeper_pid).unwrap();
    let group_of = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/autogroup"));
    let nice = if common::is_root() { -5 } else { 0 };
    match group_of(&server.id().to_string()) {
        // A kernel without autogroups: there is no group to raise.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
        Ok(group) => assert!(
            group.trim_end().ends_with(&format!("nice {nice}")),
            "{group}"
        ),
    }
    let tasks = std::fs::read_dir(format!("/proc/{}/task", server.id())).unwrap();
    let engine = tasks
        .map(|task| task.unwrap().path())
        .find(|task| std::fs::read_to_string(task.join("comm")).unwrap() == "engine\n")
        .expect("an engine thread");
    // Field 19 of proc(5)'s stat, counted after the command's closing parenthesis.
    let stat = std::fs::read_to_string(engine.join("stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    assert_eq!(fields[19 - 3], nice.to_string(), "{stat}");

    // SAFETY: kill(2) on the pid of a child not yet reaped.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    if let Ok(group) = group_of(keeper.trim()) {
        assert!(group.trim_end().ends_with("nice 0"), "{group}");
    }
    drop(pipe);
}

/// The server's allocator (mimalloc) asks for no transparent huge pages, whose faults may wait
/// for the kernel to compact memory, and does so without banning them for the process: the
/// pods it starts inherit the host's THP setting as the server got it.
#[test]
fn the_servers_allocator_asks_for_no_huge_pages_and_bans_none_for_its_pods() {
    let data_dir = tempfile::tempdir().unwrap();
    let (server, base) = spawn_server(data_dir.path());
    // Something allocated and served, so that the allocator has reserved its memory.
    call(&base, "GET", "/api/v1/jobs", None);
    let thp_enabled = |pid: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|line| line.starts_with("THP_enabled:"))
            .map(str::to_string)
    };
    assert_eq!(
        thp_enabled(&server.id().to_string()),
        thp_enabled("self"),
        "the server's THP setting differs from what it was started with"
    );
    // `hg`: a mapping madvise(MADV_HUGEPAGE)d.
    let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", server.id())).unwrap();
    let huge: Vec<&str> = smaps
        .lines()
        .filter(|line| line.starts_with("VmFlags:") && line.split_whitespace().any(|f| f == "hg"))
        .collect();
    assert!(huge.is_empty(), "huge-page mappings: {huge:?}");
}

/// A log written to a file is plain text: colours only when stderr is a terminal.
#[test]
fn a_log_written_to_a_file_has_no_colour_codes() {
    let data_dir = tempfile::tempdir().unwrap();
    let log = data_dir.path().join("server.log");
    let file = std::fs::File::create(&log).unwrap();
    let (mut server, base) = spawn_server_logging(data_dir.path(), file.into());
    let body = json!({
        "DisplayName": "logged",
        "JobType": "PyTorchJob",
        "JobSpecs": [{"Type": "Worker", "PodCount": 1}],
        "UserCommand": "true",
    });
    let job_id = call(&base, "POST", "/api/v1/jobs", Some(body))["JobId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_status(&base, &job_id, "Succeeded");
    server.kill().unwrap();
    server.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("job created") && text.contains(&job_id),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in the log: {text:?}"
    );
}
