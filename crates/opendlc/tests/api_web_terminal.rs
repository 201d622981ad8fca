//! GetWebTerminal: a shell on a PTY in a running pod's environment, over a WebSocket that
//! speaks `{"operation":"stdin"|"resize"|"stdout",…}`.

mod common;

use std::time::{Duration, Instant};

use common::{pytorch_job, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn terminal_url(server: &TestServer, job_id: &str, pod_id: &str, shared: bool) -> String {
    let body = server
        .ok(
            "GET",
            &format!(
                "/api/v1/jobs/{job_id}/pods/{pod_id}/webterminal?IsShared={}",
                if shared { "True" } else { "False" }
            ),
            None,
        )
        .await;
    body["WebTerminalUrl"].as_str().unwrap().to_string()
}

async fn connect(url: &str, credentials: Option<&(String, String)>) -> Result<Socket, u16> {
    let mut request = url.into_client_request().unwrap();
    if let Some((id, secret)) = credentials {
        let basic = format!("Basic {}", base64_encode(&format!("{id}:{secret}")));
        request
            .headers_mut()
            .insert("authorization", basic.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("connect {url}: {e}"),
    }
}

fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sends a line to the shell and reads stdout until `expect` appears.
async fn run(socket: &mut Socket, line: &str, expect: &str) -> String {
    let stdin = json!({"operation": "stdin", "data": format!("{line}\n")});
    socket.send(Message::text(stdin.to_string())).await.unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !seen.contains(expect) {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {expect:?} in the terminal's output: {seen:?}"))
            .expect("socket open")
            .expect("a message");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["operation"], "stdout", "{value}");
            seen.push_str(value["data"].as_str().unwrap());
        }
    }
    seen
}

#[tokio::test]
async fn a_shell_in_the_pods_environment() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job(
            "term",
            &[("Master", 1), ("Worker", 1)],
            "sleep 60",
        ))
        .await;
    server.wait_status(&job_id, "Running").await;
    let pod_id = format!("{job_id}-worker-0");

    let url = terminal_url(&server, &job_id, &pod_id, false).await;
    assert!(
        url.starts_with("ws://") && url.contains(&format!("/webterminal/{job_id}/{pod_id}/")),
        "{url}"
    );
    // Not shared: the server's credentials are needed.
    assert_eq!(connect(&url, None).await.err(), Some(401));
    let wrong = ("nobody".to_string(), "nothing".to_string());
    assert_eq!(connect(&url, Some(&wrong)).await.err(), Some(403));
    let mut socket = connect(
        &url,
        Some(&(server.admin.id.clone(), server.admin.secret.clone())),
    )
    .await
    .expect("opens");
    let resize = json!({"operation": "resize", "cols": 100, "rows": 30});
    socket
        .send(Message::text(resize.to_string()))
        .await
        .unwrap();
    let out = run(&mut socket, "echo rank=$RANK; stty size; pwd", "rank=1").await;
    let out = out + &run(&mut socket, "echo done-$WORLD_SIZE", "done-2").await;
    assert!(
        out.contains("30 100"),
        "resize reached the terminal: {out:?}"
    );
    assert!(
        out.contains(&format!("jobs/{job_id}/work")),
        "the job's working dir: {out:?}"
    );
    // Exiting the shell closes the socket.
    socket
        .send(Message::text(
            json!({"operation": "stdin", "data": "exit\n"}).to_string(),
        ))
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket closes when the shell exits");

    // Shared: no credentials, but only once.
    let shared = terminal_url(&server, &job_id, &pod_id, true).await;
    let mut socket = connect(&shared, None)
        .await
        .expect("a shared URL opens without credentials");
    run(&mut socket, "echo shared-$RANK", "shared-1").await;
    assert_eq!(
        connect(&shared, None).await.err(),
        Some(403),
        "a shared URL opens once"
    );
    // A URL for one pod does not open another.
    let master = terminal_url(&server, &job_id, &format!("{job_id}-master-0"), true).await;
    let token = master.split("?token=").nth(1).unwrap();
    let forged = format!("{}?token={token}", url.split("?token=").next().unwrap());
    assert_eq!(connect(&forged, None).await.err(), Some(403));

    // Errors of GetWebTerminal.
    server
        .error(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{job_id}-worker-9/webterminal"),
            None,
            404,
            "EntityNotFound.Pod",
        )
        .await;
    server
        .error(
            "GET",
            "/api/v1/jobs/dlcnosuchjob0000/pods/x/webterminal",
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;
    server.stop_job(&job_id).await;
    server.wait_status(&job_id, "Stopped").await;
    server
        .error(
            "GET",
            &format!("/api/v1/jobs/{job_id}/pods/{pod_id}/webterminal"),
            None,
            400,
            "IncorrectStatus",
        )
        .await;
}

