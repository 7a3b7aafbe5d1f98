//! The one JSON error shape of the API: `{code, message}` plus optional `details`, and the
//! mapping of every service error onto it (one place decides each error's status and code).
//!
//! Clients get a stable `code` and a human message; never a database or Redis error text. Those
//! are logged with the request instead.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::service::accounts::AccountError;
use crate::service::exams::ExamError;
use crate::service::monitoring::MonitoringError;
use crate::service::notifications::NotificationError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

/// The body of every error answer, as the OpenAPI document describes it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, for programs: `validation_failed`, `invalid_value`, `invalid_body`,
    /// `malformed_json`, `invalid_credentials`, `unauthorized`, `email_not_verified`,
    /// `forbidden`, `csrf_rejected`, `invalid_token`, `rate_limited`, `email_taken`,
    /// `enrollment_taken`, `not_found`, `busy`, …
    #[schema(value_type = String, min_length = 1)]
    pub code: &'static str,
    pub message: String,
    /// For example `{field}`, `{field, allowed}` or `{errors: [..]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// For failures whose cause must not reach the client: logs it, answers a generic 500.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            details: self.details,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this server accepts",
    )
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
            AccountError::Busy(busy) => {
                let mut error = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the server is busy checking passwords; try again shortly",
                );
                error.retry_after = Some(busy.retry_after_secs());
                error
            }
            e @ (AccountError::Db(_)
            | AccountError::Email(_)
            | AccountError::Hash(_)
            | AccountError::Internal(_)) => ApiError::internal(e),
        }
    }
}

impl From<ExamError> for ApiError {
    fn from(e: ExamError) -> Self {
        match e {
            ExamError::NotFound(m) => ApiError::not_found(m),
            ExamError::Invalid(errors) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                errors.join("; "),
            )
            .with_details(json!({ "errors": errors })),
            ExamError::Rejected(code, m) => ApiError::new(StatusCode::BAD_REQUEST, code, m),
            ExamError::Forbidden(code, m) => ApiError::new(StatusCode::FORBIDDEN, code, m),
            ExamError::Conflict(code, m) => ApiError::new(StatusCode::CONFLICT, code, m),
            e @ (ExamError::Db(_) | ExamError::Internal(_)) => ApiError::internal(e),
        }
    }
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
