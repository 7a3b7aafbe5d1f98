//! `auto-submit` / `auto-submit` / `{attemptId}`, job id `auto-submit-{attemptId}`: delayed to the
//! attempt's hard end, submits it if still in progress (recording the hard end) and queues its
//! scoring. Idempotent: a finished attempt is left alone.

use std::time::Duration;

use oes_cache::Cache;
use oes_jobs::{HandlerError, JobContext, async_trait};

use crate::db::{Db, now_ms};
use crate::domain::attempts::AttemptStatus;
use crate::queue::{AutoSubmit, Handler, JobRuntime};
use crate::service::attempts;
use crate::state::AppState;

/// A job that fires this close to the hard end (clock skew between processes) waits for it
/// instead of failing.
const EARLY_WAIT_MAX: Duration = Duration::from_secs(5);

pub(super) struct Submit {
    db: Db,
    cache: Cache,
    jobs: JobRuntime,
}

impl Submit {
    pub(super) fn new(state: &AppState) -> Self {
        Submit {
            db: state.db.clone(),
            cache: state.cache.clone(),
            jobs: state.jobs.clone(),
        }
    }
}

#[async_trait]
impl Handler<AutoSubmit> for Submit {
    async fn handle(&self, job: AutoSubmit, _: &JobContext) -> Result<(), HandlerError> {
        let id = job.attempt_id;
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
