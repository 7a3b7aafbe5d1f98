//! `/api/auth` handlers: signup, login, logout, email verification, password reset and change.
//!
//! Shapes follow the original (`{message}`, login's `{message, user, accessToken}`); errors use
//! the one `ApiError` shape. Deliberate differences: failures never tell whether an email is
//! registered (one 401 for any failed login; signup, resend and forgot always answer alike),
//! and `verify-email` takes the token from the link's page, POSTed here.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::domain::accounts::Role;
use crate::domain::ids::UserId;
use crate::http::body::{MessageBody, SuccessMessage};
use crate::http::error::ErrorBody;
use crate::http::openapi::{JsonBodyErrors, Unauthenticated};
use crate::http::session::{
    ClientMeta, TokenSource, check_origin, clear_session_cookie, device_cookie, device_token,
    session_cookie, session_token,
};
use crate::http::{ApiError, ApiJson, CurrentUser};
use crate::service::accounts::{self, AccountError, ResetInput, SignupInput, Verified};
use crate::state::AppState;

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Absent fields read as empty, so that a missing one is the service's 400 naming the field
/// rather than a 422; the document still lists them as required, since the API refuses
/// requests without them.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignupBody {
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
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
    /// At least `PASSWORD_MIN_LENGTH` characters (8 unless configured; the served document
    /// states the deployment's minimum), at most 128, of any kind: no composition rules. Not
    /// one of the most common passwords, nor the email address or name.
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128)]
    password: String,
}

/// Registers an account and emails a verification link. The answer is the same whether or not
/// the email was already registered.
#[utoipa::path(post, path = "/api/auth/signup", operation_id = "signup", tag = "auth", request_body = SignupBody,
    responses(
        (status = 201, description = "Signup received; a verification link is on its way", body = MessageBody),
        (status = 400, description = "Invalid name or email; a password that is too short or too long, one of the most common passwords, or the email address or name; or malformed JSON. The message says which", body = ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = ErrorBody),
        (status = 503, description = "Busy: every password-hashing slot and its queue are taken; see Retry-After", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub(crate) async fn signup(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
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
        MessageBody::json("Signup received. Check your email for a verification link."),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginResponse {
    message: &'static str,
    user: LoginUser,
    /// The session token, for clients that send `Authorization: Bearer`.
    access_token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginUser {
    id: UserId,
    #[schema(format = Email)]
    email: String,
    full_name: String,
    role: Role,
}

/// Starts a session: sets the HttpOnly `accessToken` cookie and returns the same token for
/// non-browser clients (Bearer). Also sets `oesDevice`, sent back only to this route: a client
/// that holds it for the account may still sign in while the account is locked after failures
/// from elsewhere.
#[utoipa::path(post, path = "/api/auth/login", operation_id = "login", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "Missing email or password, or malformed JSON", body = ErrorBody),
        (status = 401, description = "Invalid email or password (one answer for both)", body = ErrorBody),
        (status = 403, description = "Email not verified", body = ErrorBody),
        (status = 429, description = "Too many failed logins for this account from this address or device, for this account from everywhere (devices that signed in before are exempt), or from this address; see Retry-After", body = ErrorBody),
        (status = 503, description = "Busy: every password-hashing slot and its queue are taken; see Retry-After", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    if body.email.trim().is_empty() || body.password.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "email and password are required",
        ));
    }
    let device = device_token(&headers);
    let logged_in = accounts::login(
        &state,
        &client,
        &body.email,
        &body.password,
        device.as_deref(),
    )
    .await?;
    let cookie = session_cookie(&logged_in.token, &state.config.accounts);
    let device = device_cookie(&logged_in.device, &state.config.accounts);
    let user = logged_in.user;
    let body = Json(LoginResponse {
        message: "Login successful",
        user: LoginUser {
            id: user.id,
            email: user.email,
            full_name: user.full_name,
            role: user.role,
        },
        access_token: logged_in.token,
    });
    Ok(with_cookie(
        with_cookie(body.into_response(), &cookie),
        &device,
    ))
}

/// Ends the presented session (if any) and clears the cookie. A cookie-borne logout from a
/// foreign origin is refused: logging a student out mid-exam is an attack too.
#[utoipa::path(post, path = "/api/auth/logout", operation_id = "logout", tag = "auth",
    security((), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Session ended (if one was presented), cookie cleared", body = MessageBody),
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
    Ok(with_cookie(
        MessageBody::json("Logged out").into_response(),
        &cookie,
    ))
}

/// The token from the emailed link (frontend page `/verify-email?token=…`).
#[utoipa::path(post, path = "/api/auth/verify-email/{token}", operation_id = "verifyEmail", tag = "auth",
    params(("token" = String, Path, description = "The token from the verification link: 64 lower-case hex digits", pattern = "^[0-9a-f]{64}$")),
    responses(
        (status = 200, description = "Verified (or already verified)", body = MessageBody),
        (status = 400, description = "Invalid, expired or used link", body = ErrorBody),
    ))]
