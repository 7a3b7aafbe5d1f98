//! `/api/result`: a student's own results, released when the exam ends.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;

use crate::http::exam::parse_id;
use crate::http::{ApiError, CurrentUser};
use crate::service::results::{self, Outcome};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/result", get(mine))
        .route("/result/", get(mine))
        .route("/result/{exam_id}/score", get(score))
        .route("/result/{exam_id}/analysis", get(analysis))
}

async fn mine(State(state): State<AppState>, user: CurrentUser) -> Result<Response, ApiError> {
    let data = results::mine(&state, user.id).await?;
    let count = data.len();
    Ok(axum::Json(json!({ "success": true, "data": data, "count": count })).into_response())
}

fn outcome<T: Serialize>(o: Outcome<T>) -> Response {
    match o {
        Outcome::Ready(v) => axum::Json(v).into_response(),
        Outcome::Pending => (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "success": false, "code": "score_pending", "message": "The score is being calculated; try again shortly" })),
        )
            .into_response(),
    }
}

async fn score(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        results::score(&state, user.id, parse_id(&exam_id, "examId")?).await?,
    ))
}

async fn analysis(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        results::analysis(&state, user.id, parse_id(&exam_id, "examId")?).await?,
    ))
}
