//! `/api/result`: a student's own results, released when the exam ends.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;

use crate::http::auth::ErrorBody;
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

#[utoipa::path(get, path = "/api/result", tag = "results", responses((status = 200, description = "{success, data: [{attemptId, examId, examTitle, score (null until released), status, submittedAt, startedAt, durationMinutes, endTime, isResultAvailable}], count}", body = serde_json::Value), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn mine(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
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

#[utoipa::path(get, path = "/api/result/{examId}/score", tag = "results", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 200, description = "{attemptId, examId, examTitle, score, status, submittedAt}", body = serde_json::Value), (status = 202, description = "Scoring still pending", body = serde_json::Value), (status = 400, description = "Attempt still in progress", body = ErrorBody), (status = 403, description = "results_not_released: the exam has not ended", body = ErrorBody), (status = 404, description = "No attempt at this exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn score(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        results::score(&state, user.id, parse_id(&exam_id, "examId")?).await?,
    ))
}

#[utoipa::path(get, path = "/api/result/{examId}/analysis", tag = "results", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 200, description = "Score, totals, percentage and per question the options with isCorrect, the student's answer with marksObtained, and the correct answer", body = serde_json::Value), (status = 202, description = "Scoring still pending", body = serde_json::Value), (status = 403, description = "results_not_released", body = ErrorBody), (status = 404, description = "No attempt at this exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn analysis(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        results::analysis(&state, user.id, parse_id(&exam_id, "examId")?).await?,
    ))
}
