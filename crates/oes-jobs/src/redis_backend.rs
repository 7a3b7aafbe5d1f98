//! BullMQ backend: `bullmq-official` (the BullMQ authors' Rust port, same Lua scripts and
//! Redis layout as Node BullMQ) behind [`JobQueue`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use bullmq::options::RedisConnectionOptions;
use bullmq::redis_connection::RedisConnection;
use bullmq::types::{BackoffStrategy, KeepJobs, RemoveOnFinish};
use bullmq::worker::WorkerEvent;
use bullmq::{Job, Queue, QueueOptions, Worker};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::api::{JobHandler, JobQueue, WorkerHandle, WorkerInner, run_handler};
use crate::error::JobError;
use crate::stats::{Counters, StatsReader};
use crate::types::{
    Backoff, CleanState, HandlerError, JobContext, JobCounts, JobInfo, JobOptions, JobState,
    WorkerOptions, millis, validate_options, validate_queue_name,
};

/// BullMQ's default key prefix, shared with Node BullMQ.
pub const DEFAULT_PREFIX: &str = "bull";

/// Jobs in Redis, wire-compatible with Node BullMQ (queues `<prefix>:<queue>:*`).
///
/// Cheap to share behind an `Arc`; queue handles are created once per queue name and reuse
/// one auto-reconnecting connection. Each worker opens its own two connections (one of them
/// for the blocking wait).
pub struct RedisJobs {
    conn: RedisConnection,
    conn_opts: RedisConnectionOptions,
    prefix: String,
    queues: Mutex<HashMap<String, Queue>>,
}

impl RedisJobs {
    /// Connects to Redis at `redis_url`; `prefix` is BullMQ's key prefix
    /// ([`DEFAULT_PREFIX`] to share queues with a Node BullMQ deployment).
    pub async fn connect(redis_url: &str, prefix: &str) -> Result<Self, JobError> {
        if prefix.is_empty() {
            return Err(JobError::InvalidOptions("prefix must not be empty".into()));
        }
        let conn_opts = RedisConnectionOptions::new().url(redis_url);
        let conn = RedisConnection::new_managed_only(&conn_opts).await?;
        conn.ping().await?;
        Ok(Self {
            conn,
            conn_opts,
            prefix: prefix.to_string(),
            queues: Mutex::new(HashMap::new()),
        })
    }

    /// BullMQ key prefix in use.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn queue(&self, name: &str) -> Result<Queue, JobError> {
        validate_queue_name(name)?;
        let mut queues = self.queues.lock().await;
        if let Some(q) = queues.get(name) {
            return Ok(q.clone());
        }
        let q = Queue::with_connection(
            name,
            self.conn.clone(),
            QueueOptions::new().prefix(self.prefix.clone()),
        )
        .await?;
        queues.insert(name.to_string(), q.clone());
        Ok(q)
    }
}

impl std::fmt::Debug for RedisJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: only the prefix is shown.
        f.debug_struct("RedisJobs")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn bull_options(opts: &JobOptions) -> bullmq::JobOptions {
    let mut o = bullmq::JobOptions::new()
        .attempts(opts.attempts)
        .backoff(match opts.backoff {
            Backoff::Exponential { initial } => BackoffStrategy::Exponential(millis(initial)),
            Backoff::Fixed { delay } => BackoffStrategy::Fixed(millis(delay)),
        });
    if let Some(id) = &opts.job_id {
        o = o.job_id(id.clone());
    }
    // BullMQ treats priority 0 as "not prioritized"; keep that meaning for Some(0).
    if let Some(p) = opts.priority.filter(|p| *p > 0) {
        o = o.priority(p);
    }
    if let Some(d) = opts.delay.filter(|d| !d.is_zero()) {
        o = o.delay(d);
    }
    if let Some(age) = opts.remove_on_complete_age {
        // BullMQ's `age` is in seconds (the Lua multiplies by 1000), whatever the Rust
        // port's doc comment says.
        let policy = if age.is_zero() {
            RemoveOnFinish::Bool(true)
        } else {
            RemoveOnFinish::Options(KeepJobs {
                age: Some(age.as_secs().max(1)),
                count: None,
                limit: None,
            })
        };
        o = o.remove_on_complete(policy);
    }
    o
}

