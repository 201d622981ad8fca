//! `ServiceSpec`: the ports a role declares are reached by the job's other pods at the pods'
//! (and, `PerRole`, the role's) names, and from outside through the server's proxy at
//! `/services/<JobId>/<PodId>/<port>/`, by those who may read the job and only on those ports.

mod common;

use std::time::Duration;

use common::{is_root, TestServer};
use serde_json::{json, Value};

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A role serving `hello` over HTTP on `port` (its working directory's `hello.txt`), declared
/// in its ServiceSpec.
fn server_role(role: &str, port: u16, mode: &str) -> Value {
    json!({
        "Type": role, "PodCount": 1, "ResourceConfig": {"CPU": "1", "Memory": "256Mi"},
        "ServiceSpec": {"ServiceMode": mode, "DefaultPort": port, "ExtraPorts": [port + 1]},
        "UserCommand": format!(
            "mkdir -p site && cd site && echo hello > hello.txt && \
             exec python3 -m http.server {port} --bind 127.0.0.1"
        ),
    })
}

/// A one-pod job whose Worker serves `port` with the Python program `serve`.
fn python_service(name: &str, port: u16, serve: &str) -> Value {
    json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "JobSpecs": [{
            "Type": "Worker", "PodCount": 1, "ResourceConfig": {"CPU": "1", "Memory": "256Mi"},
            "ServiceSpec": {"DefaultPort": port},
            "UserCommand": format!("exec python3 -c \"{serve}\""),
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_refused_when_its_ports_or_mode_are_wrong() {
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"ServiceMode": "Headless", "DefaultPort": 8080}),
            "JobSpecs[0].ServiceSpec.ServiceMode: must be PerPod or PerRole",
        ),
        (
            json!({"DefaultPort": 8080, "ExtraPorts": [9090, 8080]}),
            "JobSpecs[0].ServiceSpec.ExtraPorts[1]: port 8080 is declared twice",
        ),
        (
            json!({"DefaultPort": 0}),
            "JobSpecs[0].ServiceSpec.DefaultPort: must be between 1 and 65535",
        ),
    ];
    for (spec, message) in cases {
        let mut body = common::pytorch_job("svc", &[("Worker", 1)], "true");
        body["JobSpecs"][0]["ServiceSpec"] = spec;
        let err = server
            .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
            .await;
        assert!(err["Message"].as_str().unwrap().contains(message), "{err}");
    }
}

/// A PerRole service: the Worker reaches the Master at `master` (the role's name) and at
/// `master-0` (the pod's), on the port the Master declared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_reaches_a_declared_port_by_the_role_name() {
    if !is_root() {
        eprintln!("pods get the job's hosts file only in their own view (a server running as root): skipped");
        return;
    }
    let server = TestServer::start().await;
    let port = free_port();
    let fetch = format!(
        "import time, urllib.request\n\
         for _ in range(600):\n\
         \x20   try:\n\
         \x20       urllib.request.urlopen('http://master:{port}/hello.txt'); break\n\
         \x20   except OSError: time.sleep(0.05)\n\
         for name in ('master', 'master-0'):\n\
         \x20   print(name, urllib.request.urlopen(f'http://{{name}}:{port}/hello.txt').read().decode().strip(), flush=True)"
    );
    let body = json!({
        "DisplayName": "service-names",
        "JobType": "PyTorchJob",
        "UserCommand": "true",
        "SuccessPolicy": "ChiefWorker",
        "JobSpecs": [
            server_role("Master", port, "PerRole"),
            {"Type": "Worker", "PodCount": 1, "ResourceConfig": {"CPU": "1", "Memory": "256Mi"},
             "IsChief": true, "UserCommand": format!("python3 -c \"{fetch}\"")},
        ],
    });
    let job_id = server.create_job(body).await;
    let ended = server
        .wait_job(&job_id, Duration::from_secs(60), |j| {
            let pods = j["Pods"].as_array().cloned().unwrap_or_default();
            pods.iter().any(|p| {
                p["Type"] == "worker"
                    && matches!(p["Status"].as_str(), Some("Succeeded" | "Failed"))
            }) || matches!(j["Status"].as_str(), Some("Succeeded" | "Failed"))
        })
        .await;
    let worker = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert_eq!(worker, ["master hello", "master-0 hello"], "{ended}");
    let hosts = std::fs::read_to_string(
        server
            .data_dir
            .path()
            .join("jobs")
            .join(&job_id)
            .join("hosts"),
    )
    .unwrap();
    assert!(hosts.contains(&format!("{job_id}-master ")), "{hosts}");
    // The Worker alone decides (ChiefWorker): the job ends with it.
    server.wait_status(&job_id, "Succeeded").await;
}

