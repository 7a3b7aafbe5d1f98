//! `auto-submit` / `auto-submit` / `{attemptId}`, job id `auto-submit-{attemptId}`: delayed to the
//! attempt's hard end, submits it if still in progress (recording the hard end) and queues its
//! scoring. Idempotent: a finished attempt is left alone.

use std::time::Duration;

use oes_cache::Cache;
use oes_jobs::{HandlerError, JobContext, JobHandler, async_trait};

use crate::db::{Db, now_ms};
use crate::domain::attempts::AttemptStatus;
use crate::jobs::JobRuntime;
use crate::jobs::score::attempt_id;
use crate::service::attempts;

pub const AUTO_SUBMIT_QUEUE: &str = "auto-submit";
pub const AUTO_SUBMIT_JOB: &str = "auto-submit";

/// A job that fires this close to the hard end (clock skew between processes) waits for it
/// instead of failing.
const EARLY_WAIT_MAX: Duration = Duration::from_secs(5);

pub struct AutoSubmit {
    pub db: Db,
    pub cache: Cache,
    pub jobs: JobRuntime,
}

#[async_trait]
impl JobHandler for AutoSubmit {
    async fn handle(&self, job: &JobContext) -> Result<(), HandlerError> {
        let id = attempt_id(job)?;
        let due = attempts::deadline_of(&self.db, id)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
        let Some((status, deadline)) = due else {
            return Ok(());
        };
        if status != AttemptStatus::InProgress {
            return Ok(());
        }
        let early = u64::try_from(deadline - now_ms()).unwrap_or(0);
        if early > 0 {
            let wait = Duration::from_millis(early);
            if wait > EARLY_WAIT_MAX {
                return Err(HandlerError::Retry(
                    "the attempt's hard end is not reached yet".into(),
                ));
            }
            tokio::time::sleep(wait).await;
        }
        attempts::auto_submit(&self.db, &self.cache, &self.jobs, id)
            .await
            .map(|_| ())
            .map_err(|e| HandlerError::Retry(e.to_string()))
    }
}

/// Registers the exam area's workers (`score-calculation`, `auto-submit`) on the runtime.
pub async fn register(jobs: &JobRuntime, db: &Db, cache: &Cache) {
    let options = oes_jobs::WorkerOptions {
        concurrency: 10,
        ..oes_jobs::WorkerOptions::default()
    };
    jobs.register(
        crate::jobs::score::SCORE_QUEUE,
        std::sync::Arc::new(crate::jobs::score::ScoreAttempt {
            db: db.clone(),
            cache: cache.clone(),
        }),
        options.clone(),
    )
    .await;
    jobs.register(
        AUTO_SUBMIT_QUEUE,
        std::sync::Arc::new(AutoSubmit {
            db: db.clone(),
            cache: cache.clone(),
            jobs: jobs.clone(),
        }),
        options,
    )
    .await;
}
