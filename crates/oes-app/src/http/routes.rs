//! The route table: every URL the server answers, in one place, laid out as the URL tree.
//! Handlers live in one file per area; nothing else in `http/` adds routes.

use axum::routing::{get, post};
use axum::{Extension, Router};

use super::metrics::HttpMetrics;
use super::{
    admin_monitoring, admin_notifications, attempt, auth, dashboard, exam, leaderboard, metrics,
    openapi, probes, profile, question, result,
};
use crate::state::AppState;

/// The whole tree. `extra` is mounted under `/api` too (tests and later modules).
pub fn tree(http_metrics: HttpMetrics, extra: Router<AppState>) -> Router<AppState> {
    Router::new()
        .nest("/api", api().merge(extra))
        // Outside `/api`, where Prometheus expects it.
        .route(
            "/metrics",
            get(metrics::scrape).layer(Extension(http_metrics)),
        )
        .route("/admin/queues", get(dashboard::page))
        .route("/admin/queues/dashboard.js", get(dashboard::script))
        .route("/admin/queues/dashboard.css", get(dashboard::style))
        .route("/admin/queues/favicon.svg", get(dashboard::icon))
}

/// `/api/…`
fn api() -> Router<AppState> {
    Router::new()
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/openapi.json", get(openapi::document))
        // /api/auth
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/verify-email/{token}", post(auth::verify_email))
        .route("/auth/resend-verification", post(auth::resend_verification))
        .route("/auth/forgot-password", post(auth::forgot_password))
        .route("/auth/reset-password", post(auth::reset_password))
        .route("/auth/change-password", post(auth::change_password))
        // /api/profile
        .route("/profile/me", get(profile::get_me).put(profile::put_me))
        .route("/profile/email", post(profile::request_email_change))
        .route(
            "/profile/email/confirm/{token}",
            post(profile::confirm_email_change),
        )
        // /api/question
        .route("/question", get(question::list))
        .route("/question/", get(question::list))
        .route("/question/create", post(question::create))
        .route(
            "/question/{id}",
            get(question::get_one)
                .put(question::update)
                .delete(question::delete),
        )
        // /api/exam
        .route("/exam/upcoming", get(exam::upcoming))
        .route("/exam/live", get(exam::live))
        .route("/exam/create", post(exam::create))
        .route("/exam/all", get(exam::all))
        .route(
            "/exam/{exam_id}",
            get(exam::get_one).put(exam::update).delete(exam::delete),
        )
        .route("/exam/{exam_id}/questions", post(exam::set_questions))
        .route("/exam/{exam_id}/publish", post(exam::publish))
        // /api/exam-attempt
        .route("/exam-attempt/{exam_id}/start", post(attempt::start))
        .route("/exam-attempt/{exam_id}/attempt", get(attempt::load))
        .route("/exam-attempt/{exam_id}/save", post(attempt::save))
        .route("/exam-attempt/{exam_id}/submit", post(attempt::submit))
        // /api/result
        .route("/result", get(result::mine))
        .route("/result/", get(result::mine))
        .route("/result/{exam_id}/score", get(result::score))
        .route("/result/{exam_id}/analysis", get(result::analysis))
        // /api/leaderboard
        .route("/leaderboard/top-five", get(leaderboard::top_five))
        // /api/admin
        .route("/admin/notifications", post(admin_notifications::create))
        .route(
            "/admin/notifications/{id}",
            get(admin_notifications::progress),
        )
        .route("/admin/queues", get(admin_monitoring::queues))
        .route(
            "/admin/queues/{queue}/failed",
            get(admin_monitoring::failed),
        )
        .route(
            "/admin/queues/{queue}/retry",
            post(admin_monitoring::retry_all),
        )
        .route(
            "/admin/queues/{queue}/jobs/{id}",
            get(admin_monitoring::job),
        )
        .route(
            "/admin/queues/{queue}/jobs/{id}/retry",
            post(admin_monitoring::retry_job),
        )
        .route("/admin/cache", get(admin_monitoring::cache))
        .route("/admin/redis", get(admin_monitoring::redis))
}
