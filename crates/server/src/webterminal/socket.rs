//! The WebSocket of a web terminal. Client → server: `{"operation":"stdin","data":"…"}` and
//! `{"operation":"resize","cols":80,"rows":24}`; server → client:
//! `{"operation":"stdout","data":"…"}` (the terminal's output, UTF-8). The socket closes when
//! the shell exits; the shell is hung up when the socket closes.

use std::io::Read;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opendlc_core::time::now_millis;
use opendlc_runtime::PodSpec;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::access::{authorize_web_terminal_access, Denied};
use super::pty::{Enter, Shell};
use super::{target_id, WebTerminals};

pub fn router(wt: Arc<WebTerminals>) -> axum::Router {
    axum::Router::new()
        .route(
            "/webterminal/{job_id}/{pod_id}/{pod_uid}",
            axum::routing::get(open),
        )
        .with_state(wt)
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "operation", rename_all = "lowercase")]
enum ClientMessage {
    Stdin { data: String },
    Resize { cols: u16, rows: u16 },
}

async fn open(
    State(wt): State<Arc<WebTerminals>>,
    Path((job_id, pod_id, pod_uid)): Path<(String, String, String)>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    ws: WebSocketUpgrade,
) -> Response {
    let now = now_millis() / 1000;
    let target = target_id(&job_id, &pod_id, &pod_uid);
    let client = crate::net::client_ip(&extensions);
    if let Err(denied) =
        authorize_web_terminal_access(&wt, &target, &headers, client, query.token.as_deref(), now)
    {
        return match denied {
            Denied::Unauthenticated(m) => error(StatusCode::UNAUTHORIZED, "Forbidden", &m),
            Denied::Forbidden(m) => error(StatusCode::FORBIDDEN, "Forbidden", &m),
            Denied::Throttled(secs) => crate::proxy::throttled(secs),
        };
    }
    let spec_path = wt
        .jobs_dir
        .pod(&job_id, &pod_uid)
        .join(opendlc_runtime::SPEC_FILE);
    let mut spec: PodSpec = match std::fs::read(&spec_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        Some(spec) => spec,
        None => {
            return error(
                StatusCode::CONFLICT,
                "IncorrectStatus",
                &format!("Pod {pod_id} has not been started."),
            )
        }
    };
    // Addresses known only once the pods were placed (Slurm): as the pod's shim filled them in.
    opendlc_runtime::pod::peers::resolve(&mut spec, std::time::Duration::ZERO);
    // A pod that runs as its owner in a view of its own: so does its terminal. The view is in
    // its spec.json where its shim makes it, else in its mounts file for `run-mounted`.
    let pod_dir = wt.jobs_dir.pod(&job_id, &pod_uid);
    let (mounts, sandboxed) = match &spec.view {
        Some(view) => (spec_path, view.sandbox.is_some()),
        None => {
            let mounts = pod_dir.join(opendlc_runtime::pod::chain::MOUNTS_FILE);
            let sandboxed =
                opendlc_runtime::pod::mounts::read(&mounts).is_ok_and(|m| m.sandbox.is_some());
            (mounts, sandboxed)
        }
    };
    let enter = if sandboxed {
        Some(Enter::Sandbox {
            program: wt.program.clone(),
            mounts,
        })
    } else {
        // A pod its scheduler runs as its owner's account (Slurm) owns its directory.
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        let server = unsafe { libc::geteuid() };
        std::fs::metadata(&pod_dir)
            .ok()
            .filter(|m| m.uid() != server && server == 0)
            .map(|m| Enter::Account {
                uid: m.uid(),
                gid: m.gid(),
            })
    };
    tracing::info!(job.id = %job_id, pod.id = %pod_id, "web terminal opened");
    ws.on_upgrade(move |socket| session(socket, spec, enter))
}

async fn session(mut socket: WebSocket, spec: PodSpec, enter: Option<Enter>) {
    let mut shell = match Shell::spawn(&spec, enter.as_ref()) {
        Ok(shell) => shell,
        Err(e) => {
            let _ = socket
                .send(stdout(&format!(
                    "opendlc: the shell could not start: {e}\r\n"
                )))
                .await;
            return;
        }
    };
    let (tx, mut output) = mpsc::channel::<Vec<u8>>(64);
    match shell.reader() {
        Ok(mut reader) => {
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                // EIO once the shell (the last holder of the PTY's other side) has exited.
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 || tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
        }
        Err(e) => {
            tracing::warn!("web terminal: {e}");
            return;
        }
    }
    let mut pending: Vec<u8> = Vec::new();
    loop {
        tokio::select! {
            chunk = output.recv() => {
                let Some(chunk) = chunk else { break };
                pending.extend_from_slice(&chunk);
                let text = take_utf8(&mut pending);
                if !text.is_empty() && socket.send(stdout(&text)).await.is_err() {
                    break;
                }
            }
            message = socket.recv() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Binary(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(ClientMessage::Stdin { data }) => {
                        if shell.write(data.as_bytes()).is_err() {
                            break;
                        }
                    }
                    Ok(ClientMessage::Resize { cols, rows }) => {
                        let _ = shell.resize(cols, rows);
                    }
                    Err(e) => {
                        let note = format!("\r\nopendlc: ignored a message that is not stdin or resize: {e}\r\n");
                        if socket.send(stdout(&note)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
    drop(shell);
}

/// The longest valid UTF-8 prefix of `pending` (invalid bytes replaced), leaving an incomplete
/// trailing sequence for the next chunk.
fn take_utf8(pending: &mut Vec<u8>) -> String {
    match std::str::from_utf8(pending) {
        Ok(text) => {
            let text = text.to_string();
            pending.clear();
            text
        }
        Err(e) if e.error_len().is_none() => {
            let rest = pending.split_off(e.valid_up_to());
            let text = String::from_utf8_lossy(pending).into_owned();
            *pending = rest;
            text
        }
        Err(_) => {
            let text = String::from_utf8_lossy(pending).into_owned();
            pending.clear();
            text
        }
    }
}

fn stdout(data: &str) -> Message {
    Message::Text(
        serde_json::json!({"operation": "stdout", "data": data})
            .to_string()
            .into(),
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = opendlc_api::ErrorBody {
        request_id: uuid::Uuid::new_v4().to_string().to_uppercase(),
        host_id: String::new(),
        code: code.to_string(),
        message: message.to_string(),
        recommend: String::new(),
    };
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::take_utf8;

    #[test]
    fn a_character_split_across_reads_is_kept_whole() {
        let bytes = "é!".as_bytes();
        let mut pending = bytes[..1].to_vec();
        assert_eq!(take_utf8(&mut pending), "");
        pending.extend_from_slice(&bytes[1..]);
        assert_eq!(take_utf8(&mut pending), "é!");
        assert!(pending.is_empty());
    }
}