/// Without a sandbox (pod isolation off, as on a server that is not root) the job's pods still
/// answer to their names: each pod's command gets an /etc/hosts of its own, in a mount
/// namespace of its own (a user namespace too, where the server is not root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_names_resolve_without_a_sandbox() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(data_dir, |c| c.pod_isolation.enabled = Some(false)).await;
    let body = json!({
        "DisplayName": "names",
        "JobType": "PyTorchJob",
        "UserCommand": "getent hosts master-0 $JOB_NAME-master-0 worker-0",
        "JobSpecs": [
            {"Type": "Master", "PodCount": 1, "ResourceConfig": {"CPU": "0.5", "Memory": "64Mi"}},
            {"Type": "Worker", "PodCount": 1, "ResourceConfig": {"CPU": "0.5", "Memory": "64Mi"}},
        ],
    });
    let job_id = server.create_job(body).await;
    let job = server.wait_status(&job_id, "Succeeded").await;
    let lines: Vec<String> = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "127.0.0.1 master-0".to_string(),
            format!("127.0.0.1 {job_id}-master-0"),
            "127.0.0.1 worker-0".to_string(),
        ],
        "{job}"
    );
    // The host's file is untouched.
    let host = std::fs::read_to_string("/etc/hosts").unwrap();
    assert!(!host.contains(&job_id), "{host}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_serves_a_declared_port_to_those_who_may_read_the_job() {
    let server = TestServer::start().await;
    let port = free_port();
    let body = json!({
        "DisplayName": "service-proxy",
        "JobType": "PyTorchJob",
        "UserCommand": "true",
        "JobSpecs": [server_role("Worker", port, "")],
    });
    let job_id = server.create_job(body).await;
    let pod_id = format!("{job_id}-worker-0");
    let url = format!(
        "{}/services/{job_id}/{pod_id}/{port}/hello.txt",
        server.base
    );
    let http = reqwest::Client::new();
    let admin = &server.admin;
    // Up once the pod runs and python listens.
    let mut answer = None;
    for _ in 0..600 {
        let response = http
            .get(&url)
            .basic_auth(&admin.id, Some(&admin.secret))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            answer = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = answer.unwrap_or_else(|| panic!("{url} never answered"));
    assert!(answer.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert_eq!(answer.text().await.unwrap(), "hello\n");

    // No credentials: asked for them.
    let bare = http.get(&url).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    // A token for the job opens it, in the URL and then as the cookie it sets.
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
    let opened = http
        .get(format!("{url}?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains(&format!("Path=/services/{job_id}/")),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let by_cookie = http
        .get(&url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.text().await.unwrap(), "hello\n");
    // The pod's short name works as well.
    let short = http
        .get(format!(
            "{}/services/{job_id}/worker-0/{port}/hello.txt",
            server.base
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 200);

    // A port the job did not declare (the server's own), or not a port at all: refused.
    let own = server.addr().port();
    for bad in [
        own.to_string(),
        "0".into(),
        "99999".into(),
        "80@evil".into(),
    ] {
        let refused = http
            .get(format!("{}/services/{job_id}/{pod_id}/{bad}/", server.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "port {bad}");
    }
    // A pod of another job, a job that does not exist.
    let other = server
        .create_job(common::pytorch_job("other", &[("Worker", 1)], "sleep 30"))
        .await;
    for path in [
        format!("/services/{job_id}/{other}-worker-0/{port}/"),
        format!("/services/{job_id}/../{port}/"),
    ] {
        let refused = http
            .get(format!("{}{path}", server.base))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 404, "{path}");
    }
    // The job's token does not open another job's pods.
    let refused = http
        .get(format!(
            "{}/services/{other}/{other}-worker-0/{port}/?token={token}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // A user who may not read the (PRIVATE) job: refused, with credentials or a token.
    let bob = server.add_user("bob");
    let as_bob = http
        .get(&url)
        .basic_auth(&bob.id, Some(&bob.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(as_bob.status(), 403);
    // Made PUBLIC, a member of its workspace reads it.
    server
        .ok(
            "PUT",
            &format!("/api/v1/jobs/{job_id}"),
            Some(json!({"Accessibility": "PUBLIC"})),
        )
        .await;
    let as_bob = http
        .get(&url)
        .basic_auth(&bob.id, Some(&bob.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(as_bob.status(), 200);

    // Once the job is stopped, nothing is served.
    server.stop_job(&job_id).await;
    server.stop_job(&other).await;
    server.wait_status(&job_id, "Stopped").await;
    let gone = http
        .get(&url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 503);
}

/// A service's answer comes through the proxy as it is written: the first part of a response
/// whose end is a minute away arrives now (a download or an event stream is not held until it
/// ends, nor kept whole in the server's memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_streams_a_services_answer_as_it_comes() {
    let server = TestServer::start().await;
    let port = free_port();
    let serve = format!(
        "import http.server, time\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200); self.end_headers()\n\
         \x20       self.wfile.write(b'first\\n'); self.wfile.flush()\n\
         \x20       time.sleep(60); self.wfile.write(b'second\\n')\n\
         http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()"
    );
    let body = python_service("service-stream", port, &serve);
    let job_id = server.create_job(body).await;
    let url = format!(
        "{}/services/{job_id}/{job_id}-worker-0/{port}/",
        server.base
    );
    let http = reqwest::Client::new();
    let admin = &server.admin;
    // Until the pod runs and python listens, the proxy answers at once with an error; once it
    // does, the answer's head comes at once too (within seconds, not the service's minute).
    let mut response = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let sent = http
            .get(&url)
            .basic_auth(&admin.id, Some(&admin.secret))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(answer) = sent {
            if answer.status() == 200 {
                response = Some(answer);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut response = response.unwrap_or_else(|| panic!("{url} never answered"));
    let first = tokio::time::timeout(Duration::from_secs(20), response.chunk())
        .await
        .expect("the first part did not come through before the service's answer ended")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first\n");
    server.stop_job(&job_id).await;
    server.wait_status(&job_id, "Stopped").await;
}

/// A protocol switch (a WebSocket's handshake) goes through to the pod, and the two
/// connections are joined: what the caller writes reaches the service, and its answer comes
/// back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_is_joined_through_to_the_service() {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start().await;
    let port = free_port();
    // Answers an upgrade with 101, then echoes what it reads in capitals.
    let serve = format!(
        "import socket\n\
         s = socket.create_server(('127.0.0.1', {port}))\n\
         while True:\n\
         \x20   c, _ = s.accept(); head = b''\n\
         \x20   while b'\\r\\n\\r\\n' not in head: head += c.recv(4096)\n\
         \x20   c.sendall(b'HTTP/1.1 101 Switching Protocols\\r\\nConnection: Upgrade\\r\\nUpgrade: echo\\r\\n\\r\\n')\n\
         \x20   data = c.recv(4096)\n\
         \x20   while data: c.sendall(data.upper()); data = c.recv(4096)\n\
         \x20   c.close()"
    );
    let body = python_service("service-upgrade", port, &serve);
    let job_id = server.create_job(body).await;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", server.admin.id, server.admin.secret));
    let handshake = format!(
        "GET /services/{job_id}/worker-0/{port}/echo HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Basic {basic}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        server.addr()
    );
    // Until the pod runs and python listens, the proxy refuses at once (503, 502).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut joined = None;
    while joined.is_none() && std::time::Instant::now() < deadline {
        let mut conn = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        conn.write_all(handshake.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut chunk)).await;
            match read {
                Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        if head.starts_with(b"HTTP/1.1 101") {
            joined = Some(conn);
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut conn = joined.expect("the upgrade was never switched through");
    conn.write_all(b"hello").await.unwrap();
    let mut echoed = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(20), conn.read_exact(&mut echoed))
        .await
        .expect("no echo")
        .unwrap();
    assert_eq!(&echoed, b"HELLO");
    drop(conn);
    server.stop_job(&job_id).await;
    server.wait_status(&job_id, "Stopped").await;
}
