//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::db::now_ms;
use crate::redis_link::RedisState;
use crate::state::AppState;

/// Liveness: the process serves HTTP. It deliberately does not echo the caller's address.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "success": true, "status": "ok", "timestamp": now_ms() }))
}

/// Readiness: 200 while the database answers, 503 otherwise. Redis being down degrades the
/// service but does not make it unready: every request can still be served from the database.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let db_ok = tokio::time::timeout(std::time::Duration::from_secs(2), state.db.ping())
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    let redis = state.redis.state().await;
    let (open, idle, max) = state.db.pool_usage();
    let mode = if state.redis.is_configured() {
        "redis"
    } else {
        "embedded"
    };
    let status = match (db_ok, redis) {
        (false, _) => "unavailable",
        (true, RedisState::Down) => "degraded",
        _ => "ready",
    };
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": status,
        "mode": mode,
        "database": {
            "status": if db_ok { "up" } else { "down" },
            "backend": state.db.backend().name(),
            "pool": { "open": open, "idle": idle, "max": max },
        },
        "redis": { "status": redis },
        "queues": { "mode": mode, "status": match redis {
            RedisState::Disabled => "embedded",
            RedisState::Up => "up",
            RedisState::Down => "down",
        } },
    });
    (code, Json(body))
}
