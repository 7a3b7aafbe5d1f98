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
    ),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "profile", description = "The signed-in user's profile and email"),
    )
)]
pub struct ApiDoc;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/openapi.json", get(document))
}

async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
