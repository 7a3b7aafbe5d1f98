//! `/api/admin/queues…`, `/api/admin/cache`, `/api/admin/redis`: the monitoring API behind the
//! queue dashboard. Admins only.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::http::{AdminUser, ApiError};
use crate::service::monitoring::{self, MonitoringError, Paging};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/queues", get(queues))
        .route("/admin/queues/{queue}/failed", get(failed))
        .route("/admin/queues/{queue}/retry", post(retry_all))
        .route("/admin/queues/{queue}/jobs/{id}", get(job))
        .route("/admin/queues/{queue}/jobs/{id}/retry", post(retry_job))
        .route("/admin/cache", get(cache))
        .route("/admin/redis", get(redis))
}

impl From<MonitoringError> for ApiError {
    fn from(e: MonitoringError) -> Self {
        match e {
            MonitoringError::UnknownQueue(_) | MonitoringError::JobNotFound(_) => {
                ApiError::not_found(e.to_string())
            }
            MonitoringError::BadPaging(m) => ApiError::bad_request(m),
            MonitoringError::NotFailed { .. } => {
                ApiError::new(StatusCode::CONFLICT, "not_failed", e.to_string())
            }
            MonitoringError::Unavailable => {
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "queue_unavailable",
                    e.to_string(),
                );
                err.retry_after = Some(5);
                err
            }
            MonitoringError::Backend(cause) => ApiError::internal(cause),
        }
    }
}

async fn queues(State(state): State<AppState>, _admin: AdminUser) -> Result<Response, ApiError> {
    Ok(Json(monitoring::queues(&state).await?).into_response())
}

/// Paging arrives as text so that a bad value is our 400 with our error shape.
#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
    limit: Option<String>,
}

fn number(raw: Option<&str>, name: &str) -> Result<Option<u32>, ApiError> {
    raw.map(|s| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request(format!("{name} must be a positive integer")))
    })
    .transpose()
}

async fn failed(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(queue): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(
        number(q.page.as_deref(), "page")?,
        number(q.limit.as_deref(), "limit")?,
    )?;
    Ok(Json(monitoring::failed(&state, &queue, paging).await?).into_response())
}

async fn job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(monitoring::job(&state, &queue, &id).await?).into_response())
}

async fn retry_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    monitoring::retry_job(&state, &queue, &id).await?;
    Ok(Json(json!({ "retried": 1 })).into_response())
}

async fn retry_all(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(queue): Path<String>,
) -> Result<Response, ApiError> {
    let moved = monitoring::retry_all(&state, &queue).await?;
    Ok(Json(json!({ "retried": moved })).into_response())
}

async fn cache(State(state): State<AppState>, _admin: AdminUser) -> Response {
    Json(monitoring::cache(&state)).into_response()
}

async fn redis(State(state): State<AppState>, _admin: AdminUser) -> Response {
    Json(monitoring::redis(&state).await).into_response()
}
