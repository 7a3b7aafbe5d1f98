//! `/api/profile`: the signed-in user's profile, and email change.
//!
//! - `GET /api/profile/me` → `{message, data:{id,email,fullName,emailVerified,profile|null,profileComplete}}`
//!   (served through the cache; `profileComplete` is a boolean, where the original returned the
//!   enrollment number);
//! - `PUT /api/profile/me` with `fullName, course, department, year, semester, enrollmentNumber`
//!   → the same shape; a value outside an enumeration is 400 with the allowed values in `details`;
//! - `POST /api/profile/email` with `{newEmail, password}` → a confirmation link goes to the new
//!   address (page `APP_BASE_URL/confirm-email-change?token=…`) and a notice to the old one;
//! - `POST /api/profile/email/confirm/{token}` (no session needed: the link proves the new
//!   mailbox) → the change is applied and every session of the account ends.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::http::auth::{ErrorBody, MessageBody};
use crate::http::session::ClientMeta;
use crate::http::{ApiError, ApiJson, CurrentUser};
use crate::service::accounts::{self, ProfileInput};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/profile/me", get(get_me).put(put_me))
        .route("/profile/email", post(request_email_change))
        .route("/profile/email/confirm/{token}", post(confirm_email_change))
}

/// The signed-in user's account and profile, served through the cache.
#[utoipa::path(get, path = "/api/profile/me", tag = "profile",
    responses(
        (status = 200, description = "`{message, data}`", body = ProfileResponse),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Email not verified", body = ErrorBody),
    ))]
pub(crate) async fn get_me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let view = accounts::get_profile(&state, user.id).await?;
    Ok(Json(json!({ "message": "Profile fetched", "data": view })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProfileBody {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    course: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    semester: String,
    #[serde(default)]
    enrollment_number: String,
}

/// Creates or replaces the profile and the full name. Enumerations accept any case.
#[utoipa::path(put, path = "/api/profile/me", tag = "profile", request_body = ProfileBody,
    responses(
        (status = 200, description = "`{message, data}` with the new values", body = ProfileResponse),
        (status = 400, description = "`validation_failed` (details.field) or `invalid_value` (details.field, details.allowed)", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Email not verified, or a cookie from a foreign origin", body = ErrorBody),
        (status = 409, description = "Enrollment number taken", body = ErrorBody),
    ))]
pub(crate) async fn put_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let view = accounts::update_profile(
        &state,
        user.id,
        ProfileInput {
            full_name: &body.full_name,
            course: &body.course,
            department: &body.department,
            year: &body.year,
            semester: &body.semester,
            enrollment_number: &body.enrollment_number,
        },
    )
    .await?;
    Ok(Json(json!({ "message": "Profile updated", "data": view })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmailChangeBody {
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    password: String,
}

/// Emails a confirmation link (24 h) to the new address and a notice to the current one. The
/// answer is the same when the new address is taken (no link is sent then).
#[utoipa::path(post, path = "/api/profile/email", tag = "profile", request_body = EmailChangeBody,
    responses(
        (status = 200, description = "Confirmation link sent", body = MessageBody),
        (status = 400, description = "Invalid address or wrong password", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub(crate) async fn request_email_change(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<EmailChangeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    accounts::request_email_change(&state, &client, user.id, &body.new_email, &body.password)
        .await?;
    Ok(Json(json!({
        "message": "A confirmation link was sent to the new address; the change applies once it is opened.",
    })))
}

/// The token from the link (frontend page `/confirm-email-change?token=…`); applies the change
/// and ends every session of the account.
#[utoipa::path(post, path = "/api/profile/email/confirm/{token}", tag = "profile",
    params(("token" = String, Path, description = "The token from the confirmation link")),
    responses(
        (status = 200, description = "Email changed", body = MessageBody),
        (status = 400, description = "Invalid, expired or used link", body = ErrorBody),
        (status = 409, description = "The address was taken meanwhile", body = ErrorBody),
    ))]
pub(crate) async fn confirm_email_change(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    accounts::confirm_email_change(&state, &token).await?;
    Ok(Json(json!({
        "message": "Email changed. Every session was signed out; sign in with the new address.",
    })))
}

/// `{message, data}` of the profile routes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema for the OpenAPI document only
pub(crate) struct ProfileResponse {
    message: String,
    data: accounts::ProfileView,
}
