//! Operations monitoring: what the admin queue dashboard, `/api/admin/*` and `/metrics` show.
//!
//! - queues: counts per state of every known queue, worker counters, failed jobs (paged),
//!   one job's status, retrying one or all failed jobs — the same in Redis (BullMQ) and
//!   embedded mode, since both implement [`oes_jobs::JobQueue`];
//! - cache: the cache's counters and hit rates per tier;
//! - Redis: server facts from `INFO` for the queues' Redis and the cache's, with a warning when
//!   the queues' Redis may evict keys (BullMQ needs `maxmemory-policy noeviction`).
//!
//! Job payloads can carry email bodies (Node-shaped `{to, subject, html}` jobs) and so reset
//! links or codes: views show only the payload's shape and identifiers, never bodies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use oes_jobs::{JobCounts, JobError, JobInfo, JobQueue, JobState, WorkerStats};
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde_json::Value;

use crate::state::AppState;

/// The queues this platform always runs. A process also reports any other queue it runs a
/// worker for, so a queue added later shows up without being listed here.
pub use crate::queue::QUEUES;

/// Largest page of failed jobs.
pub const MAX_PAGE_SIZE: u32 = 100;
const DEFAULT_PAGE_SIZE: u32 = 20;

/// How long one admin read may wait on Redis before giving up: the dashboard polls, and a
/// hung Redis must not pile up requests.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    #[error("no queue named {0:?}")]
    UnknownQueue(String),
    #[error("{0}")]
    BadPaging(&'static str),
    #[error("no job {0:?} in this queue")]
    JobNotFound(String),
    #[error("job {id:?} is {state}, not failed")]
    NotFailed { id: String, state: &'static str },
    #[error("the job queue is not connected")]
    Unavailable,
    #[error("job backend: {0}")]
    Backend(JobError),
}

impl From<JobError> for MonitoringError {
    fn from(e: JobError) -> Self {
        match e {
            // A malformed id cannot name a stored job.
            JobError::InvalidJobId(id) => MonitoringError::JobNotFound(id),
            other => MonitoringError::Backend(other),
        }
    }
}

/// Names of the queues to monitor: [`QUEUES`], then any other queue this process works.
pub async fn queue_names(state: &AppState) -> Vec<String> {
    let mut names: Vec<String> = QUEUES.iter().map(|q| (*q).to_owned()).collect();
    for (queue, _) in state.jobs.worker_stats().await {
        if !names.contains(&queue) {
            names.push(queue);
        }
    }
    names
}

/// The queue called `name`, if this platform runs it.
async fn known_queue(state: &AppState, name: &str) -> Result<String, MonitoringError> {
    queue_names(state)
        .await
        .into_iter()
        .find(|q| q == name)
        .ok_or_else(|| MonitoringError::UnknownQueue(name.to_owned()))
}

/// A page of a list: 1-based `page`, `limit` items per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub limit: u32,
}

