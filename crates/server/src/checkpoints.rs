//! The database's write-ahead log copied into it beside the writers, a few times a second
//! ([`Store::checkpoint`]): under load the log grows by thousands of pages a second, and a
//! commit that copied them itself held CreateJob and the engine up for its two fsyncs.

use std::sync::Arc;
use std::time::Duration;

use opendlc_store::Store;
use tokio::sync::watch;

/// How often the log is copied (when it holds anything: an idle server's call does nothing).
const EVERY: Duration = Duration::from_millis(250);

/// The checkpointing task, until `shutdown`.
pub fn spawn(
    store: Arc<Store>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let store = store.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.checkpoint()).await {
                tracing::warn!("failed to copy the database's log into it: {e}");
            }
        }
    })
}
