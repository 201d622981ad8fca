//! The TensorBoards' background task. Before the server answers, [`recover`] re-adopts the
//! processes an earlier server left running (they run in sessions of their own) and restarts
//! those that died meanwhile, so that no answer reports a dead one as Running; then, twice a
//! second: Creating → Running once tensorboard answers; Failed (or Succeeded) when
//! the process exits; Stopped once MaxRunningTimeMinutes is spent.

use std::sync::Arc;
use std::time::Duration;

use opendlc_core::tensorboard::{Tensorboard, TensorboardStatus};
use opendlc_core::time::now_millis;
use opendlc_store::TensorboardUpdate;
use tokio::sync::watch;

use super::{process, Tensorboards};

const TICK: Duration = Duration::from_millis(500);
/// How long tensorboard may take to answer before the TensorBoard is Failed.
const START_TIMEOUT_MS: i64 = 120_000;
pub const EXCEEDED: &str = "TensorboardExceededMaxRunningTime";

pub fn spawn(
    tbs: Arc<Tensorboards>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            if let Err(e) = tick(&tbs).await {
                tracing::warn!("failed to check the TensorBoards: {e}");
            }
        }
    })
}

/// Re-adopts the TensorBoards an earlier server left running, and restarts those that died
/// meanwhile.
pub async fn recover(tbs: &Tensorboards) {
    let _guard = tbs.lock.lock().await;
    let active = match tbs.store.active_tensorboards() {
        Ok(active) => active,
        Err(e) => {
            tracing::error!("failed to read the TensorBoards to recover: {e}");
            return;
        }
    };
    for tb in active {
        let alive = tb
            .pid
            .is_some_and(|pid| process::is_ours(pid, &tb.tensorboard_id));
        if alive {
            tracing::info!(tensorboard.id = %tb.tensorboard_id, "tensorboard re-adopted");
            continue;
        }
        tracing::info!(tensorboard.id = %tb.tensorboard_id, "tensorboard died while the server was down; restarting it");
        if let Err(e) = tbs.launch(&tb) {
            tracing::error!(tensorboard.id = %tb.tensorboard_id, "failed to restart: {e}");
        }
    }
}

async fn tick(tbs: &Tensorboards) -> Result<(), opendlc_store::StoreError> {
    let _guard = tbs.lock.lock().await;
    for tb in tbs.store.active_tensorboards()? {
        check(tbs, &tb).await?;
    }
    Ok(())
}

async fn check(tbs: &Tensorboards, tb: &Tensorboard) -> Result<(), opendlc_store::StoreError> {
    let now = now_millis();
    let started = tb.started.unwrap_or(tb.created);
    if let Some(code) = tbs.exited(tb) {
        let (status, reason_code, message) = match code {
            Some(0) => (
                TensorboardStatus::Succeeded,
                "TensorboardSucceeded",
                "tensorboard exited with code 0.".to_string(),
            ),
            other => {
                let how = match other {
                    Some(c) => format!("exited with code {c}"),
                    None => "ended".to_string(),
                };
                let tail = process::log_tail(tbs, &tb.tensorboard_id, 5);
                (
                    TensorboardStatus::Failed,
                    "TensorboardFailed",
                    format!("tensorboard {how}. Its last output:\n{tail}"),
                )
            }
        };
        tracing::info!(tensorboard.id = %tb.tensorboard_id, status = %status, "tensorboard ended");
        super::limits::release(&tbs.dir, &tb.tensorboard_id);
        tbs.store.update_tensorboard_status(
            &tb.tensorboard_id,
            &TensorboardUpdate {
                status,
                reason_code: Some(reason_code.into()),
                reason_message: Some(message),
                port: None,
                pid: None,
                started: None,
                finished: Some(now),
                at: now,
            },
        )?;
        return Ok(());
    }
    if let Some(max) = tb.max_running_minutes.filter(|m| *m > 0) {
        if now - started >= max * tbs.minute_ms {
            tbs.terminate(
                tb,
                TensorboardStatus::Stopped,
                EXCEEDED,
                format!("The TensorBoard ran longer than its MaxRunningTimeMinutes ({max})."),
            )?;
            return Ok(());
        }
    }
    if tb.status == TensorboardStatus::Creating {
        let Some(port) = tb.port else {
            return Ok(());
        };
        if process::answers(tbs, &tb.tensorboard_id, port).await {
            tbs.store.update_tensorboard_status(
                &tb.tensorboard_id,
                &TensorboardUpdate {
                    status: TensorboardStatus::Running,
                    reason_code: Some("TensorboardRunning".into()),
                    reason_message: Some("tensorboard is serving.".into()),
                    port: tb.port,
                    pid: tb.pid,
                    started: None,
                    finished: None,
                    at: now,
                },
            )?;
        } else if now - started > START_TIMEOUT_MS {
            tbs.terminate(
                tb,
                TensorboardStatus::Failed,
                "TensorboardFailed",
                format!(
                    "tensorboard did not answer within {} s. Its last output:\n{}",
                    START_TIMEOUT_MS / 1000,
                    process::log_tail(tbs, &tb.tensorboard_id, 5)
                ),
            )?;
        }
    }
    Ok(())
}
