//! `/api/leaderboard`: the top of the most recently ended exam, for signed-in users.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::http::{ApiError, CurrentUser};
use crate::service::leaderboard;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/leaderboard/top-five", get(top_five))
}

async fn top_five(State(state): State<AppState>, user: CurrentUser) -> Result<Response, ApiError> {
    let board = leaderboard::top(&state, user.id, 5).await?;
    let mut body = serde_json::to_value(&board).map_err(ApiError::internal)?;
    if let Some(map) = body.as_object_mut() {
        map.insert("success".into(), json!(true));
    }
    Ok(axum::Json(body).into_response())
}
