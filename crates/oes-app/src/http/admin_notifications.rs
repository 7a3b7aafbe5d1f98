//! `/api/admin/notifications` handlers: an administrator messages an audience and follows the
//! progress.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::http::error::ErrorBody;
use crate::http::openapi::{JsonBodyErrors, Unauthenticated};
use crate::http::{AdminUser, ApiError, ApiJson};
use crate::service::notifications::{self, NewMessage, Progress};
use crate::state::AppState;

/// Who receives a notification.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)] // the values `audience` accepts, for the document; parsed by the service
pub(crate) enum AudienceName {
    /// Every user whose email is verified when the fan-out reaches them.
    VerifiedUsers,
    /// Users with an attempt at `examId`.
    ExamParticipants,
    /// The `addresses` given.
    Addresses,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateBody {
    /// One line; trimmed, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\r\n]*\S[^\r\n]*$")]
    subject: String,
    /// Trimmed, 1 to 20,000 characters.
    #[schema(min_length = 1, max_length = 20000, pattern = r"\S")]
    body: String,
    #[schema(value_type = AudienceName)]
    audience: String,
    /// Required with EXAM_PARTICIPANTS.
    #[schema(value_type = Option<String>, format = Uuid)]
    exam_id: Option<String>,
    /// Required with ADDRESSES: 1 to 100,000 addresses, duplicates dropped.
    #[schema(value_type = Option<Vec<String>>, min_items = 1, max_items = 100000)]
    addresses: Option<Vec<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {
    /// Follow the fan-out with GET /api/admin/notifications/{id}.
    #[schema(value_type = String, format = Uuid)]
    id: uuid::Uuid,
}

#[utoipa::path(post, path = "/api/admin/notifications", operation_id = "createNotification", tag = "notifications", request_body = CreateBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 202, description = "Accepted: the fan-out runs as a job", body = Accepted),
        (status = 400, description = "Validation failed (details.field names the field), or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(req): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let message = NewMessage::parse(
        &req.subject,
        &req.body,
        &req.audience,
        req.exam_id.as_deref(),
        req.addresses.as_deref(),
    )?;
    let id = notifications::create(&state.db, &state.jobs, admin.id, message).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id })))
}

#[utoipa::path(get, path = "/api/admin/notifications/{id}", operation_id = "notificationProgress", tag = "notifications",
    params(("id" = String, Path, format = Uuid, description = "The notification id; anything else is a 404")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The notification and the state of its emails", body = Progress),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        (status = 404, description = "No such notification", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn progress(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Progress>, ApiError> {
    let id = id
        .parse()
        .map_err(|_| ApiError::not_found("no such notification"))?;
    Ok(Json(notifications::progress(&state.db, id).await?))
}
