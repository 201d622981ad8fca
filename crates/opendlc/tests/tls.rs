//! HTTPS (`--tls-cert`, `--tls-key`): the API, the CLI and the web terminal over TLS with a
//! certificate made at test time, the links the server hands out, and clients that do not
//! speak TLS or never finish their handshake (docs/SECURITY.md, "TLS").

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{pytorch_job, TestServer};
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files.
struct Certificate {
    dir: tempfile::TempDir,
    pem: String,
}

impl Certificate {
    fn new() -> Certificate {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("a self-signed certificate");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), signing_key.serialize_pem()).unwrap();
        Certificate {
            dir,
            pem: cert.pem(),
        }
    }

    fn files(&self) -> opendlc_server::TlsFiles {
        opendlc_server::TlsFiles {
            cert: self.cert_path(),
            key: self.dir.path().join("key.pem"),
        }
    }

    fn cert_path(&self) -> std::path::PathBuf {
        self.dir.path().join("cert.pem")
    }
}

async fn tls_server(cert: &Certificate) -> TestServer {
    TestServer::start_tls(
        tempfile::tempdir().unwrap(),
        cert.files(),
        cert.pem.as_bytes(),
        |c| {
            c.net.header_timeout = HEADER_TIMEOUT;
            c.tensorboard_program = "/nonexistent/bin/tensorboard".into();
        },
    )
    .await
}

#[tokio::test]
async fn the_api_answers_signed_calls_over_https_and_hands_out_https_links() {
    let cert = Certificate::new();
    let server = tls_server(&cert).await;
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );

    let job_id = server
        .create_job(pytorch_job("tls", &[("Worker", 1)], "true"))
        .await;
    let job = server.get_job(&job_id).await;
    assert_eq!(job["JobId"], job_id.as_str());
    server
        .error(
            "GET",
            "/api/v1/jobs/dlcnosuch",
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;

    let dashboard = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/dashboard"), None)
        .await;
    let url = dashboard["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/#/jobs/", server.base)),
        "{url}"
    );

    let created = server
        .ok(
            "POST",
            "/api/v1/tensorboards",
            Some(json!({"JobId": job_id})),
        )
        .await;
    let id = created["TensorboardId"].as_str().unwrap();
    let tb = server
        .ok("GET", &format!("/api/v1/tensorboards/{id}"), None)
        .await;
    let url = tb["TensorboardUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/tensorboard/", server.base)),
        "{url}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_trusts_a_ca_file_and_says_why_it_cannot_connect_without_one() {
    let cert = Certificate::new();
    let server = tls_server(&cert).await;
    let ca = cert.cert_path();
    let run = server.cli_with(&["jobs"], |c| {
        c.env("OPENDLC_CA_FILE", &ca);
    });
    assert_eq!(run.code, 0, "{}", run.stderr);

    let run = server.cli(&["jobs"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("--ca-file") && run.stderr.contains(&server.base),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn plain_http_to_the_https_port_is_told_to_use_https() {
    let cert = Certificate::new();
    let server = tls_server(&cert).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = common::until_closed(&mut stream, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("https://"), "{answer}");
    // The server still answers over HTTPS.
    server
        .error(
            "GET",
            "/api/v1/jobs/dlcnosuch",
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_dropped() {
    let cert = Certificate::new();
    let server = tls_server(&cert).await;
    let start = Instant::now();
    // One client sends nothing; another the start of a ClientHello and then nothing.
    let mut silent = TcpStream::connect(server.addr()).await.unwrap();
    let mut partial = TcpStream::connect(server.addr()).await.unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let within = HEADER_TIMEOUT + Duration::from_secs(3);
    common::until_closed(&mut silent, within).await;
    common::until_closed(&mut partial, within).await;
    assert!(
        start.elapsed() >= HEADER_TIMEOUT - Duration::from_millis(100),
        "closed after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn the_web_terminal_is_a_wss_url_that_works() {
    let cert = Certificate::new();
    let server = tls_server(&cert).await;
    let job_id = server
        .create_job(pytorch_job("term", &[("Worker", 1)], "sleep 60"))
        .await;
    server.wait_status(&job_id, "Running").await;
    let pod_id = format!("{job_id}-worker-0");
    let body = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod_id}/webterminal?IsShared=True"),
            None,
        )
        .await;
    let url = body["WebTerminalUrl"].as_str().unwrap();
    let wss = server.base.replacen("https://", "wss://", 1);
    assert!(url.starts_with(&format!("{wss}/webterminal/")), "{url}");

    // The shared link opens a shell over TLS.
    let mut roots = rustls::RootCertStore::empty();
    for der in rustls::pki_types::pem::PemObject::pem_slice_iter(cert.pem.as_bytes()) {
        roots.add(der.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let request = url.into_client_request().unwrap();
    let (mut socket, _) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("the WebSocket opens over TLS");
    let first = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("the terminal speaks");
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    server.stop_job(&job_id).await;
}

#[tokio::test]
async fn a_bad_certificate_or_key_stops_the_start_naming_the_file() {
    let cert = Certificate::new();
    let data = tempfile::tempdir().unwrap();
    let start = |tls: opendlc_server::TlsFiles| {
        let mut config = opendlc_server::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            data.path().to_path_buf(),
            common::shim_program(),
        );
        config.tls = Some(tls);
        opendlc_server::Server::bind(config)
    };
    let missing = cert.dir.path().join("missing.pem");
    let e = start(opendlc_server::TlsFiles {
        cert: missing.clone(),
        key: cert.files().key,
    })
    .await
    .err()
    .expect("a missing certificate fails");
    let text = format!("{e:#}");
    assert!(
        text.contains("certificate") && text.contains(&missing.display().to_string()),
        "{text}"
    );

    let garbage = cert.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let e = start(opendlc_server::TlsFiles {
        cert: cert.cert_path(),
        key: garbage.clone(),
    })
    .await
    .err()
    .expect("a key that is not one fails");
    let text = format!("{e:#}");
    assert!(
        text.contains("private key") && text.contains(&garbage.display().to_string()),
        "{text}"
    );
}
