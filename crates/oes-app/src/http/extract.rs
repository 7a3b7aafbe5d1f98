//! Request-side pieces every handler shares: the JSON body extractor [`ApiJson`], path id
//! parsing, query-number parsing, and the client address in the form the attempt store keeps.
//! The session extractors (`CurrentUser`, `AdminUser`) live in [`super::session`].

use std::str::FromStr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, payload_too_large};
use crate::http::session::ClientMeta;
use crate::store::attempts::Client;

/// `axum::Json`, with rejections turned into the API's error shape: 400 for malformed JSON,
/// 413 for a body over the limit, 415 without a JSON content type, 422 for well-formed JSON of
/// the wrong shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the request body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            e.body_text(),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a body with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            payload_too_large()
        }
        other => ApiError::new(other.status(), "bad_request", other.body_text()),
    }
}

/// Parses an id from the path; a malformed one is a 400, not a 404 or a 500.
pub(crate) fn parse_id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("{what} is not a valid id")))
}

/// A query number from 1 to `max`, `default` when absent. Query values arrive as text so that a
/// bad one is our 400 with our error shape, not axum's plain-text rejection.
pub(crate) fn positive(
    raw: Option<&str>,
    name: &str,
    default: i64,
    max: i64,
) -> Result<i64, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be an integer from 1 to {max}"
            ))),
        },
    }
}

/// An optional non-negative query number (range checks are the service's).
pub(crate) fn number(raw: Option<&str>, name: &str) -> Result<Option<u32>, ApiError> {
    raw.map(|s| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request(format!("{name} must be a positive integer")))
    })
    .transpose()
}

/// The client as the attempt store records it (audit of starts, saves and submits).
pub(crate) fn attempt_client(meta: ClientMeta) -> Client {
    Client {
        ip: meta.0.ip.map(|ip| ip.to_string()),
        user_agent: meta.0.user_agent,
    }
}
