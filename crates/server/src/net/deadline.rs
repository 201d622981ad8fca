//! A request body that must arrive by a deadline: past it, reading the body fails with an
//! I/O error of kind `TimedOut` (which [`is_timeout`] recognizes), the handler answers, and
//! the connection, its body unread, is closed.

use std::time::Duration;

use axum::body::Body;
use futures_util::StreamExt;
use hyper::body::Incoming;

pub fn body(incoming: Incoming, timeout: Duration) -> Body {
    let deadline = tokio::time::Instant::now() + timeout;
    let data = Body::new(incoming).into_data_stream();
    let stream = futures_util::stream::unfold(Some(data), move |data| async move {
        let mut data = data?;
        match tokio::time::timeout_at(deadline, data.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(data))),
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(e)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )),
                None,
            )),
        }
    });
    Body::from_stream(stream)
}

/// Whether `e`, or an error it wraps, is a body that did not arrive in time.
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        current = e.source();
    }
    false
}
