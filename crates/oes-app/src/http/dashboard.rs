//! `/admin/queues`: the queue dashboard, a static page (HTML, JS, CSS compiled into the binary)
//! that signs an admin in through `/api/auth/login` and polls the monitoring API. Nothing is
//! fetched from elsewhere, and the content security policy forbids it.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("../../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../../assets/dashboard/dashboard.js");
const STYLE: &str = include_str!("../../assets/dashboard/dashboard.css");
const ICON: &str = include_str!("../../assets/dashboard/favicon.svg");

/// Same-origin only: scripts, styles and API calls; no inline code, no framing.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self'; form-action 'none'; \
                      frame-ancestors 'none'; base-uri 'none'";

pub(crate) async fn page() -> Response {
    serve(PAGE, "text/html; charset=utf-8")
}

pub(crate) async fn script() -> Response {
    serve(SCRIPT, "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    serve(STYLE, "text/css; charset=utf-8")
}

pub(crate) async fn icon() -> Response {
    serve(ICON, "image/svg+xml")
}

fn serve(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(POLICY),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}
