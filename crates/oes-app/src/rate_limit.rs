//! Fixed-window rate limits, shared by every server process through Redis (INCR, then PEXPIRE
//! on the window's first hit), with an in-process table when Redis is absent or not answering;
//! and [`BlockingGate`], the per-process bound on costly blocking work (password hashing).
//!
//! Falling back to per-process counting when Redis fails keeps the limits in force (each process
//! counts alone, so a client gets at most N times the limit across N processes) instead of
//! either refusing every request or dropping the protection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::redis_link::RedisLink;

/// A refusal: try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds for `Retry-After`, never 0.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }
}

/// How long a Redis round trip may take before the local table answers instead.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// Local entries are swept when the table grows past this.
const LOCAL_SWEEP_AT: usize = 10_000;

#[derive(Clone)]
pub struct RateLimiter {
    redis: RedisLink,
    prefix: String,
    local: Arc<Mutex<HashMap<String, (u64, Instant)>>>,
}

impl RateLimiter {
    /// `prefix` goes in front of every Redis key (for example `oes:cache:rl:`).
    pub fn new(redis: RedisLink, prefix: impl Into<String>) -> Self {
        RateLimiter {
            redis,
            prefix: prefix.into(),
            local: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Counts one hit on `key`; refuses when the window already holds `max` hits.
    pub async fn hit(&self, key: &str, max: u64, window: Duration) -> Result<(), Limited> {
        let (count, ttl) = self.incr(key, window).await;
        if count > max {
            Err(Limited { retry_after: ttl })
        } else {
            Ok(())
        }
    }

    /// Counts one hit on each key, in order, each against its own maximum; refuses at the first
    /// key whose window is full, taking back the hits already counted on the keys before it, so
    /// a refused request uses up no budget it was not granted (a guess refused for one address
    /// must not eat into the account's budget for every address).
    pub async fn hit_all(&self, hits: &[(&str, u64)], window: Duration) -> Result<(), Limited> {
        for (done, (key, max)) in hits.iter().enumerate() {
            if let Err(limited) = self.hit(key, *max, window).await {
                self.undo(key).await;
                for (earlier, _) in &hits[..done] {
                    self.undo(earlier).await;
                }
                return Err(limited);
            }
        }
        Ok(())
    }

    /// Takes back one hit on `key` (an attempt counted up front that was never evaluated). A
    /// window that has ended meanwhile is left alone rather than started below zero.
    pub async fn undo(&self, key: &str) {
        if let Some(mut conn) = self.redis.connection().await {
            let full = format!("{}{key}", self.prefix);
            // One script, so an expiry between a check and the DECR cannot leave a key without TTL.
            let script = "if redis.call('GET', KEYS[1]) then return redis.call('DECR', KEYS[1]) end return 0";
            let undone = tokio::time::timeout(
                REDIS_TIMEOUT,
                redis::cmd("EVAL")
                    .arg(script)
                    .arg(1)
                    .arg(&full)
                    .query_async::<i64>(&mut conn),
            )
            .await;
            if matches!(undone, Ok(Ok(_))) {
                return;
            }
        }
        if let Ok(mut table) = self.local.lock()
            && let Some(entry) = table.get_mut(key)
        {
            entry.0 = entry.0.saturating_sub(1);
        }
    }

    /// Forgets `key` (a successful login clears its failures).
    pub async fn reset(&self, key: &str) {
        if let Some(mut conn) = self.redis.connection().await {
            let full = format!("{}{key}", self.prefix);
            let _ = tokio::time::timeout(
                REDIS_TIMEOUT,
                redis::cmd("DEL").arg(&full).query_async::<i64>(&mut conn),
            )
            .await;
        }
        if let Ok(mut table) = self.local.lock() {
            table.remove(key);
        }
    }

    async fn incr(&self, key: &str, window: Duration) -> (u64, Duration) {
        if let Some(result) = self.redis_incr(key, window).await {
            return result;
        }
        self.local_incr(key, window)
    }

    async fn redis_incr(&self, key: &str, window: Duration) -> Option<(u64, Duration)> {
        let mut conn = self.redis.connection().await?;
        let full = format!("{}{key}", self.prefix);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        // INCR and PTTL in one round trip; PEXPIRE NX then starts the window exactly once.
        let script = async {
            let (count, ttl): (u64, i64) = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&full)
                .cmd("PTTL")
                .arg(&full)
                .query_async(&mut conn)
                .await?;
            let ttl = if ttl < 0 {
                redis::cmd("PEXPIRE")
                    .arg(&full)
                    .arg(window_ms)
                    .arg("NX")
                    .query_async::<i64>(&mut conn)
                    .await?;
                window_ms
            } else {
                ttl.unsigned_abs()
            };
            Ok::<_, redis::RedisError>((count, Duration::from_millis(ttl)))
        };
        match tokio::time::timeout(REDIS_TIMEOUT, script).await {
            Ok(Ok(result)) => Some(result),
            Ok(Err(e)) => {
                tracing::warn!("rate limit: redis failed, counting in process: {e}");
                None
            }
            Err(_) => {
                tracing::warn!("rate limit: redis timed out, counting in process");
                None
            }
        }
    }

    fn local_incr(&self, key: &str, window: Duration) -> (u64, Duration) {
        let now = Instant::now();
        let Ok(mut table) = self.local.lock() else {
            return (0, window);
        };
        if table.len() >= LOCAL_SWEEP_AT {
            table.retain(|_, (_, until)| *until > now);
        }
        let entry = table.entry(key.to_owned()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
        (entry.0, entry.1 - now)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Every slot is running and the queue is full: try again after the [`Limited`]'s delay.
    #[error("busy")]
    Busy(Limited),
    /// The work panicked, or the runtime is shutting down.
    #[error("blocking task failed: {0}")]
    Failed(String),
}

/// Runs costly blocking work (argon2 takes tens of milliseconds and MiBs of memory each) at most
/// `permits` at a time, with at most `queue` callers waiting; callers past that are refused at
/// once, so a flood costs a bounded amount of memory and each waiter a bounded delay instead of
/// growing both without end. One per app instance.
///
/// The work runs on `permits` threads of the gate's own, not on tokio's blocking pool: that pool
/// starts a new thread whenever none is idle at the instant of the call (a permit frees just
/// before its thread does), and glibc gives each thread an arena that keeps its freed 19 MiB.
/// 300 concurrent logins through the pool left about 20 threads and 659 MB of RSS that never
/// came back; a fixed set of threads holds at most `permits` such arenas.
#[derive(Clone)]
pub struct BlockingGate {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    retry_after: Duration,
    workers: crossbeam_channel::Sender<Work>,
}

/// One piece of work for the gate's threads; it reports its own result.
type Work = Box<dyn FnOnce() + Send>;

/// What each of a gate's threads runs once it has waited `after` for work since its last piece:
/// letting go of what the work keeps between runs (a hashing thread's working memory), so an
/// idle server goes back to its baseline.
#[derive(Debug, Clone, Copy)]
pub struct IdleHook {
    pub after: Duration,
    pub run: fn(),
}

/// Starts the gate's threads. They end when the last handle of the gate is dropped (their
/// channel closes), so an app that stops leaves none behind.
fn start_workers(count: usize, idle: Option<IdleHook>) -> crossbeam_channel::Sender<Work> {
    use crossbeam_channel::RecvTimeoutError;
    // Many receivers on one channel, each waiting (and timing out) on its own: with one receiver
    // behind a lock, the thread holding it would starve the others of their idle time.
    let (sender, receiver) = crossbeam_channel::unbounded::<Work>();
    for i in 0..count {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("oes-blocking-{i}"))
            .spawn(move || {
                // Nothing is kept before the first piece of work.
                let mut idle_hook_due = false;
                loop {
                    let next = match idle.filter(|_| idle_hook_due) {
                        Some(hook) => match receiver.recv_timeout(hook.after) {
                            Ok(work) => Some(work),
                            Err(RecvTimeoutError::Timeout) => {
                                (hook.run)();
                                idle_hook_due = false;
                                continue;
                            }
                            Err(RecvTimeoutError::Disconnected) => None,
                        },
                        None => receiver.recv().ok(),
                    };
                    match next {
                        Some(work) => {
                            work();
                            idle_hook_due = true;
                        }
                        None => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a blocking-work thread: {e}");
        }
    }
    sender
}

/// Gives a queue place back however the wait ends, also when the caller's future is dropped.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl BlockingGate {
    /// `permits` is kept within 1 and what a semaphore can count (it panics past that).
    /// `retry_after` is what a refused caller is told.
    pub fn new(permits: usize, queue: usize, retry_after: Duration) -> Self {
        Self::start(permits, queue, retry_after, None)
    }

    /// A gate whose threads run `idle` once they have had no work for its `after`.
    pub fn with_idle_hook(
        permits: usize,
        queue: usize,
        retry_after: Duration,
        idle: IdleHook,
    ) -> Self {
        Self::start(permits, queue, retry_after, Some(idle))
    }

    fn start(permits: usize, queue: usize, retry_after: Duration, idle: Option<IdleHook>) -> Self {
        let permits = permits.clamp(1, Semaphore::MAX_PERMITS);
        BlockingGate {
            permits: Arc::new(Semaphore::new(permits)),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
            retry_after,
            workers: start_workers(permits, idle),
        }
    }

    /// Runs `work` once a permit is free, or refuses with [`GateError::Busy`] when the queue is
    /// full. The permit moves into the work: it is held until the work ends even when the caller
    /// stops waiting (a client that hangs up does not free a slot its work still uses). Only
    /// permit holders hand work to the threads, so work never waits behind other work there.
    pub async fn run<T, F>(&self, work: F) -> Result<T, GateError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let queued = self
                    .waiting
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n < self.queue).then_some(n + 1)
                    });
                if queued.is_err() {
                    return Err(GateError::Busy(Limited {
                        retry_after: self.retry_after,
                    }));
                }
                let _place = QueuePlace(&self.waiting);
                Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .map_err(|e| GateError::Failed(e.to_string()))?
            }
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Work = Box::new(move || {
            // A panic must not take the thread with it: the gate would lose a worker for good.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            // Freed before the caller hears of the result, so a caller that goes on to its next
            // piece of work finds the slot free, as when the work ran on a joined task.
            drop(permit);
            let _ = done.send(outcome);
        });
        self.workers
            .send(job)
            .map_err(|_| GateError::Failed("the blocking-work threads are gone".into()))?;
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(GateError::Failed("the work panicked".into())),
            Err(_) => Err(GateError::Failed("the work was dropped unfinished".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_undone_hit_gives_its_place_back_in_redis_and_in_process() {
        let url = std::env::var("OES_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let redis = RedisLink::connect(&url).await.expect("the test Redis");
        let prefix = format!("oes-test-rl-{}:", uuid::Uuid::new_v4().simple());
        for link in [RedisLink::disabled(), redis.clone()] {
            let limiter = RateLimiter::new(link, prefix.clone());
            let window = Duration::from_secs(30);
            limiter.hit("k", 2, window).await.expect("first");
            limiter.hit("k", 2, window).await.expect("second");
            limiter.undo("k").await;
            limiter.hit("k", 2, window).await.expect("the undone place");
            assert!(limiter.hit("k", 2, window).await.is_err(), "then full");
            limiter.reset("k").await;
            // Undoing where no window runs starts none below zero.
            limiter.undo("k").await;
            limiter.hit("k", 1, window).await.expect("a fresh window");
            assert!(limiter.hit("k", 1, window).await.is_err());
            limiter.reset("k").await;
        }
        redis.close().await;
    }

    static IDLE_RUNS: AtomicUsize = AtomicUsize::new(0);

    fn count_idle_run() {
        IDLE_RUNS.fetch_add(1, Ordering::AcqRel);
    }

    #[tokio::test]
    async fn each_thread_runs_the_idle_hook_once_after_work_and_not_before_any() {
        let gate = BlockingGate::with_idle_hook(
            2,
            4,
            Duration::from_secs(1),
            IdleHook {
                after: Duration::from_millis(50),
                run: count_idle_run,
            },
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            IDLE_RUNS.load(Ordering::Acquire),
            0,
            "no work, nothing to let go"
        );
        let both = futures::future::join(
            gate.run(|| std::thread::sleep(Duration::from_millis(20))),
            gate.run(|| std::thread::sleep(Duration::from_millis(20))),
        )
        .await;
        assert!(both.0.is_ok() && both.1.is_ok());
        let deadline = Instant::now() + Duration::from_secs(5);
        while IDLE_RUNS.load(Ordering::Acquire) < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let runs = IDLE_RUNS.load(Ordering::Acquire);
        assert!(
            (1..=2).contains(&runs),
            "once per thread that worked: {runs}"
        );
        assert_eq!(gate.run(|| 7).await.expect("still works"), 7);
    }

    #[tokio::test]
    async fn a_refused_hit_all_takes_back_what_it_counted_before_the_full_key() {
        let limiter = RateLimiter::new(RedisLink::disabled(), "t:");
        let window = Duration::from_secs(30);
        limiter
            .hit("narrow", 1, window)
            .await
            .expect("fills narrow");
        for _ in 0..3 {
            let refused = limiter.hit_all(&[("wide", 2), ("narrow", 1)], window).await;
            assert!(refused.is_err(), "narrow is full");
        }
        // Three refusals later, `wide` still has both its places and `narrow` holds its one.
        limiter
            .hit_all(&[("wide", 2)], window)
            .await
            .expect("first place");
        limiter
            .hit_all(&[("wide", 2)], window)
            .await
            .expect("second place");
        assert!(limiter.hit_all(&[("wide", 2)], window).await.is_err());
        limiter.reset("narrow").await;
        limiter.hit("narrow", 1, window).await.expect("after reset");
    }

    #[tokio::test]
    async fn the_gate_refuses_past_its_queue_and_frees_places_of_callers_that_gave_up() {
        let gate = BlockingGate::new(1, 1, Duration::from_secs(1));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, is_running) = tokio::sync::oneshot::channel();
        let running = tokio::spawn({
            let gate = gate.clone();
            async move {
                gate.run(move || {
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
            }
        });
        is_running.await.expect("the first work runs");

        // One caller may wait; the next is refused at once.
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(|| 2).await }
        });
        while gate.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        match gate.run(|| 3).await {
            Err(GateError::Busy(busy)) => assert_eq!(busy.retry_after, Duration::from_secs(1)),
            other => panic!("expected Busy, got {other:?}"),
        }

        // A waiter that gives up hands its place back.
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
        let queued = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(|| 4).await }
        });
        release.send(()).expect("release the first work");
        assert!(running.await.expect("joins").is_ok());
        assert_eq!(queued.await.expect("joins").expect("runs"), 4);
        assert_eq!(gate.run(|| 5).await.expect("a free permit"), 5);
    }
}
