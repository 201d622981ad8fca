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
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

/// A response, read in full.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
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
        })
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::GET, path, Bytes::new()).await
    }

    /// POST a body already serialised as JSON (serialise once, send many times).
    pub async fn post(&mut self, path: &str, body: Bytes) -> anyhow::Result<Reply> {
        self.send(Method::POST, path, body).await
    }

    async fn send(&mut self, method: Method, path: &str, body: Bytes) -> anyhow::Result<Reply> {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(HOST, &self.authority)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
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