pub(crate) async fn verify_email(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<MessageBody>, ApiError> {
    Ok(match accounts::verify_email(&state, &token).await? {
        Verified::Now => MessageBody::json("Email verified successfully"),
        Verified::Already => MessageBody::json("Email already verified"),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct EmailBody {
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
}

#[utoipa::path(post, path = "/api/auth/resend-verification", operation_id = "resendVerification", tag = "auth", request_body = EmailBody,
    responses(
        (status = 200, description = "The same answer, after the same work, whatever the address; the email worker then sends a new link (24 hours) if the address belongs to an unverified account", body = MessageBody),
        (status = 400, description = "Not an email address, or malformed JSON", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub(crate) async fn resend_verification(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Json<MessageBody>, ApiError> {
    accounts::resend_verification(&state, &client, &body.email).await?;
    Ok(MessageBody::json(
        "If this address belongs to an unverified account, a new verification link is on its way.",
    ))
}

#[utoipa::path(post, path = "/api/auth/forgot-password", operation_id = "forgotPassword", tag = "auth", request_body = EmailBody,
    responses(
        (status = 200, description = "The same answer, after the same work, whatever the address; the email worker then sends a 6-digit code valid 15 minutes if the address is registered", body = MessageBody),
        (status = 400, description = "Not an email address, or malformed JSON", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub(crate) async fn forgot_password(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<EmailBody>,
) -> Result<Json<MessageBody>, ApiError> {
    accounts::forgot_password(&state, &client, &body.email).await?;
    Ok(MessageBody::json(
        "If this address is registered, a reset code is on its way.",
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResetBody {
    #[serde(default)]
    #[schema(required = true, format = Email, max_length = 254)]
    email: String,
    /// The 6-digit code from the email.
    #[serde(default)]
    #[schema(required = true, pattern = "^[0-9]{6}$")]
    otp: String,
    /// The password policy of signup's `password`.
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128)]
    new_password: String,
}

/// Sets a new password with the emailed code; every session of the account ends. A code
/// allows five wrong tries.
#[utoipa::path(post, path = "/api/auth/reset-password", operation_id = "resetPassword", tag = "auth", request_body = ResetBody,
    responses(
        (status = 200, description = "Password reset", body = MessageBody),
        (status = 400, description = "Invalid input, malformed JSON, or an invalid, expired, used or exhausted code", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Busy: every password-hashing slot and its queue are taken; see Retry-After", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<Json<MessageBody>, ApiError> {
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
    Ok(MessageBody::json(
        "Password reset. Every session was signed out; sign in with the new password.",
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangePasswordBody {
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    current_password: String,
    /// The password policy of signup's `password`, and not the current one.
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128)]
    new_password: String,
}

/// Needs a session; the caller's other sessions end.
#[utoipa::path(post, path = "/api/auth/change-password", operation_id = "changePassword", tag = "auth", request_body = ChangePasswordBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Changed", body = SuccessMessage),
        (status = 400, description = "Policy, wrong current password, same password, or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, or a cookie from a foreign origin", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Busy: every password-hashing slot and its queue are taken; see Retry-After", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ClientMeta(client): ClientMeta,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<Json<SuccessMessage>, ApiError> {
    accounts::change_password(
        &state,
        &client,
        user.id,
        user.session_id,
        &body.current_password,
        &body.new_password,
    )
    .await?;
    Ok(SuccessMessage::json(
        "Password changed. Your other sessions were signed out.",
    ))
}
