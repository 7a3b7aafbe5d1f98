//! `/api/leaderboard` handlers: the top of the most recently ended exam, for signed-in users,
//! once its results are released.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::http::error::ErrorBody;
use crate::http::openapi::Unauthenticated;
use crate::http::{ApiError, CurrentUser};
use crate::service::leaderboard::{self, Leaderboard};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TopFive {
    success: bool,
    #[serde(flatten)]
    board: Leaderboard,
}

#[utoipa::path(get, path = "/api/leaderboard/top-five", operation_id = "topFive", tag = "leaderboard",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The most recently ended exam, once its grace period is over; competition ranking (ties share a rank, earlier submission listed first); only names and scores of others", body = TopFive),
        (status = 403, description = "Email not verified, or results_not_released: the most recently ended exam is still in its grace period (the message names the release time)", body = ErrorBody),
        (status = 404, description = "No exam has ended yet", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn top_five(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<TopFive>, ApiError> {
    let board = leaderboard::top(&state, user.id, 5).await?;
    Ok(Json(TopFive {
        success: true,
        board,
    }))
}
