//! Job queues for OES, knowing nothing of exams or email.
//!
//! The parts:
//! - [`JobQueue`]: add jobs and inspect queues (counts, one job, failed jobs, retry, clean)
//!   and start workers. The application holds an `Arc<dyn JobQueue>`.
//! - [`JobHandler`]: the code a worker runs per job; it answers `Ok`,
//!   [`HandlerError::Retry`] (try again after the backoff) or [`HandlerError::Fatal`]
//!   (fail now; BullMQ's unrecoverable error).
//! - [`RedisJobs`]: BullMQ in Redis through `bullmq-official`, wire-compatible with Node
//!   BullMQ (same keys, job hashes and Lua scripts), so Node and Rust producers and workers
//!   can share queues.
//! - [`EmbeddedJobs`]: an in-process runner with the same semantics (priorities, delays,
//!   attempts, backoff, id de-duplication, failed-job retention), state in memory.
//! - [`WorkerHandle`]: a running worker; [`WorkerHandle::shutdown`] lets running jobs finish
//!   within a deadline, [`WorkerHandle::stats`] feeds `/metrics`.
//!
//! Semantics both backends share:
//! - an id given in [`JobOptions::job_id`] is added once: adding it again while the job
//!   exists (in any state) is a no-op that returns the id, which makes enqueueing idempotent;
//! - priority 1 is the most urgent, and jobs without a priority run before prioritized ones;
//! - a failed try is retried after [`Backoff::delay_after`] until `attempts` tries were made;
//! - completed jobs are removed after [`JobOptions::remove_on_complete_age`], failed jobs
//!   are kept until [`JobQueue::clean`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), oes_jobs::JobError> {
//! use std::{sync::Arc, time::Duration};
//! use oes_jobs::*;
//!
//! struct SendEmail;
//! #[async_trait::async_trait]
//! impl JobHandler for SendEmail {
//!     async fn handle(&self, job: &JobContext) -> Result<(), HandlerError> {
//!         let _to = job.data["to"].as_str().ok_or(HandlerError::Fatal("no recipient".into()))?;
//!         Ok(())
//!     }
//! }
//!
//! let jobs: Arc<dyn JobQueue> = Arc::new(RedisJobs::connect("redis://127.0.0.1:6379", "bull").await?);
//! let worker = jobs.start_worker("email", Arc::new(SendEmail), WorkerOptions::default()).await?;
//! jobs.add("email", "send-email", serde_json::json!({"to": "a@b.c", "subject": "Hi", "html": "<p>Hi</p>"}),
//!     &JobOptions::with_id("outbox-42")).await?;
//! worker.shutdown(Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod embedded;
mod error;
mod redis_backend;
mod stats;
mod types;

pub use api::{JobHandler, JobQueue, WorkerHandle};
pub use embedded::EmbeddedJobs;
pub use error::JobError;
pub use redis_backend::{DEFAULT_PREFIX, RedisJobs};
pub use stats::StatsReader;
pub use types::{
    Backoff, CleanState, HandlerError, JobContext, JobCounts, JobInfo, JobOptions, JobState,
    WorkerOptions, WorkerStats,
};

/// Re-exported so handlers can be written without a direct dependency.
pub use async_trait::async_trait;
