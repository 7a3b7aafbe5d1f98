//! The HTTP API. Its parts:
//! - [`routes`]: the route table, every URL and its handler, laid out as the URL tree;
//! - one handler file per area (`auth`, `profile`, `question`, `exam`, `attempt`, `result`,
//!   `leaderboard`, `admin_notifications`, `admin_monitoring`, `probes`, `dashboard`,
//!   `metrics`), each with the request and response types of its own routes;
//! - shared pieces: [`error`] (the one error shape and every service error's mapping onto it),
//!   [`extract`] (`ApiJson`, id and query parsing), [`session`] (`CurrentUser`, `AdminUser`,
//!   cookies, CSRF), `body` (shared response bodies) and [`openapi`] (the document);
//! - here: the cross-cutting layers (request ids, tracing, [`cors`], body limits, timeouts,
//!   panics, hardening headers), so handlers stay short.

mod admin_monitoring;
mod admin_notifications;
mod attempt;
mod auth;
mod body;
pub mod cors;
mod dashboard;
pub mod error;
mod exam;
pub mod extract;
mod leaderboard;
mod metrics;
pub mod openapi;
mod probes;
mod profile;
mod question;
mod result;
pub mod routes;
pub mod session;

use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::OnResponse as _;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::instrument::WithSubscriber as _;
use tracing::{Dispatch, Span};

pub use error::ApiError;
pub use extract::ApiJson;
pub use session::{AdminUser, CurrentUser};

use crate::state::AppState;

/// The whole application router. `extra` lets tests and later modules mount more routes under
/// the same layers.
pub fn router(state: AppState, extra: Router<AppState>) -> Router {
    let limits = Limits {
        body_bytes: state.config.http.body_limit_bytes,
        timeout: state.config.http.request_timeout,
    };
    let http_metrics =
        metrics::HttpMetrics::new(state.config.observability.metrics_token.is_some());
    let origins = cors::AllowedOrigins::new(&state.config.accounts.allowed_origins);
    routes::tree(http_metrics.clone(), extra)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn_with_state(limits, enforce_limits))
        .layer(middleware::from_fn_with_state(http_metrics, metrics::track))
        .layer(
            ServiceBuilder::new()
                // Outermost, so timeouts, panics and unknown routes carry them too.
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    no_store_for_json,
                ))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(record_response),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                // Outside the panic catcher, so a page on an allowed origin can read even a
                // 500, and outside routing and auth, which would refuse a preflight (405, 401).
                .layer(middleware::from_fn_with_state(origins, cors::cors))
                .layer(CatchPanicLayer::custom(panic_response)),
        )
        .with_state(state)
}

/// `Cache-Control: no-store` for every JSON answer, signed in or not: JSON is what the API
/// answers, and the unauthenticated answers include the most sensitive ones (a login's session
/// token, a signup's); the few public ones (the OpenAPI document, probes) lose nothing by not
/// being cached. A handler that sets its own `Cache-Control` keeps it.
fn no_store_for_json<B>(response: &axum::http::Response<B>) -> Option<HeaderValue> {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    json.then(|| HeaderValue::from_static("no-store"))
}

/// Path segments after which every segment is a one-time secret: the token of
/// `/api/auth/verify-email/{token}` and of `/api/profile/email/confirm/{token}`.
const SECRET_AFTER: [&str; 2] = ["verify-email", "confirm"];

/// What a log line or a trace shows in place of a secret path segment.
pub const REDACTED: &str = "[redacted]";

/// The request path as logs and traces may show it: without its query string, and with every
/// segment after `verify-email` or `confirm` replaced by [`REDACTED`]. Matched by segment, not
/// by route, so a mistyped URL that misses the route (a trailing slash, an extra segment: a
/// 404) is redacted too; the route template alone would lose the path of every 404.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    let mut after_marker = false;
    let mut redacted = false;
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if after_marker && !segment.is_empty() {
                redacted = true;
                return REDACTED;
            }
            after_marker |= SECRET_AFTER
                .iter()
                .any(|marker| segment.eq_ignore_ascii_case(marker));
            segment
        })
        .collect();
    if redacted {
        segments.join("/").into()
    } else {
        path.into()
    }
}

/// The span of one request. Its `otel.*` and `http.*` fields follow OpenTelemetry's HTTP
/// server conventions, so exported traces are named and grouped by route template. The path
/// is the [`loggable_path`]: tokens in it would otherwise reach every debug log and every
/// exported trace.
fn request_span(req: &Request) -> Span {
    let method = req.method();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    tracing::debug_span!(
        target: crate::telemetry::REQUEST_SPAN_TARGET,
        "request",
        method = %method,
        uri = %loggable_path(req.uri().path()),
        version = ?req.version(),
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

fn record_response<B>(response: &axum::http::Response<B>, latency: Duration, span: &Span) {
    let status = response.status();
    // As i64: the OpenTelemetry layer exports unsigned fields as strings.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    DefaultOnResponse::default().on_response(response, latency, span);
}

/// Makes `dispatch` the current subscriber while the router handles each request (see
/// `telemetry::TraceExport`): the request span is created in `call` and the handler runs in
/// the returned future, so both are wrapped.
pub fn with_trace_export(router: Router, dispatch: Dispatch) -> Router {
    router.layer(tower::layer::layer_fn(move |inner| InDispatch {
        inner,
        dispatch: dispatch.clone(),
    }))
}

#[derive(Clone)]
struct InDispatch<S> {
    inner: S,
    dispatch: Dispatch,
}

impl<S, R> tower::Service<R> for InDispatch<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::WithDispatch<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let inner = &mut self.inner;
        tracing::dispatcher::with_default(&self.dispatch, || inner.call(req))
            .with_subscriber(self.dispatch.clone())
    }
}

#[derive(Clone, Copy)]
struct Limits {
    body_bytes: usize,
    timeout: Duration,
}

/// Refuses a declared oversized body before reading it, and bounds every request's time.
async fn enforce_limits(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.body_bytes as u64) {
        return error::payload_too_large().into_response();
    }
    match tokio::time::timeout(limits.timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long and was abandoned",
        )
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method",
    )
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_paths_are_redacted_whatever_follows_them() {
        for (path, shown) in [
            (
                "/api/auth/verify-email/0123abcd",
                "/api/auth/verify-email/[redacted]",
            ),
            (
                "/api/profile/email/confirm/0123abcd",
                "/api/profile/email/confirm/[redacted]",
            ),
            // Misses of the route (404s) carry the token just the same.
            (
                "/api/auth/verify-email/0123abcd/",
                "/api/auth/verify-email/[redacted]/",
            ),
            (
                "/api/auth/Verify-Email/0123abcd/more",
                "/api/auth/Verify-Email/[redacted]/[redacted]",
            ),
            ("/api/auth/verify-email/", "/api/auth/verify-email/"),
            ("/api/exam/42/questions", "/api/exam/42/questions"),
        ] {
            assert_eq!(loggable_path(path), shown, "{path}");
        }
    }
}
