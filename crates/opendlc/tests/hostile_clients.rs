//! The server holds up against clients that attack it: each test performs one attack and shows
//! it stopped (docs/SECURITY.md, "The API and the network").

mod common;

use std::time::{Duration, Instant};

use common::{pytorch_job, Key, TestServer};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const BODY_TIMEOUT: Duration = Duration::from_secs(2);

async fn hardened_server(legacy: Option<opendlc_server::LegacySignatures>) -> TestServer {
    TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.net.header_timeout = HEADER_TIMEOUT;
        c.net.body_timeout = BODY_TIMEOUT;
        // As if the process could open only 1024 files: 512 connections, 64 per address.
        c.net.open_files = Some(1024);
        c.legacy_signatures = legacy;
        c.tensorboard_program = "/nonexistent/bin/tensorboard".into();
    })
    .await
}

#[tokio::test]
async fn a_thousand_slowloris_connections_leave_the_api_answering() {
    let server = hardened_server(None).await;
    let target = server.addr();
    // The attacker, from another loopback address, opens 1000 connections and never finishes
    // its headers.
    let mut held = Vec::new();
    for _ in 0..1000 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let Ok(mut stream) = socket.connect(target).await else {
            continue;
        };
        let _ = stream
            .write_all(b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        held.push(stream);
    }
    assert!(held.len() > 900, "only {} connections opened", held.len());
    let start = Instant::now();
    server
        .error(
            "GET",
            "/api/v1/jobs/dlcnosuch",
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "a signed GetJob took {took:?}"
    );
    // Every attacking connection is closed: the ones over the limits at once, the others when
    // their headers are late.
    let closing = held
        .iter_mut()
        .map(|s| closed_text(s, HEADER_TIMEOUT + Duration::from_secs(20)));
    futures_util::future::join_all(closing).await;
}

#[tokio::test]
async fn a_body_that_never_arrives_is_answered_and_the_connection_closed() {
    let server = hardened_server(None).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"Display",
        )
        .await
        .unwrap();
    let answer = closed_text(&mut stream, BODY_TIMEOUT + Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"Code\":\"RequestTimeout\""), "{answer}");
}

/// A request signed with the legacy HMAC-SHA1 scheme, with `nonce` if given.
fn legacy_request(server: &TestServer, nonce: Option<&str>) -> reqwest::RequestBuilder {
    let key: &Key = &server.admin;
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut headers = vec![
        ("accept".to_string(), "application/json".to_string()),
        ("date".to_string(), date),
        ("x-acs-action".to_string(), "ListJobs".to_string()),
        (
            "x-acs-signature-method".to_string(),
            "HMAC-SHA1".to_string(),
        ),
        ("x-acs-signature-version".to_string(), "1.0".to_string()),
        ("x-acs-version".to_string(), "2020-12-03".to_string()),
    ];
    if let Some(nonce) = nonce {
        headers.push(("x-acs-signature-nonce".to_string(), nonce.to_string()));
    }
    let to_sign =
        opendlc_api::signature::legacy::string_to_sign("GET", "/api/v1/jobs", &[], &headers);
    let authorization =
        opendlc_api::signature::legacy::authorization(&key.id, &key.secret, &to_sign);
    let mut request = reqwest::Client::new().get(format!("{}/api/v1/jobs", server.base));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.header("authorization", authorization)
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn legacy_signatures_need_a_fresh_nonce_and_a_new_server_refuses_them() {
    let server = hardened_server(None).await;
    let (status, err) = answer(legacy_request(&server, Some("n1"))).await;
    assert_eq!(
        (status, err["Code"].as_str()),
        (400, Some("IncompleteSignature"))
    );
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("--legacy-signatures accept"),
        "{err}"
    );

    let server = hardened_server(Some(opendlc_server::LegacySignatures::Accept)).await;
    let (status, err) = answer(legacy_request(&server, None)).await;
    assert_eq!(
        (status, err["Code"].as_str()),
        (400, Some("IncompleteSignature")),
        "{err}"
    );
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("x-acs-signature-nonce"),
        "{err}"
    );
    let nonce = opendlc_core::ids::new_pod_uid();
    let (status, body) = answer(legacy_request(&server, Some(&nonce))).await;
    assert_eq!(status, 200, "{body}");
    let (status, err) = answer(legacy_request(&server, Some(&nonce))).await;
    assert_eq!(
        (status, err["Code"].as_str()),
        (400, Some("SignatureNonceUsed")),
        "{err}"
    );
}

