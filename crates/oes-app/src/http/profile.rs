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

async fn get_me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let view = accounts::get_profile(&state, user.id).await?;
    Ok(Json(json!({ "message": "Profile fetched", "data": view })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileBody {
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

async fn put_me(
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailChangeBody {
    #[serde(default)]
    new_email: String,
    #[serde(default)]
    password: String,
}

async fn request_email_change(
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

async fn confirm_email_change(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    accounts::confirm_email_change(&state, &token).await?;
    Ok(Json(json!({
        "message": "Email changed. Every session was signed out; sign in with the new address.",
    })))
}