fn state_from_bull(s: bullmq::JobState) -> JobState {
    match s {
        bullmq::JobState::Waiting => JobState::Waiting,
        bullmq::JobState::Active => JobState::Active,
        bullmq::JobState::Delayed => JobState::Delayed,
        bullmq::JobState::Prioritized => JobState::Prioritized,
        bullmq::JobState::Completed => JobState::Completed,
        bullmq::JobState::Failed => JobState::Failed,
        bullmq::JobState::WaitingChildren | bullmq::JobState::Unknown => JobState::Unknown,
    }
}

fn info_from_bull(job: &Job, state: JobState) -> JobInfo {
    let reason = job.failed_reason();
    JobInfo {
        id: job.id().to_string(),
        name: job.name().to_string(),
        data: job.data().clone(),
        state,
        attempts_made: job.attempts_made(),
        failed_reason: (!reason.is_empty()).then(|| reason.to_string()),
        timestamp: job.timestamp(),
        processed_on: job.processed_on(),
        finished_on: job.finished_on(),
    }
}

#[async_trait]
impl JobQueue for RedisJobs {
    async fn add(
        &self,
        queue: &str,
        name: &str,
        data: serde_json::Value,
        opts: &JobOptions,
    ) -> Result<String, JobError> {
        validate_options(opts)?;
        let q = self.queue(queue).await?;
        let job = q.add(name, data).options(bull_options(opts)).await?;
        Ok(job.id().to_string())
    }

    async fn counts(&self, queue: &str) -> Result<JobCounts, JobError> {
        let c = self.queue(queue).await?.get_job_counts().await?;
        Ok(JobCounts {
            waiting: c.waiting,
            active: c.active,
            delayed: c.delayed,
            prioritized: c.prioritized,
            completed: c.completed,
            failed: c.failed,
            paused: c.paused,
        })
    }

    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, JobError> {
        let q = self.queue(queue).await?;
        let Some(job) = q.get_job(id).await? else {
            return Ok(None);
        };
        let state = state_from_bull(q.get_job_state(id).await?);
        Ok(Some(info_from_bull(&job, state)))
    }

    async fn failed(&self, queue: &str, start: i64, end: i64) -> Result<Vec<JobInfo>, JobError> {
        let q = self.queue(queue).await?;
        let jobs = q.get_failed(start, end).await?;
        Ok(jobs
            .iter()
            .map(|j| info_from_bull(j, JobState::Failed))
            .collect())
    }

    async fn retry_failed(&self, queue: &str, id: Option<&str>) -> Result<u64, JobError> {
        let q = self.queue(queue).await?;
        match id {
            Some(id) => {
                let Some(mut job) = q.get_job(id).await? else {
                    return Ok(0);
                };
                if q.get_job_state(id).await? != bullmq::JobState::Failed {
                    return Ok(0);
                }
                job.retry("failed", None).await?;
                Ok(1)
            }
            None => {
                let before = q.get_failed_count().await?;
                q.retry_jobs("failed", 1000, None).await?;
                let after = q.get_failed_count().await?;
                Ok(before.saturating_sub(after))
            }
        }
    }

    async fn clean(
        &self,
        queue: &str,
        state: CleanState,
        grace: Duration,
    ) -> Result<u64, JobError> {
        let q = self.queue(queue).await?;
        let set = match state {
            CleanState::Completed => "completed",
            CleanState::Failed => "failed",
        };
        let removed = q.clean(millis(grace), 0, set).await?;
        Ok(removed.len() as u64)
    }

