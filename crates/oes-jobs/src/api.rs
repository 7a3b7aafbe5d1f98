//! The two traits the application codes against, and the handle of a running worker.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;

use crate::error::JobError;
use crate::stats::StatsReader;
use crate::types::{
    CleanState, HandlerError, JobContext, JobCounts, JobInfo, JobOptions, WorkerOptions,
    WorkerStats,
};

/// Producer and admin side of a job backend. Implemented by
/// [`RedisJobs`](crate::RedisJobs) and [`EmbeddedJobs`](crate::EmbeddedJobs) with the same
/// semantics, so the application holds an `Arc<dyn JobQueue>`.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Adds a job and returns its id. When `opts.job_id` names a job that already exists
    /// (in any state, until it is removed), nothing is written and that id is returned.
    async fn add(
        &self,
        queue: &str,
        name: &str,
        data: serde_json::Value,
        opts: &JobOptions,
    ) -> Result<String, JobError>;

    /// Number of jobs per state.
    async fn counts(&self, queue: &str) -> Result<JobCounts, JobError>;

    /// One job, or `None` when it does not exist (never added, or removed).
    async fn job(&self, queue: &str, id: &str) -> Result<Option<JobInfo>, JobError>;

    /// Failed jobs, most recently failed first; `start..=end` are indexes (`end = -1`: all).
    async fn failed(&self, queue: &str, start: i64, end: i64) -> Result<Vec<JobInfo>, JobError>;

    /// Moves one failed job (`Some(id)`) or every failed job (`None`) back to waiting, keeping
    /// its attempt count. Returns how many jobs were moved (0 when `id` is not failed).
    async fn retry_failed(&self, queue: &str, id: Option<&str>) -> Result<u64, JobError>;

    /// Removes jobs in `state` that finished more than `grace` ago. Returns how many.
    async fn clean(&self, queue: &str, state: CleanState, grace: Duration)
    -> Result<u64, JobError>;

    /// Starts a worker that runs `handler` for every job of `queue`.
    async fn start_worker(
        &self,
        queue: &str,
        handler: Arc<dyn JobHandler>,
        opts: WorkerOptions,
    ) -> Result<WorkerHandle, JobError>;
}

/// Code that runs jobs of one queue. It must be idempotent: a job can run more than once
/// (retries, a worker that died after doing the work but before recording it).
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one try of `job`.
    async fn handle(&self, job: &JobContext) -> Result<(), HandlerError>;
}

/// Runs one try and measures it; a panicking handler counts as a retryable failure so that
/// one bad job cannot leave a worker slot or a lease dangling.
pub(crate) async fn run_handler(
    handler: &dyn JobHandler,
    job: &JobContext,
) -> (Result<(), HandlerError>, Duration) {
    let started = Instant::now();
    let outcome = AssertUnwindSafe(handler.handle(job)).catch_unwind().await;
    let took = started.elapsed();
    let result =
        outcome.unwrap_or_else(|_| Err(HandlerError::Retry("job handler panicked".into())));
    (result, took)
}

/// A running worker. Dropping it stops fetching new jobs but lets the jobs already running
/// finish in the background; call [`shutdown`](Self::shutdown) to wait for them.
pub struct WorkerHandle {
    pub(crate) queue: String,
    pub(crate) stats: StatsReader,
    pub(crate) inner: WorkerInner,
}

pub(crate) enum WorkerInner {
    Redis(crate::redis_backend::RedisWorker),
    Embedded(crate::embedded::EmbeddedWorker),
}

impl WorkerHandle {
    /// Queue this worker consumes.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// Counters since the worker started.
    pub fn stats(&self) -> WorkerStats {
        self.stats.snapshot()
    }

    /// A reader of the counters that outlives the handle (for a `/metrics` endpoint).
    pub fn stats_reader(&self) -> StatsReader {
        self.stats.clone()
    }

    /// Stops fetching, waits up to `timeout` for running jobs to finish, then stops.
    /// Jobs still running at the deadline are abandoned: with Redis their lease stops being
    /// renewed and another worker's stalled check runs them again once it expires; embedded,
    /// they go back to waiting at once.
    pub async fn shutdown(self, timeout: Duration) -> Result<(), JobError> {
        match self.inner {
            WorkerInner::Redis(w) => w.shutdown(timeout).await,
            WorkerInner::Embedded(w) => w.shutdown(timeout).await,
        }
    }
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("queue", &self.queue)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}