impl Paging {
    /// Defaults: page 1, 20 per page; `limit` at most [`MAX_PAGE_SIZE`].
    pub fn new(page: Option<u32>, limit: Option<u32>) -> Result<Self, MonitoringError> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if page == 0 {
            return Err(MonitoringError::BadPaging("page starts at 1"));
        }
        if limit == 0 || limit > MAX_PAGE_SIZE {
            return Err(MonitoringError::BadPaging(
                "limit must be between 1 and 100",
            ));
        }
        Ok(Paging { page, limit })
    }

    /// Inclusive index range, as BullMQ's ranges are.
    fn range(self) -> (i64, i64) {
        let start = i64::from(self.page - 1) * i64::from(self.limit);
        (start, start + i64::from(self.limit) - 1)
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueSummary {
    pub name: String,
    pub counts: JobCounts,
    /// Counters of this process's worker for the queue (absent when it runs none).
    pub worker: Option<WorkerStats>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuesOverview {
    /// `redis` or `embedded`.
    #[schema(value_type = String, pattern = "^(redis|embedded)$")]
    pub mode: &'static str,
    pub queues: Vec<QueueSummary>,
}

/// One job as the dashboard shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: String,
    pub name: String,
    pub state: JobState,
    pub attempts_made: u32,
    pub failed_reason: Option<String>,
    /// When the job was added, ms since the Unix epoch.
    pub timestamp: u64,
    /// When the latest try started, ms since the Unix epoch.
    pub processed_on: Option<u64>,
    /// When the job completed or finally failed, ms since the Unix epoch.
    pub finished_on: Option<u64>,
    /// The payload with bodies and secrets replaced by `"[redacted]"`.
    pub data: Value,
}

impl From<JobInfo> for JobView {
    fn from(job: JobInfo) -> Self {
        JobView {
            id: job.id,
            name: job.name,
            state: job.state,
            attempts_made: job.attempts_made,
            failed_reason: job.failed_reason,
            timestamp: job.timestamp,
            processed_on: job.processed_on,
            finished_on: job.finished_on,
            data: redact(job.data),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedPage {
    pub queue: String,
    pub page: u32,
    pub limit: u32,
    /// All failed jobs of the queue, not only this page's.
    pub total: u64,
    pub jobs: Vec<JobView>,
}

/// Identifiers are what an operator needs to find a job's cause; anything that is text meant
/// for a person (email bodies) or a credential is hidden.
fn redact(data: Value) -> Value {
    const HIDDEN: [&str; 8] = [
        "html", "text", "body", "token", "code", "otp", "password", "link",
    ];
    match data {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    if HIDDEN.iter().any(|h| lower.contains(h)) {
                        (k, Value::String("[redacted]".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

async fn backend(state: &AppState) -> Result<Arc<dyn JobQueue>, MonitoringError> {
    state
        .jobs
        .backend()
        .await
        .ok_or(MonitoringError::Unavailable)
}

/// A Redis call bounded by [`REDIS_TIMEOUT`]; a timeout reads as "not connected".
async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, JobError>>,
) -> Result<T, MonitoringError> {
    match tokio::time::timeout(REDIS_TIMEOUT, f).await {
        Ok(r) => r.map_err(MonitoringError::from),
        Err(_) => Err(MonitoringError::Unavailable),
    }
}

/// Counts per state of every queue, with this process's worker counters.
pub async fn queues(state: &AppState) -> Result<QueuesOverview, MonitoringError> {
    let backend = backend(state).await?;
    let mut workers: HashMap<String, WorkerStats> = HashMap::new();
    for (queue, stats) in state.jobs.worker_stats().await {
        workers.insert(queue, stats);
    }
    let mut queues = Vec::new();
    for name in queue_names(state).await {
        let counts = bounded(backend.counts(&name)).await?;
        let worker = workers.get(&name).copied();
        queues.push(QueueSummary {
            name,
            counts,
            worker,
        });
    }
    Ok(QueuesOverview {
        mode: mode(state),
        queues,
    })
}

fn mode(state: &AppState) -> &'static str {
    if state.jobs.is_embedded() {
        "embedded"
    } else {
        "redis"
    }
}

/// Failed jobs of `queue`, most recently failed first.
pub async fn failed(
    state: &AppState,
    queue: &str,
    paging: Paging,
) -> Result<FailedPage, MonitoringError> {
    let queue = known_queue(state, queue).await?;
    let queue = queue.as_str();
    let backend = backend(state).await?;
    let total = bounded(backend.counts(queue)).await?.failed;
    let (start, end) = paging.range();
    let jobs = bounded(backend.failed(queue, start, end)).await?;
    Ok(FailedPage {
        queue: queue.to_owned(),
        page: paging.page,
        limit: paging.limit,
        total,
        jobs: jobs.into_iter().map(JobView::from).collect(),
    })
}

/// One job's status.
pub async fn job(state: &AppState, queue: &str, id: &str) -> Result<JobView, MonitoringError> {
    let queue = known_queue(state, queue).await?;
    let queue = queue.as_str();
    let backend = backend(state).await?;
    bounded(backend.job(queue, id))
        .await?
        .map(JobView::from)
        .ok_or_else(|| MonitoringError::JobNotFound(id.to_owned()))
}

/// Moves one failed job back to waiting; its attempt count is kept.
pub async fn retry_job(state: &AppState, queue: &str, id: &str) -> Result<(), MonitoringError> {
    let queue = known_queue(state, queue).await?;
    let queue = queue.as_str();
    let backend = backend(state).await?;
    let Some(job) = bounded(backend.job(queue, id)).await? else {
        return Err(MonitoringError::JobNotFound(id.to_owned()));
    };
    if job.state != JobState::Failed {
        return Err(MonitoringError::NotFailed {
            id: id.to_owned(),
            state: job.state.as_str(),
        });
    }
    // Another admin may have retried it between the two calls: that is the outcome asked for.
    bounded(backend.retry_failed(queue, Some(id))).await?;
    tracing::info!(queue, job = id, "failed job retried by an admin");
    Ok(())
}

/// Moves every failed job of `queue` back to waiting. Returns how many moved.
pub async fn retry_all(state: &AppState, queue: &str) -> Result<u64, MonitoringError> {
    let queue = known_queue(state, queue).await?;
    let queue = queue.as_str();
    let backend = backend(state).await?;
    let moved = bounded(backend.retry_failed(queue, None)).await?;
    tracing::info!(queue, moved, "failed jobs retried by an admin");
    Ok(moved)
}

/// Hits over lookups; `None` before the first lookup.
fn rate(hits: u64, lookups: u64) -> Option<f64> {
    (lookups > 0).then(|| hits as f64 / lookups as f64)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CacheReport {
    /// `memory` or `memory + redis`.
    #[schema(value_type = String, pattern = r"^memory( \+ redis)?$")]
    pub tiers: &'static str,
    pub redis_connected: bool,
    pub namespace: String,
    /// Share of all reads served from the in-process tier.
    #[schema(minimum = 0, maximum = 1)]
    pub l1_hit_rate: Option<f64>,
    /// Share of the reads that reached Redis (missed L1) served from Redis.
    #[schema(minimum = 0, maximum = 1)]
    pub l2_hit_rate: Option<f64>,
    /// Share of all reads served from either tier.
    #[schema(minimum = 0, maximum = 1)]
    pub hit_rate: Option<f64>,
    /// The counters themselves, as fields of the report.
    #[serde(flatten)]
    pub counters: oes_cache::CacheStats,
}

/// The cache's counters since start-up, with hit rates per tier.
pub fn cache(state: &AppState) -> CacheReport {
    let s = state.cache.stats();
    let reads = s.l1_hits + s.l2_hits + s.misses;
    let has_l2 = state.config.redis.cache_url.is_some();
    CacheReport {
        tiers: if has_l2 { "memory + redis" } else { "memory" },
        redis_connected: state.cache.is_redis_connected(),
        namespace: state.config.redis.cache_namespace.clone(),
        l1_hit_rate: rate(s.l1_hits, reads),
        // Without a Redis tier there is no L2 rate to speak of, not a rate of zero.
        l2_hit_rate: rate(s.l2_hits, reads - s.l1_hits).filter(|_| has_l2),
        hit_rate: rate(s.l1_hits + s.l2_hits, reads),
        counters: s,
    }
}

/// Facts about one Redis server, from `INFO`.
#[derive(Debug, Serialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedisServer {
    pub reachable: bool,
    pub version: Option<String>,
    pub mode: Option<String>,
    pub uptime_seconds: Option<u64>,
    pub connected_clients: Option<u64>,
    pub used_memory: Option<u64>,
    pub used_memory_human: Option<String>,
    /// 0: no limit.
    pub maxmemory: Option<u64>,
    pub maxmemory_policy: Option<String>,
}

impl RedisServer {
    fn from_info(info: &str) -> Self {
        let fields: HashMap<&str, &str> = info
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.trim_end().split_once(':'))
            .collect();
        let text = |k: &str| fields.get(k).map(|v| (*v).to_owned());
        let number = |k: &str| fields.get(k).and_then(|v| v.parse().ok());
        RedisServer {
            reachable: true,
            version: text("redis_version"),
            mode: text("redis_mode"),
            uptime_seconds: number("uptime_in_seconds"),
            connected_clients: number("connected_clients"),
            used_memory: number("used_memory"),
            used_memory_human: text("used_memory_human"),
            maxmemory: number("maxmemory"),
            maxmemory_policy: text("maxmemory_policy"),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedisReport {
    /// `redis` or `embedded` (no Redis at all).
    #[schema(value_type = String, pattern = "^(redis|embedded)$")]
    pub mode: &'static str,
    /// The Redis holding the job queues.
    pub queues: Option<RedisServer>,
    /// The cache's Redis, when it has one.
    pub cache: Option<RedisServer>,
    /// Whether the cache uses the queues' Redis (`CACHE_REDIS_URL` unset or equal).
    pub cache_shares_queue_redis: bool,
    pub warnings: Vec<String>,
}

async fn info(conn: Option<ConnectionManager>) -> RedisServer {
    let Some(mut conn) = conn else {
        return RedisServer::default();
    };
    let info = redis::cmd("INFO");
    let call = info.query_async::<String>(&mut conn);
    match tokio::time::timeout(REDIS_TIMEOUT, call).await {
        Ok(Ok(text)) => RedisServer::from_info(&text),
        Ok(Err(e)) => {
            tracing::warn!("redis INFO failed: {e}");
            RedisServer::default()
        }
        Err(_) => RedisServer::default(),
    }
}

/// What an operator must know about the Redis servers in use.
pub async fn redis(state: &AppState) -> RedisReport {
    let cfg = &state.config.redis;
    if cfg.url.is_none() {
        return RedisReport {
            mode: "embedded",
            queues: None,
            cache: None,
            cache_shares_queue_redis: false,
            warnings: Vec::new(),
        };
    }
    let shares = cfg.cache_url == cfg.url;
    let queues = info(state.redis.connection().await).await;
    let cache = if shares || cfg.cache_url.is_none() {
        None
    } else {
        Some(info(state.cache.redis_connection()).await)
    };
    let mut warnings = Vec::new();
    if !queues.reachable {
        warnings.push("the queues' Redis is unreachable".to_owned());
    }
    if let Some(policy) = &queues.maxmemory_policy
        && policy != "noeviction"
    {
        warnings.push(format!(
            "the queues' Redis has maxmemory-policy {policy}: it may evict job keys and lose \
             jobs; BullMQ needs noeviction (give the cache its own Redis with CACHE_REDIS_URL)"
        ));
    }
    if cache.as_ref().is_some_and(|c| !c.reachable) {
        warnings.push("the cache's Redis is unreachable".to_owned());
    }
    RedisReport {
        mode: "redis",
        queues: Some(queues),
        cache,
        cache_shares_queue_redis: shares,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_rejects_page_zero_and_oversized_limits() {
        assert!(Paging::new(Some(0), None).is_err());
        assert!(Paging::new(None, Some(0)).is_err());
        assert!(Paging::new(None, Some(MAX_PAGE_SIZE + 1)).is_err());
        let p = Paging::new(Some(3), Some(10)).expect("valid paging");
        assert_eq!(p.range(), (20, 29));
    }

    #[test]
    fn redaction_hides_bodies_and_codes_but_keeps_identifiers() {
        let data = serde_json::json!({"to": "a@b.c", "subject": "Hi", "html": "<p>code 123456</p>",
            "outboxId": "x", "nested": {"resetToken": "t"}});
        let shown = redact(data);
        assert_eq!(shown["to"], "a@b.c");
        assert_eq!(shown["outboxId"], "x");
        assert_eq!(shown["html"], "[redacted]");
        assert_eq!(shown["nested"]["resetToken"], "[redacted]");
    }

    #[test]
    fn info_text_is_read_into_server_facts() {
        let info = "# Server\r\nredis_version:7.0.15\r\nuptime_in_seconds:42\r\n# Memory\r\n\
                    used_memory:1024\r\nmaxmemory:0\r\nmaxmemory_policy:allkeys-lru\r\n";
        let s = RedisServer::from_info(info);
        assert_eq!(s.version.as_deref(), Some("7.0.15"));
        assert_eq!(s.uptime_seconds, Some(42));
        assert_eq!(s.used_memory, Some(1024));
        assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-lru"));
    }
}