    async fn start_worker(
        &self,
        queue: &str,
        handler: Arc<dyn JobHandler>,
        opts: WorkerOptions,
    ) -> Result<WorkerHandle, JobError> {
        validate_queue_name(queue)?;
        if opts.concurrency == 0 {
            return Err(JobError::InvalidOptions(
                "concurrency must be at least 1".into(),
            ));
        }
        let counters = Arc::new(Counters::default());
        // Worker events say "failed" for every failed try; the processor records here whether
        // a try was the last one so the event drain can tell retries from final failures.
        let last_try: Arc<StdMutex<HashMap<String, bool>>> = Arc::default();

        let processor = {
            let counters = counters.clone();
            let last_try = last_try.clone();
            let queue = queue.to_string();
            move |job: Job, _cancel: bullmq::worker::CancellationToken| {
                let handler = handler.clone();
                let counters = counters.clone();
                let last_try = last_try.clone();
                let queue = queue.clone();
                async move {
                    let ctx = JobContext {
                        queue,
                        id: job.id().to_string(),
                        name: job.name().to_string(),
                        data: job.data().clone(),
                        attempts_made: job.attempts_made(),
                    };
                    let (result, took) = run_handler(handler.as_ref(), &ctx).await;
                    counters.record_run(took);
                    let (is_last, err) = match result {
                        Ok(()) => return Ok(serde_json::Value::Null),
                        Err(HandlerError::Fatal(m)) => (true, bullmq::Error::Unrecoverable(m)),
                        Err(HandlerError::Retry(m)) => {
                            let attempts = job.opts().attempts.unwrap_or(0);
                            let is_last = attempts <= 1 || ctx.attempts_made + 1 >= attempts;
                            (is_last, bullmq::Error::ProcessingError(m))
                        }
                    };
                    if let Ok(mut map) = last_try.lock() {
                        map.insert(ctx.id, is_last);
                    }
                    Err(err)
                }
            }
        };

        let wopts = bullmq::WorkerOptions::new()
            .connection(self.conn_opts.clone())
            .prefix(self.prefix.clone())
            .concurrency(opts.concurrency)
            .lock_duration(opts.lock_duration)
            .stalled_interval(opts.stalled_interval)
            .run_retry_delay(opts.run_retry_delay)
            // The idle blocking wait is also how long a shutdown of an idle worker can take.
            .drain_delay(Duration::from_secs(1));
        let worker = Arc::new(Worker::with_options(queue, processor, wopts).await?);

        let drain = tokio::spawn(drain_events(
            worker.clone(),
            queue.to_string(),
            counters.clone(),
            last_try,
        ));
        Ok(WorkerHandle {
            queue: queue.to_string(),
            stats: StatsReader(counters),
            inner: WorkerInner::Redis(RedisWorker {
                worker: Some(worker),
                drain: Some(drain),
            }),
        })
    }
}

/// Reads the worker's unbounded event channel for as long as the worker lives: unread, it
/// grows by every job. The events are also the source of logs and counters.
async fn drain_events(
    worker: Arc<Worker>,
    queue: String,
    counters: Arc<Counters>,
    last_try: Arc<StdMutex<HashMap<String, bool>>>,
) {
    let take_last = |id: &str| -> bool {
        last_try
            .lock()
            .ok()
            .and_then(|mut m| m.remove(id))
            // A failure the processor never saw (e.g. a deferred failure) is final.
            .unwrap_or(true)
    };
    while let Some(event) = worker.next_event().await {
        match event {
            WorkerEvent::Completed { job_id, .. } => {
                Counters::bump(&counters.completed);
                debug!(queue = %queue, job_id = %job_id, "job completed");
            }
            WorkerEvent::Failed { job_id, error } => {
                if take_last(&job_id) {
                    Counters::bump(&counters.failed);
                    warn!(queue = %queue, job_id = %job_id, reason = %error, "job failed");
                } else {
                    Counters::bump(&counters.retried);
                    info!(queue = %queue, job_id = %job_id, reason = %error, "job will be retried");
                }
            }
            WorkerEvent::Stalled { job_id } => {
                Counters::bump(&counters.stalled);
                warn!(queue = %queue, job_id = %job_id, "stalled job moved back to waiting");
            }
            WorkerEvent::Error(error) => {
                Counters::bump(&counters.errors);
                warn!(queue = %queue, error = %error, "job worker error");
            }
            WorkerEvent::Closed => break,
            _ => {}
        }
    }
}

pub(crate) struct RedisWorker {
    worker: Option<Arc<Worker>>,
    drain: Option<JoinHandle<()>>,
}

impl RedisWorker {
    pub(crate) async fn shutdown(mut self, timeout: Duration) -> Result<(), JobError> {
        let (Some(worker), Some(drain)) = (self.worker.take(), self.drain.take()) else {
            return Ok(());
        };
        let closed = worker.close(millis(timeout)).await;
        drop(worker);
        // `close` sends `Closed` last, so the drain task ends after counting every event.
        if tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .is_err()
        {
            warn!("job event drain did not stop after worker close");
        }
        closed.map_err(JobError::from)
    }
}

impl Drop for RedisWorker {
    fn drop(&mut self) {
        // Without the drain task the last `Arc<Worker>` goes away, and the worker's own Drop
        // stops its fetch loop; jobs already running finish on their own tasks.
        if let Some(drain) = self.drain.take() {
            drain.abort();
        }
    }
}
