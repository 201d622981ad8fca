//! One kept-alive HTTP/1.1 connection to the server.
//!
//! Each task owns its own connection: no pool and no locks, so a request costs one write and
//! one read. The load generator shares the machine's cores with the server it measures; the
//! less it spends per request, the more the figures say about the server.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use opendlc_api::signature::{CallInfo, Signer};
use tokio::net::TcpStream;

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    signer: Signer,
}

/// The key the benchmark's server is started with (`OPENDLC_ACCESS_KEY_ID/SECRET`).
pub const KEY_ID: &str = "bench";
pub const KEY_SECRET: &str = "bench";

/// A response, read in full.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        Self::open_as(addr, KEY_ID, KEY_SECRET).await
    }

    /// [`Conn::open`], signing with another access key.
    pub async fn open_as(addr: SocketAddr, key_id: &str, secret: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("failed to connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection's I/O runs in its own task; it ends when `sender` is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            authority: addr.to_string(),
            signer: Signer {
                access_key_id: key_id.into(),
                access_key_secret: secret.into(),
                user_agent: "opendlc-bench".into(),
            },
        })
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::GET, path, Bytes::new()).await
    }

    pub async fn delete(&mut self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::DELETE, path, Bytes::new()).await
    }

    /// POST a body already serialised as JSON (serialise once, send many times).
    pub async fn post(&mut self, path: &str, body: Bytes) -> anyhow::Result<Reply> {
        self.send(Method::POST, path, body).await
    }

    /// Sends a request signed as the SDK signs it: every request the server sees in real use
    /// is, so the cost of checking signatures belongs in the figures.
    async fn send(&mut self, method: Method, path: &str, body: Bytes) -> anyhow::Result<Reply> {
        let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
        let query: Vec<(String, String)> = url_pairs(raw_query);
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let info = CallInfo {
            host: &self.authority,
            action: "Bench",
            version: opendlc_api::signature::API_VERSION,
            date: &date,
            nonce: &nonce,
        };
        let body_ref = (method == Method::POST).then_some(&body[..]);
        let headers = self
            .signer
            .headers(&info, method.as_str(), raw_path, &query, body_ref);
        let mut request = Request::builder().method(method.clone()).uri(path);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let request = request.body(Full::new(body))?;
        self.sender
            .ready()
            .await
            .context("the connection to the server closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .with_context(|| format!("{method} {path} failed"))?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }
}

impl Reply {
    /// The body as JSON if the status is a success; otherwise an error with the server's
    /// `Code` and `Message`.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "the server answered {} with a body that is not JSON",
                self.status
            )
        })?;
        if !self.status.is_success() {
            anyhow::bail!(
                "the server answered {}: {} {}",
                self.status,
                value["Code"].as_str().unwrap_or("?"),
                value["Message"].as_str().unwrap_or("")
            );
        }
        Ok(value)
    }
}

/// `a=1&b=x%20y` decoded into pairs (the signature covers decoded values).
fn url_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}
