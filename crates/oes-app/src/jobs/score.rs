//! `score-calculation` / `calculate-score` / `{attemptId}` (the Node system's names): scores one
//! submitted attempt. Idempotent: an attempt already scored is left alone.

use oes_cache::Cache;
use oes_jobs::{HandlerError, JobContext, async_trait};

use crate::db::Db;
use crate::queue::{CalculateScore, Handler};
use crate::service::exams::ExamError;
use crate::state::AppState;

pub(super) struct Score {
    db: Db,
    cache: Cache,
}

impl Score {
    pub(super) fn new(state: &AppState) -> Self {
        Score {
            db: state.db.clone(),
            cache: state.cache.clone(),
        }
    }
}

#[async_trait]
impl Handler<CalculateScore> for Score {
    async fn handle(&self, job: CalculateScore, _: &JobContext) -> Result<(), HandlerError> {
        match crate::service::scoring::score_attempt(&self.db, &self.cache, job.attempt_id).await {
            Ok(_) => Ok(()),
            Err(ExamError::NotFound(m)) => Err(HandlerError::Fatal(m.into())),
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}
