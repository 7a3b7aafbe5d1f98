//! What every request handler, service and job handler can reach: configuration and the
//! infrastructure handles, built once at start-up. Nothing here knows a use case.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;
use crate::db::Db;
use crate::email::Emails;
use crate::queue::JobRuntime;
use crate::rate_limit::{BlockingGate, RateLimiter};
use crate::redis_link::RedisLink;
use crate::unit_of_work::UnitOfWork;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub redis: RedisLink,
    pub cache: oes_cache::Cache,
    pub jobs: JobRuntime,
    pub emails: Emails,
    pub rate_limiter: RateLimiter,
    /// Bounds password hashing (PASSWORD_HASH_CONCURRENCY running, PASSWORD_HASH_QUEUE waiting).
    pub password_hashing: BlockingGate,
    pub exam_stats: Arc<ExamStats>,
}

impl AppState {
    /// Begins a unit of work: a write transaction whose emails are queued when it commits.
    pub async fn begin(&self) -> Result<UnitOfWork, sqlx::Error> {
        UnitOfWork::begin(&self.db, &self.emails).await
    }
}

/// Counters of the exam area, read by tests and monitoring.
#[derive(Debug, Default)]
pub struct ExamStats {
    /// Exam papers loaded from the database (cache misses that ran the loader).
    pub paper_loads: AtomicU64,
}

impl ExamStats {
    pub fn paper_loads(&self) -> u64 {
        self.paper_loads.load(Ordering::Relaxed)
    }
}
