//! `/api/admin/queues…`, `/api/admin/cache`, `/api/admin/redis` handlers: the monitoring API
//! behind the queue dashboard. Admins only.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use crate::http::error::ErrorBody;
use crate::http::extract::number;
use crate::http::openapi::Unauthenticated;
use crate::http::{AdminUser, ApiError};
use crate::service::monitoring::{
    self, CacheReport, FailedPage, JobView, Paging, QueuesOverview, RedisReport,
};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/admin/queues", operation_id = "listQueues", tag = "monitoring",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Counts per state of every queue, with this process's worker counters", body = QueuesOverview),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        (status = 503, description = "The job queue is not connected; see Retry-After", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn queues(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<QueuesOverview>, ApiError> {
    Ok(Json(monitoring::queues(&state).await?))
}

/// Paging arrives as text so that a bad value is our 400 with our error shape; the document
/// states the values accepted.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// 1-based; default 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4_294_967_295.0)]
    page: Option<String>,
    /// Default 20.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/queues/{queue}/failed", operation_id = "listFailedJobs", tag = "monitoring",
    params(("queue" = String, Path, description = "A queue this platform runs (as listed by GET /api/admin/queues); anything else is a 404"), PageQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "One page of the queue's failed jobs, most recently failed first; payloads redacted", body = FailedPage),
        (status = 400, description = "Bad page or limit", body = ErrorBody),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
        (status = 503, description = "The job queue is not connected; see Retry-After", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn failed(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(queue): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<FailedPage>, ApiError> {
    let paging = Paging::new(
        number(q.page.as_deref(), "page")?,
        number(q.limit.as_deref(), "limit")?,
    )?;
    Ok(Json(monitoring::failed(&state, &queue, paging).await?))
}

#[utoipa::path(get, path = "/api/admin/queues/{queue}/jobs/{id}", operation_id = "getJob", tag = "monitoring",
    params(
        ("queue" = String, Path, description = "A queue this platform runs; anything else is a 404"),
        ("id" = String, Path, description = "The job id; an unknown or malformed one is a 404"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The job's status; its payload redacted", body = JobView),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        (status = 404, description = "No such queue, or no such job in it", body = ErrorBody),
        (status = 503, description = "The job queue is not connected; see Retry-After", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(monitoring::job(&state, &queue, &id).await?))
}

/// `{retried}`: how many failed jobs went back to waiting.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Retried {
    retried: u64,
}

#[utoipa::path(post, path = "/api/admin/queues/{queue}/jobs/{id}/retry", operation_id = "retryJob", tag = "monitoring",
    params(
        ("queue" = String, Path, description = "A queue this platform runs; anything else is a 404"),
        ("id" = String, Path, description = "The id of a failed job; an unknown or malformed one is a 404"),
    ),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The job is waiting again, its attempt count kept (`retried` is 1)", body = Retried),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such queue, or no such job in it", body = ErrorBody),
        (status = 409, description = "not_failed: the job is not in the failed state", body = ErrorBody),
        (status = 503, description = "The job queue is not connected; see Retry-After", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn retry_job(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path((queue, id)): Path<(String, String)>,
) -> Result<Json<Retried>, ApiError> {
    monitoring::retry_job(&state, &queue, &id).await?;
    Ok(Json(Retried { retried: 1 }))
}

#[utoipa::path(post, path = "/api/admin/queues/{queue}/retry", operation_id = "retryFailedJobs", tag = "monitoring",
    params(("queue" = String, Path, description = "A queue this platform runs; anything else is a 404")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every failed job of the queue is waiting again; `retried` counts them", body = Retried),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such queue", body = ErrorBody),
        (status = 503, description = "The job queue is not connected; see Retry-After", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn retry_all(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(queue): Path<String>,
) -> Result<Json<Retried>, ApiError> {
    let retried = monitoring::retry_all(&state, &queue).await?;
    Ok(Json(Retried { retried }))
}

#[utoipa::path(get, path = "/api/admin/cache", operation_id = "cacheStats", tag = "monitoring",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The cache's counters since start-up, with hit rates per tier (null before the first read)", body = CacheReport),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn cache(State(state): State<AppState>, _admin: AdminUser) -> Json<CacheReport> {
    Json(monitoring::cache(&state))
}

#[utoipa::path(get, path = "/api/admin/redis", operation_id = "redisInfo", tag = "monitoring",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Facts about the Redis servers in use, with warnings an operator must act on; an unreachable server is reported, not an error", body = RedisReport),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn redis(State(state): State<AppState>, _admin: AdminUser) -> Json<RedisReport> {
    Json(monitoring::redis(&state).await)
}
