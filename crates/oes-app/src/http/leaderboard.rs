//! `/api/leaderboard`: the top of the most recently ended exam, for signed-in users.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::http::auth::ErrorBody;
use crate::http::{ApiError, CurrentUser};
use crate::service::leaderboard;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/leaderboard/top-five", get(top_five))
}

#[utoipa::path(get, path = "/api/leaderboard/top-five", tag = "leaderboard", responses((status = 200, description = "{success, exam: {id, title, examDate, endTime, totalMarks}, data: [{rank, name, score, isYou}], count, totalParticipants}: the most recently ended exam; competition ranking (ties share a rank, earlier submission listed first); only names and scores of others", body = serde_json::Value), (status = 404, description = "No exam has ended yet", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn top_five(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    let board = leaderboard::top(&state, user.id, 5).await?;
    let mut body = serde_json::to_value(&board).map_err(ApiError::internal)?;
    if let Some(map) = body.as_object_mut() {
        map.insert("success".into(), json!(true));
    }
    Ok(axum::Json(body).into_response())
}
