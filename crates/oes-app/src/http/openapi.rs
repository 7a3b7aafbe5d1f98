//! The OpenAPI document of the API, served at `GET /api/openapi.json` (no UI is bundled).
//!
//! Each area describes its handlers with `#[utoipa::path]` and lists them here.

use axum::Json;
use axum::routing::get;
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OES API",
        description = "The OES online-exam platform. Sessions: the HttpOnly cookie `accessToken` \
                       (browsers; cookie-authenticated writes must come from an allowed Origin) \
                       or `Authorization: Bearer <token>` (other clients)."
    ),
    paths(
        super::auth::signup,
        super::auth::login,
        super::auth::logout,
        super::auth::verify_email,
        super::auth::resend_verification,
        super::auth::forgot_password,
        super::auth::reset_password,
        super::auth::change_password,
        super::profile::get_me,
        super::profile::put_me,
        super::profile::request_email_change,
        super::profile::confirm_email_change,
        super::question::create,
        super::question::list,
        super::question::get_one,
        super::question::update,
        super::question::delete,
        super::exam::upcoming,
        super::exam::live,
        super::exam::create,
        super::exam::all,
        super::exam::get_one,
        super::exam::update,
        super::exam::delete,
        super::exam::set_questions,
        super::exam::publish,
        super::attempt::start,
        super::attempt::load,
        super::attempt::save,
        super::attempt::submit,
        super::result::mine,
        super::result::score,
        super::result::analysis,
        super::leaderboard::top_five,
        super::admin_notifications::create,
        super::admin_notifications::progress,
    ),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "profile", description = "The signed-in user's profile and email"),
        (name = "questions", description = "The question bank (administrators)"),
        (name = "exams", description = "Exams: drafts and publishing (administrators), upcoming and live lists (students)"),
        (name = "attempts", description = "A student's attempt: start, paper, save, submit; auto-submitted at the hard end"),
        (name = "results", description = "A student's own results, released when the exam ends"),
        (name = "leaderboard", description = "Top scores of the most recently ended exam (signed-in users)"),
        (name = "notifications", description = "Admin notifications: one message fanned out to an audience by email"),
    )
)]
pub struct ApiDoc;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/openapi.json", get(document))
}

async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
