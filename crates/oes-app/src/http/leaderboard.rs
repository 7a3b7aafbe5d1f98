//! `/api/leaderboard` handlers: the top of the most recently ended exam whose results are
//! released, for everyone (the public home page shows it).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::Serialize;

use crate::domain::ids::UserId;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, CurrentUser};
use crate::service::leaderboard::{self, Leaderboard};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TopFive {
    success: bool,
    #[serde(flatten)]
    board: Leaderboard,
}

/// The signed-in viewer, if any. No session, or an expired, revoked or unverified one, is an
/// anonymous visit and never a 401 or 403: the home page calls this for every visitor, and the
/// frontend answers either status by sending the visitor to /login.
pub(crate) struct Viewer(Option<UserId>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = CurrentUser::from_request_parts(parts, state).await;
        Ok(Viewer(user.ok().map(|u| u.id)))
    }
}

#[utoipa::path(get, path = "/api/leaderboard/top-five", operation_id = "topFive", tag = "leaderboard",
    security((), ("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The most recently ended exam whose grace period is over (an exam still in it is skipped); competition ranking (ties share a rank, earlier submission listed first); rank, name, department, year and score only. A session is optional: it only marks the viewer's own row (isYou)", body = TopFive),
        (status = 404, description = "No exam has released its results yet", body = ErrorBody),
    ))]
pub(crate) async fn top_five(
    State(state): State<AppState>,
    Viewer(viewer): Viewer,
) -> Result<Json<TopFive>, ApiError> {
    let board = leaderboard::top(&state, viewer, 5).await?;
    Ok(Json(TopFive {
        success: true,
        board,
    }))
}
