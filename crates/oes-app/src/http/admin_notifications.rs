//! `/api/admin/notifications`: an administrator messages an audience and follows the progress.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::http::auth::ErrorBody;
use crate::http::{AdminUser, ApiError, ApiJson};
use crate::service::notifications::{self, NewMessage, NotificationError};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/notifications", post(create))
        .route("/admin/notifications/{id}", get(progress))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateBody {
    subject: String,
    body: String,
    audience: String,
    exam_id: Option<String>,
    addresses: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/api/admin/notifications", tag = "notifications", request_body(content = serde_json::Value, description = "subject (one line, 1-200 characters), body (1-20,000 characters), audience: VERIFIED_USERS | EXAM_PARTICIPANTS (with examId) | ADDRESSES (with addresses: [email], up to 100,000, duplicates dropped)"), responses((status = 202, description = "{id}: the fan-out runs as a job; follow it with GET /api/admin/notifications/{id}", body = serde_json::Value), (status = 400, description = "Validation failed (details.field names the field)", body = ErrorBody), (status = 404, description = "No such exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(req): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let message = NewMessage::parse(
        &req.subject,
        &req.body,
        &req.audience,
        req.exam_id.as_deref(),
        req.addresses.as_deref(),
    )?;
    let id = notifications::create(&state.db, &state.jobs, admin.id, message).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "id": id }))).into_response())
}

#[utoipa::path(get, path = "/api/admin/notifications/{id}", tag = "notifications", params(("id" = String, Path, description = "The notification id (UUID)")), responses((status = 200, description = "{id, audience, examId, subject, recipients, status: FANNING_OUT|FANNED_OUT, enqueued, queued, sent, failed, done, createdAt, fannedOutAt}", body = serde_json::Value), (status = 404, description = "No such notification", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn progress(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = id
        .parse()
        .map_err(|_| ApiError::not_found("no such notification"))?;
    let progress = notifications::progress(&state.db, id).await?;
    Ok(axum::Json(progress).into_response())
}

impl From<NotificationError> for ApiError {
    fn from(e: NotificationError) -> Self {
        match e {
            NotificationError::Invalid { field, message } => {
                ApiError::new(StatusCode::BAD_REQUEST, "validation_failed", message)
                    .with_details(json!({ "field": field }))
            }
            NotificationError::NotFound => ApiError::not_found("no such notification"),
            NotificationError::ExamNotFound => ApiError::not_found("no such exam"),
            e @ (NotificationError::Db(_) | NotificationError::Email(_)) => ApiError::internal(e),
        }
    }
}
