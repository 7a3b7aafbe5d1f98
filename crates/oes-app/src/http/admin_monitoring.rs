//! `/api/admin/queues…`, `/api/admin/cache`, `/api/admin/redis` handlers: the monitoring API
//! behind the queue dashboard. Admins only.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::http::extract::number;
use crate::http::{AdminUser, ApiError};
use crate::service::monitoring::{self, Paging};
use crate::state::AppState;

pub(crate) async fn queues(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Response, ApiError> {
    Ok(Json(monitoring::queues(&state).await?).into_response())
}

/// Paging arrives as text so that a bad value is our 400 with our error shape.
#[derive(Deserialize)]
pub(crate) struct PageQuery {
    page: Option<String>,
    limit: Option<String>,
}

pub(crate) async fn failed(
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

pub(crate) async fn job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(monitoring::job(&state, &queue, &id).await?).into_response())
}

pub(crate) async fn retry_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    monitoring::retry_job(&state, &queue, &id).await?;
    Ok(Json(json!({ "retried": 1 })).into_response())
}

pub(crate) async fn retry_all(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(queue): Path<String>,
) -> Result<Response, ApiError> {
    let moved = monitoring::retry_all(&state, &queue).await?;
    Ok(Json(json!({ "retried": moved })).into_response())
}

pub(crate) async fn cache(State(state): State<AppState>, _admin: AdminUser) -> Response {
    Json(monitoring::cache(&state)).into_response()
}

pub(crate) async fn redis(State(state): State<AppState>, _admin: AdminUser) -> Response {
    Json(monitoring::redis(&state).await).into_response()
}
