//! `/api/profile` handlers: the signed-in user's profile, and email change.
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

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use crate::domain::accounts::{Course, Department, ProfileEnum, Semester, Year};
use crate::http::body::MessageBody;
use crate::http::error::ErrorBody;
use crate::http::openapi::{JsonBodyErrors, Unauthenticated};
use crate::http::session::ClientMeta;
use crate::http::{ApiError, ApiJson, CurrentUser};
use crate::service::accounts::{self, ProfileInput, ProfileView};
use crate::state::AppState;

/// `{message, data}` of the profile routes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ProfileResponse {
    message: &'static str,
    data: ProfileView,
}

/// The signed-in user's account and profile, served through the cache.
#[utoipa::path(get, path = "/api/profile/me", operation_id = "getProfile", tag = "profile",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "`{message, data}`", body = ProfileResponse),
        (status = 403, description = "Email not verified", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn get_me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<ProfileResponse>, ApiError> {
    let data = accounts::get_profile(&state, user.id).await?;
    Ok(Json(ProfileResponse {
        message: "Profile fetched",
        data,
    }))
}

fn choice<E: ProfileEnum>() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(E::ALLOWED.iter().copied()))
        .description(Some("Any case is accepted; stored upper-case"))
        .build()
}

fn course() -> Object {
    choice::<Course>()
}

fn department() -> Object {
    choice::<Department>()
}

fn year() -> Object {
    choice::<Year>()
}

fn semester() -> Object {
    choice::<Semester>()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProfileBody {
    /// Trimmed; 1 to 100 characters, no control characters.
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    full_name: String,
    #[serde(default)]
    #[schema(required = true, schema_with = course)]
    course: String,
    #[serde(default)]
    #[schema(required = true, schema_with = department)]
    department: String,
    #[serde(default)]
    #[schema(required = true, schema_with = year)]
    year: String,
    #[serde(default)]
    #[schema(required = true, schema_with = semester)]
    semester: String,
    /// Trimmed; 3 to 50 characters, no control characters; unique.
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 3,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    enrollment_number: String,
}

/// Creates or replaces the profile and the full name. Enumerations accept any case.
#[utoipa::path(put, path = "/api/profile/me", operation_id = "updateProfile", tag = "profile", request_body = ProfileBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "`{message, data}` with the new values", body = ProfileResponse),
        (status = 400, description = "`validation_failed` (details.field), `invalid_value` (details.field, details.allowed), or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, or a cookie from a foreign origin", body = ErrorBody),
        (status = 409, description = "Enrollment number taken", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn put_me(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Json<ProfileResponse>, ApiError> {
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
    Ok(Json(ProfileResponse {
        message: "Profile updated",
        data: view,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmailChangeBody {
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    new_email: String,
    /// The current password.
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    password: String,
}

/// Emails a confirmation link (24 h) to the new address and a notice to the current one. The
/// answer is the same when the new address is taken (no link is sent then).
#[utoipa::path(post, path = "/api/profile/email", operation_id = "requestEmailChange", tag = "profile", request_body = EmailChangeBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Confirmation link sent", body = MessageBody),
        (status = 400, description = "Invalid address, wrong password, or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, or a cookie from a foreign origin", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Busy: every password-hashing slot and its queue are taken; see Retry-After", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn request_email_change(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<EmailChangeBody>,
) -> Result<Json<MessageBody>, ApiError> {
    accounts::request_email_change(&state, &client, user.id, &body.new_email, &body.password)
        .await?;
    Ok(MessageBody::json(
        "A confirmation link was sent to the new address; the change applies once it is opened.",
    ))
}

/// The token from the link (frontend page `/confirm-email-change?token=…`); applies the change
/// and ends every session of the account.
#[utoipa::path(post, path = "/api/profile/email/confirm/{token}", operation_id = "confirmEmailChange", tag = "profile",
    params(("token" = String, Path, description = "The token from the confirmation link: 64 lower-case hex digits", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "Email changed", body = MessageBody),
        (status = 400, description = "Invalid, expired or used link", body = ErrorBody),
        (status = 409, description = "The address was taken meanwhile", body = ErrorBody),
    ))]
pub(crate) async fn confirm_email_change(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<MessageBody>, ApiError> {
    accounts::confirm_email_change(&state, &token).await?;
    Ok(MessageBody::json(
        "Email changed. Every session was signed out; sign in with the new address.",
    ))
}
