//! Accepting connections and holding up against clients that misbehave on purpose.
//!
//! - A connection must send a request's headers within [`NetConfig::header_timeout`] of
//!   opening (or of its previous response), or it is closed: a slowloris holds nothing long.
//! - A request's body must arrive within [`NetConfig::body_timeout`] of its headers; the API
//!   answers `RequestTimeout` (408) and the connection is closed.
//! - At most [`ConnectionLimits::total`] connections are held at once, and
//!   [`ConnectionLimits::per_address`] from one client address (see `limits.rs`); one over
//!   either bound is closed on accept. A connection upgraded to a WebSocket (a web terminal,
//!   which needs a fresh token and credentials) leaves the count once upgraded.
//!
//! - With TLS (`tls.rs`), a connection must also finish its handshake within the header
//!   timeout; the same limits apply to it as to a plain one.
//!
//! Every request carries its peer's address (`ConnectInfo<SocketAddr>`), which the HTTP Basic
//! guard counts failures against.

mod deadline;
mod limits;
mod tls;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub use deadline::is_timeout;
pub use limits::{open_files_limit, ConnectionLimits, Connections};
pub use tls::{acceptor as tls_acceptor, TlsError, TlsFiles};

/// The network's bounds.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, from its headers.
    pub body_timeout: Duration,
    /// Compute the connection limits as if the open-files limit were this; `None`: this
    /// process's own (`RLIMIT_NOFILE`).
    pub open_files: Option<u64>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            open_files: None,
        }
    }
}

impl NetConfig {
    pub fn limits(&self) -> ConnectionLimits {
        match self.open_files {
            Some(n) => ConnectionLimits::for_open_files(n),
            None => ConnectionLimits::detect(),
        }
    }
}

/// The client address of a request, as the accept loop recorded it.
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` turns true; then stops
/// accepting, asks every connection to finish its request in flight, and returns once all are
/// closed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
    config: NetConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let limits = config.limits();
    tracing::info!(
        connections = limits.total,
        per_address = limits.per_address,
        "accepting connections"
    );
    let connections = Connections::new(limits);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of files (or another transient failure): let connections close.
                    tracing::warn!("failed to accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        while tasks.try_join_next().is_some() {}
        let Some(slot) = connections.admit(peer.ip()) else {
            tracing::debug!(client = %peer.ip(), "connection refused: too many");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let body_timeout = config.body_timeout;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let request = request.map(|body| deadline::body(body, body_timeout));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(request).await.unwrap_or_else(|e| match e {})) }
        });
        let mut shutdown = shutdown.clone();
        let header_timeout = config.header_timeout;
        let tls = tls.clone();
        tasks.spawn(async move {
            let _slot = slot;
            let Some(acceptor) = tls else {
                return serve_connection(stream, service, header_timeout, &mut shutdown).await;
            };
            // The handshake counts as part of the first request's headers: a client that never
            // finishes it is dropped when they would be.
            let handshake = tokio::select! {
                done = tokio::time::timeout(header_timeout, handshake(stream, &acceptor)) => done,
                _ = stopped(&mut shutdown) => return,
            };
            match handshake {
                Ok(Some(stream)) => {
                    serve_connection(stream, service, header_timeout, &mut shutdown).await
                }
                Ok(None) => {}
                Err(_) => tracing::debug!(client = %peer.ip(), "TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// One HTTP/1.1 connection over `io`, until it closes or the server shuts down.
async fn serve_connection<I, S>(
    io: I,
    service: S,
    header_timeout: Duration,
    shutdown: &mut watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopped(shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// The TLS side of `stream`, once its handshake is done; `None` when it failed, or when the
/// client spoke plain HTTP (and was told to use HTTPS).
async fn handshake(
    stream: TcpStream,
    acceptor: &TlsAcceptor,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await.ok()? == 0 {
        return None;
    }
    if tls::looks_like_plain_http(first[0]) {
        tls::refuse_plain_http(stream).await;
        return None;
    }
    match acceptor.accept(stream).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::debug!("TLS handshake failed: {e}");
            None
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
