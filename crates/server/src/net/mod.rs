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
//! Every request carries its peer's address (`ConnectInfo<SocketAddr>`), which the HTTP Basic
//! guard counts failures against.

mod deadline;
mod limits;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

pub use deadline::is_timeout;
pub use limits::{open_files_limit, ConnectionLimits, Connections};

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

/// Serves `app` on `listener` until `shutdown` turns true; then stops accepting, asks every
/// connection to finish its request in flight, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
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
        tasks.spawn(async move {
            let _slot = slot;
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped(&mut shutdown) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