#[tokio::test]
async fn a_huge_nonce_is_refused() {
    let server = hardened_server(None).await;
    let huge = "n".repeat(4096);
    let signer = opendlc_api::signature::Signer {
        access_key_id: server.admin.id.clone(),
        access_key_secret: server.admin.secret.clone(),
        user_agent: "opendlc-tests".into(),
    };
    let date = opendlc_core::time::format_wire(opendlc_core::time::now_millis());
    let info = opendlc_api::signature::CallInfo {
        host: server.base.trim_start_matches("http://"),
        action: "ListJobs",
        version: "2020-12-03",
        date: &date,
        nonce: &huge,
    };
    let mut request = reqwest::Client::new().get(format!("{}/api/v1/jobs", server.base));
    for (name, value) in signer.headers(&info, "GET", "/api/v1/jobs", &[], None) {
        request = request.header(name, value);
    }
    let (status, err) = answer(request).await;
    assert_eq!(
        (status, err["Code"].as_str()),
        (400, Some("InvalidParameter")),
        "{err}"
    );
    assert_eq!(
        err["Message"],
        "Invalid parameter x-acs-signature-nonce: the nonce is 4096 bytes long; at most 128 are allowed."
    );
    // A normal request still passes.
    server.ok("GET", "/api/v1/jobs", None).await;
}

#[tokio::test]
async fn guessing_http_basic_credentials_is_locked_out() {
    use base64::Engine as _;
    let server = hardened_server(None).await;
    let job_id = server
        .create_job(pytorch_job("tb-source", &[("Worker", 1)], "true"))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    let created = server
        .ok(
            "POST",
            "/api/v1/tensorboards",
            Some(json!({"JobId": job_id})),
        )
        .await;
    let url = format!(
        "{}/tensorboard/{}/",
        server.base,
        created["TensorboardId"].as_str().unwrap()
    );
    let basic = |secret: &str| {
        let pair = format!("{}:{secret}", server.admin.id);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..30 {
        let response = client
            .get(&url)
            .header("authorization", basic(&format!("guess{i}")))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry > 60, "locked for {retry} s");
        }
    }
    let refused = statuses.iter().filter(|s| **s == 403).count();
    assert!((10..=11).contains(&refused), "{statuses:?}");
    assert!(statuses.ends_with(&[429; 19]), "{statuses:?}");
    // While locked out, even the right secret is not checked: a guess learns nothing.
    let right = client
        .get(&url)
        .header("authorization", basic(&server.admin.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 429);
}

#[tokio::test]
async fn a_client_leaving_a_followed_log_stream_leaves_no_task_behind() {
    let server = hardened_server(None).await;
    let job_id = server
        .create_job(pytorch_job("quiet", &[("Worker", 1)], "sleep 60"))
        .await;
    server.wait_status(&job_id, "Running").await;
    let response = server
        .signed(
            &server.admin.clone(),
            "GET",
            &format!("/api/v1/jobs/{job_id}/logs/stream?Follow=true"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.log_streams.active(), 1);
    drop(response);
    let start = Instant::now();
    while server.log_streams.active() != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the stream's task is still at work after its client left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop_job(&job_id).await;
}

#[tokio::test]
async fn numbers_out_of_range_and_arrays_for_objects_are_refused() {
    let server = hardened_server(None).await;
    let mut body = pytorch_job("overflow", &[("Worker", 1)], "true");
    body["JobMaxRunningTimeMinutes"] = json!(i64::MAX);
    let err = server
        .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
        .await;
    assert_eq!(
        err["Message"],
        "Invalid parameter JobMaxRunningTimeMinutes: must be at most 5256000 (ten years), got 9223372036854775807"
    );
    let mut body = pytorch_job("port", &[("Worker", 1)], "true");
    body["JobSpecs"][0]["ServiceSpec"] = json!({"DefaultPort": 70000});
    let err = server
        .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
        .await;
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid parameter JobSpecs[0].ServiceSpec.DefaultPort:"),
        "{err}"
    );
    let mut body = pytorch_job("settings", &[("Worker", 1)], "true");
    body["Settings"] = json!([]);
    let err = server
        .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
        .await;
    assert_eq!(
        err["Message"],
        "Invalid parameter Settings: invalid type: sequence, expected an object"
    );
    let (_, jobs) = server.call("GET", "/api/v1/jobs", None).await;
    assert_eq!(jobs["TotalCount"], 0, "{jobs}");
}

/// What the server sent before closing the connection, as text.
async fn closed_text(stream: &mut TcpStream, within: Duration) -> String {
    String::from_utf8_lossy(&common::until_closed(stream, within).await).into_owned()
}
