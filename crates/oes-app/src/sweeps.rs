//! The background sweeps, beside the jobs: loops that re-derive queued work from the database,
//! so nothing is lost with Redis, a worker or a process.
//!
//! - the outbox relay gives up emails whose code or link expired unsent, then queues the emails
//!   that never reached the queue;
//! - the attempt sweep auto-submits overdue attempts and scores unscored ones;
//! - the notification resume re-adds lost fan-out jobs;
//! - the paper warm-up keeps the papers of exams open or about to open in memory.
//!
//! Each pass is a service call; a loop here only paces it and logs what it did. Every loop runs
//! under [`supervise`]: a pass that panics is logged and the next one runs on time, so one bad
//! row cannot stop a sweep for the life of the process.

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use tokio::task::{AbortHandle, JoinHandle};

use crate::db::now_ms;
use crate::email::Emails;
use crate::service::{attempts, exams, notifications};
use crate::state::AppState;

/// How often the notification resume looks for fan-outs whose job was lost.
const RESUME_EVERY: Duration = Duration::from_secs(30);
/// How often the paper warm-up runs: well inside the L1 bound (30 s) and `exams::WARM_AHEAD`.
const WARM_EVERY: Duration = Duration::from_secs(10);

/// What a pass asks of its loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Run the next pass after this pause.
    After(Duration),
    /// The loop is done (shutdown closed what it works on).
    Stop,
}

/// Aborts the pass in flight when the loop itself is aborted, as the loop did when passes ran
/// inline.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `pass` until it answers [`Next::Stop`] (or the task is aborted). Each pass runs in its
/// own task, so a panic ends that pass only: it is logged and the next pass starts after
/// `after_panic`.
pub async fn supervise<F, Fut>(name: &'static str, after_panic: Duration, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Next> + Send + 'static,
{
    loop {
        let mut task = tokio::spawn(pass());
        let _abort = AbortOnDrop(task.abort_handle());
        let next = match (&mut task).await {
            Ok(next) => next,
            Err(e) if e.is_panic() => {
                tracing::error!(
                    sweep = name,
                    "a pass panicked ({}); the next pass runs as usual",
                    panic_text(e.into_panic().as_ref())
                );
                Next::After(after_panic)
            }
            // Cancelled: the runtime is shutting down.
            Err(_) => return,
        };
        match next {
            Next::After(pause) => tokio::time::sleep(pause).await,
            Next::Stop => return,
        }
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// Starts every sweep; abort the handles to stop them.
pub fn spawn_all(state: &AppState) -> Vec<JoinHandle<()>> {
    vec![
        outbox_relay(state.emails.clone()),
        attempt_sweep(state.clone()),
        notification_resume(state.clone()),
        paper_warmup(state.clone()),
    ]
}

/// Loads the papers of exams open or about to open every [`WARM_EVERY`] (see
/// [`exams::warm_papers`]).
fn paper_warmup(state: AppState) -> JoinHandle<()> {
    tokio::spawn(supervise("paper warm-up", WARM_EVERY, move || {
        let state = state.clone();
        async move {
            if let Err(e) = exams::warm_papers(&state).await {
                tracing::warn!("paper warm-up: {e}");
            }
            Next::After(WARM_EVERY)
        }
    }))
}

/// Runs the relay until the task is aborted. With the queue in this process the first pass
/// re-adds every unsent row (the previous process's queue is gone). Each pass first clears the
/// secrets that outlived their use (see [`Emails::expire_secrets`]).
fn outbox_relay(emails: Emails) -> JoinHandle<()> {
    let after_panic = emails.policy().relay_every;
    let mut first = true;
    tokio::spawn(supervise("outbox relay", after_panic, move || {
        let emails = emails.clone();
        let first_pass = std::mem::replace(&mut first, false);
        async move {
            let policy = emails.policy();
            let requeue_ms = i64::try_from(policy.requeue_after.as_millis()).unwrap_or(i64::MAX);
            let queued_before = if first_pass && emails.queue_is_in_process() {
                now_ms() + 1
            } else {
                now_ms().saturating_sub(requeue_ms)
            };
            // First, so that no expired code is relayed; the worker refuses one too.
            match emails.expire_secrets().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    count = n,
                    "outbox relay discarded unsent emails whose code or link expired"
                ),
                Err(e) => tracing::warn!("outbox expiry: {e}"),
            }
            match emails.relay_once(queued_before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "outbox relay enqueued emails"),
                Err(e) => tracing::warn!("outbox relay: {e}"),
            }
            Next::After(emails.policy().relay_every)
        }
    }))
}

/// Auto-submits overdue attempts and scores unscored ones every [`attempts::SWEEP_EVERY`].
fn attempt_sweep(state: AppState) -> JoinHandle<()> {
    tokio::spawn(supervise(
        "attempt sweep",
        attempts::SWEEP_EVERY,
        move || {
            let state = state.clone();
            async move {
                match attempts::sweep_once(&state.db, &state.cache, &state.jobs).await {
                    Ok((0, 0)) => {}
                    Ok((submitted, scored)) => {
                        tracing::info!(submitted, scored, "attempt sweep caught up")
                    }
                    Err(e) => tracing::warn!("attempt sweep: {e}"),
                }
                Next::After(attempts::SWEEP_EVERY)
            }
        },
    ))
}

/// Re-adds the fan-out job of unfinished notifications at start-up and every [`RESUME_EVERY`].
fn notification_resume(state: AppState) -> JoinHandle<()> {
    tokio::spawn(supervise("notification resume", RESUME_EVERY, move || {
        let state = state.clone();
        async move {
            match notifications::resume_unfinished(&state.db, &state.jobs).await {
                Ok(_) => Next::After(RESUME_EVERY),
                // Shutdown closes the pool under a pass that is still running.
                Err(sqlx::Error::PoolClosed) => Next::Stop,
                Err(e) => {
                    tracing::warn!("notification resume: {e}");
                    Next::After(RESUME_EVERY)
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_pass_that_panics_does_not_stop_the_next_pass() {
        let passes = Arc::new(AtomicUsize::new(0));
        let counted = passes.clone();
        let supervised = supervise("test sweep", Duration::ZERO, move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("a bad row"),
                    1 => Next::After(Duration::ZERO),
                    _ => Next::Stop,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), supervised)
            .await
            .expect("the loop ends when a pass says Stop");
        assert_eq!(passes.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn aborting_the_loop_aborts_the_pass_in_flight() {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let mut signals = Some((started_tx, dropped_tx));
        let looping = tokio::spawn(supervise("test sweep", Duration::ZERO, move || {
            let taken = signals.take();
            async move {
                if let Some((started, dropped)) = taken {
                    // Signals when this pass's future is dropped, i.e. aborted.
                    struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
                    impl Drop for OnDrop {
                        fn drop(&mut self) {
                            if let Some(tx) = self.0.take() {
                                let _ = tx.send(());
                            }
                        }
                    }
                    let _guard = OnDrop(Some(dropped));
                    let _ = started.send(());
                    std::future::pending::<()>().await;
                }
                Next::Stop
            }
        }));
        started_rx.await.expect("the pass started");
        looping.abort();
        tokio::time::timeout(Duration::from_secs(10), dropped_rx)
            .await
            .expect("the pass was aborted with its loop")
            .expect("the pass signalled its end");
    }
}