/// JobReservedMinutes: a failed job whose policy keeps failures is FailedReserving, its pods'
/// terminals still open, until the reservation ends and it becomes Failed; a success the policy
/// does not keep finishes at once; StopJob ends a reservation early.
#[tokio::test]
async fn a_kept_job_keeps_its_pods_terminals_until_its_reservation_ends() {
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.minute = Duration::from_millis(1500);
    })
    .await;
    let kept = |name: &str, command: &str, minutes: i64| {
        let mut job = pytorch_job(name, &[("Worker", 1)], command);
        job["Settings"] = json!({"JobReservedMinutes": minutes, "JobReservedPolicy": "OnFailure"});
        job
    };
    let job_id = server
        .create_job(kept("kept", "echo out > result.txt; exit 3", 2))
        .await;
    let job = server.wait_status(&job_id, "FailedReserving").await;
    assert_eq!(job["ReasonCode"], "JobFailed", "{job}");
    let pod_id = format!("{job_id}-worker-0");
    let url = terminal_url(&server, &job_id, &pod_id, false).await;
    let admin = (server.admin.id.clone(), server.admin.secret.clone());
    let mut socket = connect(&url, Some(&admin)).await.expect("opens");
    run(&mut socket, "cat result.txt; echo rank=$RANK", "rank=0").await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(15), |j| {
            j["Status"] != "FailedReserving"
        })
        .await;
    assert_eq!(job["Status"], "Failed", "{job}");
    let history: Vec<&str> = job["StatusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Status"].as_str().unwrap())
        .collect();
    assert_eq!(history[history.len() - 2..], ["FailedReserving", "Failed"]);
    let events = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/events"), None)
        .await;
    assert!(
        events.to_string().contains("kept for 2 minute(s)"),
        "{events}"
    );

    // A success is not kept by OnFailure.
    let job_id = server.create_job(kept("ok", "true", 2)).await;
    server.wait_status(&job_id, "Succeeded").await;

    // StopJob ends a reservation at once; the job keeps its outcome.
    let job_id = server.create_job(kept("stop", "exit 1", 600)).await;
    server.wait_status(&job_id, "FailedReserving").await;
    server
        .ok("POST", &format!("/api/v1/jobs/{job_id}/stop"), None)
        .await;
    let job = server.get_job(&job_id).await;
    assert_eq!(job["Status"], "Failed", "{job}");

    let mut bad = kept("bad", "true", 1);
    bad["Settings"]["JobReservedPolicy"] = "Sometimes".into();
    let err = server
        .error("POST", "/api/v1/jobs", Some(bad), 400, "InvalidParameter")
        .await;
    assert!(
        err["Message"]
            .as_str()
            .unwrap()
            .contains("JobReservedPolicy"),
        "{err}"
    );
}

/// A reservation outlives the server: after a restart the job is still kept, its terminal still
/// opens, and it still ends on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_survives_a_server_restart() {
    let configure = |c: &mut opendlc_server::Config| c.minute = Duration::from_millis(3000);
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), configure).await;
    let mut job = pytorch_job("kept", &[("Worker", 1)], "echo out > result.txt");
    job["Settings"] = json!({"JobReservedMinutes": 1, "JobReservedPolicy": "Always"});
    let job_id = server.create_job(job).await;
    server.wait_status(&job_id, "SucceededReserving").await;

    let data_dir = server.stop().await;
    let server = TestServer::start_with(data_dir, configure).await;
    let job = server.get_job(&job_id).await;
    assert_eq!(job["Status"], "SucceededReserving", "{job}");
    let pod_id = format!("{job_id}-worker-0");
    let url = terminal_url(&server, &job_id, &pod_id, false).await;
    let admin = (server.admin.id.clone(), server.admin.secret.clone());
    let mut socket = connect(&url, Some(&admin)).await.expect("opens");
    run(&mut socket, "cat result.txt", "out").await;
    let job = server
        .wait_job(&job_id, Duration::from_secs(15), |j| {
            j["Status"] != "SucceededReserving"
        })
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}");
}
