//! What every request handler can reach.

use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::jobs::JobRuntime;
use crate::redis_link::RedisLink;
use crate::service::email::Emails;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub redis: RedisLink,
    pub cache: oes_cache::Cache,
    pub jobs: JobRuntime,
    pub emails: Emails,
    pub rate_limiter: crate::service::rate_limit::RateLimiter,
    pub exam_stats: Arc<crate::service::exams::ExamStats>,
}
