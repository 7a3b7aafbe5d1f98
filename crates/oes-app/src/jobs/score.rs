//! `score-calculation` / `calculate-score` / `{attemptId}` (the Node system's names): scores one
//! submitted attempt. Idempotent: an attempt already scored is left alone.

use oes_cache::Cache;
use oes_jobs::{HandlerError, JobContext, JobHandler, async_trait};

use crate::db::Db;
use crate::domain::ids::AttemptId;
use crate::service::exams::ExamError;

pub const SCORE_QUEUE: &str = "score-calculation";
pub const SCORE_JOB: &str = "calculate-score";

pub struct ScoreAttempt {
    pub db: Db,
    pub cache: Cache,
}

pub(crate) fn attempt_id(job: &JobContext) -> Result<AttemptId, HandlerError> {
    job.data
        .get("attemptId")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HandlerError::Fatal("the job has no valid attemptId".into()))
}

#[async_trait]
impl JobHandler for ScoreAttempt {
    async fn handle(&self, job: &JobContext) -> Result<(), HandlerError> {
        let id = attempt_id(job)?;
        match crate::service::results::score_attempt(&self.db, &self.cache, id).await {
            Ok(_) => Ok(()),
            Err(ExamError::NotFound(m)) => Err(HandlerError::Fatal(m.into())),
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}
