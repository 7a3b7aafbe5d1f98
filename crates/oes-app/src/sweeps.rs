//! The background sweeps, beside the jobs: loops that re-derive queued work from the database,
//! so nothing is lost with Redis, a worker or a process.
//!
//! - the outbox relay queues emails that never reached the queue;
//! - the attempt sweep auto-submits overdue attempts and scores unscored ones;
//! - the notification resume re-adds lost fan-out jobs.
//!
//! Each pass is a service call; a loop here only paces it and logs what it did.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::db::now_ms;
use crate::email::Emails;
use crate::service::{attempts, notifications};
use crate::state::AppState;

/// How often the notification resume looks for fan-outs whose job was lost.
const RESUME_EVERY: Duration = Duration::from_secs(30);

/// Starts every sweep; abort the handles to stop them.
pub fn spawn_all(state: &AppState) -> Vec<JoinHandle<()>> {
    vec![
        outbox_relay(state.emails.clone()),
        attempt_sweep(state.clone()),
        notification_resume(state.clone()),
    ]
}

/// Runs the relay until the task is aborted. With the queue in this process the first pass
/// re-adds every unsent row (the previous process's queue is gone).
fn outbox_relay(emails: Emails) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let policy = emails.policy();
            let requeue_ms = i64::try_from(policy.requeue_after.as_millis()).unwrap_or(i64::MAX);
            let queued_before = if first && emails.queue_is_in_process() {
                now_ms() + 1
            } else {
                now_ms().saturating_sub(requeue_ms)
            };
            match emails.relay_once(queued_before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "outbox relay enqueued emails"),
                Err(e) => tracing::warn!("outbox relay: {e}"),
            }
            first = false;
            tokio::time::sleep(emails.policy().relay_every).await;
        }
    })
}

/// Auto-submits overdue attempts and scores unscored ones every [`attempts::SWEEP_EVERY`].
fn attempt_sweep(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match attempts::sweep_once(&state.db, &state.cache, &state.jobs).await {
                Ok((0, 0)) => {}
                Ok((submitted, scored)) => {
                    tracing::info!(submitted, scored, "attempt sweep caught up")
                }
                Err(e) => tracing::warn!("attempt sweep: {e}"),
            }
            tokio::time::sleep(attempts::SWEEP_EVERY).await;
        }
    })
}

/// Re-adds the fan-out job of unfinished notifications at start-up and every [`RESUME_EVERY`].
fn notification_resume(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match notifications::resume_unfinished(&state.db, &state.jobs).await {
                Ok(_) => {}
                // Shutdown closes the pool under a pass that is still running.
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => tracing::warn!("notification resume: {e}"),
            }
            tokio::time::sleep(RESUME_EVERY).await;
        }
    })
}
