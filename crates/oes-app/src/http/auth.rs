//! `/api/auth`: signup, login, logout, email verification, password reset and change.
//!
//! Shapes follow the original (`{message}`, login's `{message, user, accessToken}`); errors use
//! the one `ApiError` shape. Deliberate differences: failures never tell whether an email is
//! registered (one 401 for any failed login; signup, resend and forgot always answer alike),
//! and `verify-email` takes the token from the link's page, POSTed here.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::http::session::{
    ClientMeta, TokenSource, check_origin, clear_session_cookie, session_cookie, session_token,
};
use crate::http::{ApiError, ApiJson, CurrentUser};
use crate::service::accounts::{self, AccountError, ResetInput, SignupInput, Verified};
use crate::state::AppState;

/// The accounts area: these routes, `/api/profile`'s, and the OpenAPI document.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/verify-email/{token}", post(verify_email))
        .route("/auth/resend-verification", post(resend_verification))
        .route("/auth/forgot-password", post(forgot_password))
        .route("/auth/reset-password", post(reset_password))
        .route("/auth/change-password", post(change_password))
        .merge(super::profile::routes())
        .merge(super::openapi::routes())
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(invalid) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                invalid.message,
            )
            .with_details(json!({ "field": invalid.field })),
            AccountError::InvalidChoice(choice) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_value",
                format!(
                    "{} must be one of {}",
                    choice.field,
                    choice.allowed.join(", ")
                ),
            )
            .with_details(json!({ "field": choice.field, "allowed": choice.allowed })),
            AccountError::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid email or password",
            ),
            AccountError::WrongPassword => ApiError::new(
                StatusCode::BAD_REQUEST,
                "wrong_password",
                "the current password is incorrect",
            ),
            AccountError::SamePassword => ApiError::new(
                StatusCode::BAD_REQUEST,
                "same_password",
                "the new password must differ from the current one",
            ),
            AccountError::BadToken => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "this link or code is invalid, expired or already used",
            ),
            AccountError::NotVerified => ApiError::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "verify your email address first; a new link can be requested",
            ),
            AccountError::UserNotFound => ApiError::not_found("no such user"),
            AccountError::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "this email address is already in use",
            ),
            AccountError::EnrollmentTaken => ApiError::new(
                StatusCode::CONFLICT,
                "enrollment_taken",
                "this enrollment number is already in use",
            ),
            AccountError::RateLimited(limited) => {
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many requests; try again later",
                );
                error.retry_after = Some(limited.retry_after_secs());
                error
            }
            e @ (AccountError::Db(_)
            | AccountError::Email(_)
            | AccountError::Hash(_)
            | AccountError::Internal(_)) => ApiError::internal(e),
        }
    }
}

fn message(text: &str) -> Json<serde_json::Value> {
    Json(json!({ "message": text }))
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignupBody {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Registers an account and emails a verification link. The answer is the same whether or not
/// the email was already registered.
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = SignupBody,
    responses(
        (status = 201, description = "Signup received; a verification link is on its way", body = MessageBody),
        (status = 400, description = "Invalid name, email, or a password outside the policy", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
    ))]
pub(crate) async fn signup(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    accounts::signup(
        &state,
        &client,
        SignupInput {
            full_name: &body.full_name,
            email: &body.email,
            password: &body.password,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        message("Signup received. Check your email for a verification link."),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Starts a session: sets the HttpOnly `accessToken` cookie and returns the same token for
/// non-browser clients (Bearer).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "Missing email or password", body = ErrorBody),
        (status = 401, description = "Invalid email or password (one answer for both)", body = ErrorBody),
        (status = 403, description = "Email not verified", body = ErrorBody),
        (status = 429, description = "Rate limited or account locked after failures; see Retry-After", body = ErrorBody),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    if body.email.trim().is_empty() || body.password.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "email and password are required",
        ));
    }
    let logged_in = accounts::login(&state, &client, &body.email, &body.password).await?;
    let user = &logged_in.user;
    let body = Json(json!({
        "message": "Login successful",
        "user": {
            "id": user.id,
            "email": user.email,
            "fullName": user.full_name,
            "role": user.role,
        },
        "accessToken": logged_in.token,
    }));
    let cookie = session_cookie(&logged_in.token, &state.config.accounts);
    Ok(with_cookie(body.into_response(), &cookie))
}

