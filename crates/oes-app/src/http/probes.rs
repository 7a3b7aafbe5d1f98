//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::db::now_ms;
use crate::redis_link::RedisState;
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always true.
    success: bool,
    /// Always `ok`.
    status: &'static str,
    /// Server time, ms since the Unix epoch.
    timestamp: i64,
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/api/health", operation_id = "health", tag = "probes",
    responses(
        (status = 200, description = "The process serves HTTP", body = Health),
    ))]
pub async fn health() -> Json<Health> {
    // Deliberately without the caller's address: a probe answer can end up in shared logs.
    Json(Health {
        success: true,
        status: "ok",
        timestamp: now_ms(),
    })
}

#[derive(Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    /// Database and (if configured) Redis answer.
    Ready,
    /// The database answers, Redis does not.
    Degraded,
    /// The database does not answer.
    Unavailable,
}

/// Where the queues and the cache's shared state live.
#[derive(Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Redis,
    /// No Redis configured: in-process queues and cache.
    Embedded,
}

#[derive(Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkStatus {
    /// In-process, nothing to reach.
    Embedded,
    Up,
    Down,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReadyBody {
    status: Readiness,
    mode: Mode,
    database: DatabaseReport,
    redis: RedisLinkReport,
    queues: QueuesLinkReport,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DatabaseReport {
    /// `up` or `down` (never `embedded`).
    status: LinkStatus,
    /// `sqlite` or `postgres`.
    #[schema(value_type = String, pattern = "^(sqlite|postgres)$")]
    backend: &'static str,
    pool: PoolReport,
}

/// Connections of the database pool.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PoolReport {
    open: u32,
    idle: usize,
    max: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RedisLinkReport {
    status: RedisState,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct QueuesLinkReport {
    mode: Mode,
    status: LinkStatus,
}

/// Readiness: 200 while the database answers, 503 otherwise.
///
/// Redis being down degrades the service but does not make it unready: every request can
/// still be served from the database.
#[utoipa::path(get, path = "/api/ready", operation_id = "ready", tag = "probes",
    responses(
        (status = 200, description = "Ready (status `ready`), or degraded: the database answers but Redis does not", body = ReadyBody),
        (status = 503, description = "Unavailable: the database does not answer within 2 s", body = ReadyBody),
    ))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyBody>) {
    let db_ok = tokio::time::timeout(std::time::Duration::from_secs(2), state.db.ping())
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    let redis = state.redis.state().await;
    let (open, idle, max) = state.db.pool_usage();
    let mode = if state.redis.is_configured() {
        Mode::Redis
    } else {
        Mode::Embedded
    };
    let status = match (db_ok, redis) {
        (false, _) => Readiness::Unavailable,
        (true, RedisState::Down) => Readiness::Degraded,
        _ => Readiness::Ready,
    };
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = ReadyBody {
        status,
        mode,
        database: DatabaseReport {
            status: if db_ok {
                LinkStatus::Up
            } else {
                LinkStatus::Down
            },
            backend: state.db.backend().name(),
            pool: PoolReport { open, idle, max },
        },
        redis: RedisLinkReport { status: redis },
        queues: QueuesLinkReport {
            mode,
            status: match redis {
                RedisState::Disabled => LinkStatus::Embedded,
                RedisState::Up => LinkStatus::Up,
                RedisState::Down => LinkStatus::Down,
            },
        },
    };
    (code, Json(body))
}
