//! CORS for the allowed origins, with credentials.
//!
//! A frontend on another origin (the Next.js app on :3000 beside the API on :8000, or
//! `exams.example.org` beside `api.example.org`) reads the API's answers only when they name
//! its origin. The origins are `AccountsConfig::allowed_origins`, the list the CSRF check uses,
//! matched exactly; an answer to a listed origin carries `Access-Control-Allow-Origin` with that
//! origin, `Access-Control-Allow-Credentials: true` (the session cookie goes along) and the
//! headers a page may read. Any other origin gets no CORS header at all, so its pages read
//! nothing; the request itself still runs, as any HTTP client's would, and a cookie write from
//! there is refused by the CSRF check.
//!
//! Preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered here, 204, before
//! routing and authentication, which know nothing of them; browsers keep the answer for
//! [`MAX_AGE_SECS`]. Every answer says `Vary: Origin`, since it depends on the caller's origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How long browsers may reuse a preflight answer. Chromium keeps one for two hours at most.
/// Preflights are per URL, and exam URLs carry the exam id, so a long reuse saves a round trip
/// on most of a student's requests during an exam.
pub const MAX_AGE_SECS: u32 = 7200;

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";
/// What the frontend sends: JSON bodies and, for clients that keep the token, the Bearer header.
const ALLOW_HEADERS: &str = "Content-Type, Authorization, X-Request-Id";
/// What a page may read beyond the safelisted headers: when to retry after a 429 or 503, and
/// the request id to quote in a report.
const EXPOSE_HEADERS: &str = "Retry-After, X-Request-Id";
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/// The allowed origins, as the exact header values browsers send.
#[derive(Clone)]
pub struct AllowedOrigins(Arc<[HeaderValue]>);

impl AllowedOrigins {
    pub fn new(origins: &[String]) -> AllowedOrigins {
        AllowedOrigins(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect(),
        )
    }

    /// The request's Origin, when it is one of the list.
    fn of(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        self.0.iter().any(|o| o == origin).then(|| origin.clone())
    }
}

/// The middleware: answers preflights and adds the CORS headers to everything else.
pub async fn cors(State(origins): State<AllowedOrigins>, req: Request, next: Next) -> Response {
    let allowed = origins.of(req.headers());
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static(PREFLIGHT_VARY));
        if let Some(origin) = allowed {
            allow(headers, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOW_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOW_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(MAX_AGE_SECS),
            );
        }
        return response;
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        allow(headers, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    response
}

fn allow(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
}