/// Ends the presented session (if any) and clears the cookie. A cookie-borne logout from a
/// foreign origin is refused: logging a student out mid-exam is an attack too.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 200, description = "Session ended, cookie cleared", body = MessageBody),
        (status = 403, description = "Cookie sent from a foreign origin", body = ErrorBody),
    ))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some((token, source)) = session_token(&headers) {
        if source == TokenSource::Cookie {
            check_origin(&axum::http::Method::POST, &headers, &state.config.accounts)?;
        }
        accounts::logout(&state, &token).await?;
    }
    let cookie = clear_session_cookie(&state.config.accounts);
    Ok(with_cookie(message("Logged out").into_response(), &cookie))
}

/// The token from the emailed link (frontend page `/verify-email?token=…`).
#[utoipa::path(post, path = "/api/auth/verify-email/{token}", tag = "auth",
    params(("token" = String, Path, description = "The token from the verification link")),
    responses(
        (status = 200, description = "Verified (or already verified)", body = MessageBody),
        (status = 400, description = "Invalid, expired or used link", body = ErrorBody),
    ))]
pub(crate) async fn verify_email(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(match accounts::verify_email(&state, &token).await? {
        Verified::Now => message("Email verified successfully"),
        Verified::Already => message("Email already verified"),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct EmailBody {
    #[serde(default)]
    email: String,
}

#[utoipa::path(post, path = "/api/auth/resend-verification", tag = "auth", request_body = EmailBody,
    responses(
        (status = 200, description = "The same answer whatever the address", body = MessageBody),
        (status = 400, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub(crate) async fn resend_verification(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    accounts::resend_verification(&state, &client, &body.email).await?;
    Ok(message(
        "If this address belongs to an unverified account, a new verification link is on its way.",
    ))
}

#[utoipa::path(post, path = "/api/auth/forgot-password", tag = "auth", request_body = EmailBody,
    responses(
        (status = 200, description = "The same answer whatever the address; a 6-digit code valid 15 minutes is emailed", body = MessageBody),
        (status = 400, description = "Not an email address", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub(crate) async fn forgot_password(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    accounts::forgot_password(&state, &client, &body.email).await?;
    Ok(message(
        "If this address is registered, a reset code is on its way.",
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResetBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    new_password: String,
}

/// Sets a new password with the emailed code; every session of the account ends. A code
/// allows five wrong tries.
#[utoipa::path(post, path = "/api/auth/reset-password", tag = "auth", request_body = ResetBody,
    responses(
        (status = 200, description = "Password reset", body = MessageBody),
        (status = 400, description = "Invalid input, or an invalid, expired, used or exhausted code", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if body.otp.trim().is_empty() {
        return Err(AccountError::Invalid(crate::domain::accounts::Invalid {
            field: "otp",
            message: "the reset code (otp) is required".to_owned(),
        })
        .into());
    }
    accounts::reset_password(
        &state,
        &client,
        ResetInput {
            email: &body.email,
            code: &body.otp,
            new_password: &body.new_password,
        },
    )
    .await?;
    Ok(message(
        "Password reset. Every session was signed out; sign in with the new password.",
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangePasswordBody {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Needs a session; the caller's other sessions end.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth", request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Changed: `{success: true, message}`", body = MessageBody),
        (status = 400, description = "Policy, wrong current password, or same password", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Email not verified, or a cookie from a foreign origin", body = ErrorBody),
    ))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    accounts::change_password(
        &state,
        &client,
        user.id,
        user.session_id,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(Json(json!({
        "success": true,
        "message": "Password changed. Your other sessions were signed out.",
    })))
}

/// `{message}`: the answer of most account routes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema for the OpenAPI document only
pub(crate) struct MessageBody {
    message: String,
}

/// The one error shape of the API.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema for the OpenAPI document only
pub(crate) struct ErrorBody {
    /// Stable, for programs: `validation_failed`, `invalid_value`, `invalid_credentials`,
    /// `unauthorized`, `email_not_verified`, `forbidden`, `csrf_rejected`, `invalid_token`,
    /// `rate_limited`, `email_taken`, `enrollment_taken`, …
    code: String,
    message: String,
    /// For example `{field}` or `{field, allowed}`.
    details: Option<serde_json::Value>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // a schema for the OpenAPI document only, in the JSON's case
pub(crate) struct LoginResponse {
    message: String,
    user: LoginUser,
    /// The session token, for clients that send `Authorization: Bearer`.
    accessToken: String,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)] // a schema for the OpenAPI document only, in the JSON's case
pub(crate) struct LoginUser {
    id: String,
    email: String,
    fullName: String,
    /// `USER` or `ADMIN`.
    role: String,
}
