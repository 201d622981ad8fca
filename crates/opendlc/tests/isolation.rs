//! Tenants on one host: every pod runs as its owner's own Unix identity, in a view of the host
//! without the server's data directory or other jobs (docs/SECURITY.md). Each test is the
//! attack a second user would try from their pod. They need a server running as root (the only
//! way to run pods as other users); elsewhere they say so and pass.

mod common;

use std::time::Duration;

use common::{is_root, TestServer};
use serde_json::{json, Value};

fn job(name: &str, command: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "local",
                      "ResourceConfig": {"CPU": "1", "Memory": "1Gi"}}],
    })
}

/// The pod log of the job's only pod once it has ended.
async fn output(server: &TestServer, job_id: &str) -> String {
    server
        .wait_job(job_id, Duration::from_secs(60), |j| {
            matches!(j["Status"].as_str(), Some("Succeeded" | "Failed"))
        })
        .await;
    server
        .logs(job_id, &format!("{job_id}-worker-0"), "")
        .await
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_cannot_reach_another_users_job_the_server_or_its_secrets() {
    if !is_root() {
        eprintln!("pods run as their owners only under a server running as root: skipped");
        return;
    }
    let server = TestServer::start().await;
    let (alice, bob) = (server.add_user("alice"), server.add_user("bob"));
    let data = server.data_dir.path().canonicalize().unwrap();
    let secret = server
        .create_job_as(
            &alice,
            job(
                "alice",
                "echo alice-secret > secret.txt; echo $$ > pid; exec sleep 600",
            ),
        )
        .await;
    server.wait_status(&secret, "Running").await;
    let alice_dir = data.join("jobs").join(&secret);
    let alice_work = alice_dir.join("work");
    // Her pod has written its file and its pid.
    let pid_file = alice_work.join("pid");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !pid_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "alice's pod never wrote its pid"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alice_pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();

    let probe = format!(
        r#"try() {{ if "$@" >/dev/null 2>&1; then echo "ALLOWED: $*"; else echo "denied: $*"; fi; }}
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) home=$HOME user=$USER"
try cat {work}/secret.txt
try ls {job}
echo "jobs seen: $(ls {data}/jobs 2>&1 | tr '\n' ' ')"
try cat {data}/opendlc.db
try cat /etc/shadow
echo "root home: $(ls -A /root 2>&1 | tr '\n' ' ')"
try kill -0 {server}
try kill -0 {alice_pid}
echo mine > mine.txt && echo "own work dir writable"
ls -ld "$HOME" | awk '{{print "home owner", $3}}'"#,
        work = alice_work.display(),
        job = alice_dir.display(),
        data = data.display(),
        server = std::process::id(),
    );
    let snoop = server.create_job_as(&bob, job("bob", &probe)).await;
    let seen = output(&server, &snoop).await;
    server.stop_job(&secret).await;

    let bob_uid = opendlc_server::DEFAULT_UID_BASE + 3; // admin 1, alice 2, bob 3
    assert!(
        seen.contains(&format!("uid={bob_uid} gid={bob_uid} groups={bob_uid} ")),
        "{seen}"
    );
    assert!(!seen.contains("ALLOWED"), "{seen}");
    assert_eq!(seen.matches("denied:").count(), 6, "{seen}");
    // Root's home shows at most the way to what pods may read (the test's framework installs).
    let line = seen.lines().find(|l| l.starts_with("root home:")).unwrap();
    let granted: Vec<String> = common::framework_installs()
        .iter()
        .chain(std::iter::once(&common::shim_program()))
        .filter_map(|p| p.strip_prefix("/root").ok())
        .filter_map(|p| p.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for entry in line["root home:".len()..].split_whitespace() {
        assert!(
            granted.iter().any(|g| g == entry),
            "{entry} is visible: {seen}"
        );
    }
    // The data directory shows bob his own job and nothing else.
    assert!(seen.contains(&format!("jobs seen: {snoop} ")), "{seen}");
    assert!(seen.contains("own work dir writable"), "{seen}");
    assert!(!seen.contains("alice-secret"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_inherits_no_descriptor_of_the_server() {
    let server = TestServer::start().await;
    // An open file of the server's process, not close-on-exec, as a lock file of whoever
    // started it would be.
    let file = std::fs::File::open("/dev/null").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: fcntl on a descriptor this test owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    let id = server
        .create_job(job("fds", "ls /proc/self/fd | sort -n | tr '\\n' ' '"))
        .await;
    let seen = output(&server, &id).await;
    drop(file);
    // stdin, stdout, stderr, and the descriptor `ls` reads /proc/self/fd through.
    assert_eq!(seen.split_whitespace().count(), 4, "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_its_job_under_a_data_directory_in_a_private_one() {
    // The data directory inside a directory only root may pass (mode 0700), as a test
    // framework's temporary directories are: the pod still reaches its own job.
    let outer = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir_in(outer.path()).unwrap();
    let server = TestServer::start_in(data).await;
    let id = server
        .create_job(job(
            "nested",
            "echo written > out.txt && cat out.txt && id -u",
        ))
        .await;
    let seen = output(&server, &id).await;
    assert!(seen.contains("written"), "{seen}");
    if is_root() {
        let admin_uid = opendlc_server::DEFAULT_UID_BASE + 1;
        assert!(seen.contains(&admin_uid.to_string()), "{seen}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_maps_a_user_to_an_account_of_theirs() {
    if !is_root() {
        eprintln!("pods run as their owners only under a server running as root: skipped");
        return;
    }
    let server = TestServer::start().await;
    let carol = server.add_user("carol");
    let store = opendlc_server::admin::open(server.data_dir.path()).unwrap();
    let refused = opendlc_server::admin::set_unix_identity(&store, "carol", Some((0, 0)));
    assert!(refused
        .unwrap_err()
        .to_string()
        .contains("never run as root"));
    opendlc_server::admin::set_unix_identity(&store, "carol", Some((4242, 4343))).unwrap();
    let id = server
        .create_job_as(&carol, job("mapped", "id -u; id -g; stat -c %u:%g ."))
        .await;
    let seen = output(&server, &id).await;
    assert_eq!(
        seen.split_whitespace().collect::<Vec<_>>(),
        ["4242", "4343", "4242:4343"],
        "{seen}"
    );
}

/// The pods of a job reach each other by name, as on Kubernetes: `<PodId>` and `<role>-<index>`
/// resolve (to the loopback, where the local runtime's pods all listen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pods_of_a_job_reach_each_other_by_name() {
    if !is_root() {
        eprintln!("pods get the job's hosts file only in their own view (a server running as root): skipped");
        return;
    }
    let server = TestServer::start().await;
    // The master serves on its MASTER_PORT; the worker reaches it by its name.
    let serve = "import os, socket\n\
                 s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('127.0.0.1', int(os.environ['MASTER_PORT']))); s.listen(1)\n\
                 c, _ = s.accept(); print('master heard', c.recv(64).decode(), flush=True)";
    let call = "import os, socket, time\n\
                for _ in range(600):\n\
                \x20   try:\n\
                \x20       c = socket.create_connection(('master-0', int(os.environ['MASTER_PORT']))); break\n\
                \x20   except OSError: time.sleep(0.05)\n\
                c.sendall(b'hello from worker-0'); c.close()\n\
                print('worker resolved', socket.gethostbyname('master-0'), flush=True)";
    let mut body = json!({
        "DisplayName": "names",
        "JobType": "PyTorchJob",
        "UserCommand": "true",
        "JobSpecs": [
            {"Type": "Master", "PodCount": 1, "ResourceConfig": {"CPU": "1", "Memory": "256Mi"},
             "UserCommand": format!("python3 -c \"{serve}\"")},
            {"Type": "Worker", "PodCount": 1, "ResourceConfig": {"CPU": "1", "Memory": "256Mi"},
             "UserCommand": format!("python3 -c \"{call}\"")},
        ],
    });
    body["Envs"] = json!({"PYTHONUNBUFFERED": "1"});
    let job_id = server.create_job(body).await;
    let ended = server
        .wait_job(&job_id, Duration::from_secs(60), |j| {
            matches!(j["Status"].as_str(), Some("Succeeded" | "Failed"))
        })
        .await;
    let master = server
        .logs(&job_id, &format!("{job_id}-master-0"), "")
        .await;
    let worker = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert_eq!(
        ended["Status"], "Succeeded",
        "{ended} {master:?} {worker:?}"
    );
    assert_eq!(master, ["master heard hello from worker-0"]);
    assert_eq!(worker, ["worker resolved 127.0.0.1"]);
    // The full PodId is there too; another job's pods do not see these names.
    let hosts = std::fs::read_to_string(
        server
            .data_dir
            .path()
            .join("jobs")
            .join(&job_id)
            .join("hosts"),
    )
    .unwrap();
    let full = format!("{job_id}-master-0");
    assert!(
        hosts.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.first() == Some(&"127.0.0.1")
                && words.contains(&full.as_str())
                && words.contains(&"master-0")
        }),
        "{hosts}"
    );
    let other = server
        .create_job(job(
            "other",
            &format!("getent hosts {job_id}-master-0 >/dev/null && echo sees || echo does-not-see"),
        ))
        .await;
    assert_eq!(output(&server, &other).await.trim(), "does-not-see");
}

/// `ResourceConfig.SharedMemory`: each pod gets a `/dev/shm` of its own, of that size; a size
/// above the pod's memory is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_gets_the_shared_memory_it_asked_for() {
    if !is_root() {
        eprintln!("a pod's own /dev/shm needs its own view (a server running as root): skipped");
        return;
    }
    let server = TestServer::start().await;
    let mut body = job(
        "shm",
        "df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2",
    );
    body["JobSpecs"][0]["ResourceConfig"]["SharedMemory"] = json!("64Mi");
    let id = server.create_job(body.clone()).await;
    assert_eq!(output(&server, &id).await.trim(), (64 * 1024).to_string());
    body["JobSpecs"][0]["ResourceConfig"]["SharedMemory"] = json!("2Gi");
    let (status, error) = server.call("POST", "/api/v1/jobs", Some(body)).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["Message"]
            .as_str()
            .unwrap()
            .contains("JobSpecs[0].ResourceConfig.SharedMemory: 2Gi is more than the pod's memory"),
        "{error}"
    );
}
