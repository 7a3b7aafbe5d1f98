//! `/api/result` handlers: a student's own results, released when the exam's grace period is
//! over (its end plus `graceSeconds`), the last moment any attempt can still save.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::ids::ExamId;
use crate::http::error::ErrorBody;
use crate::http::extract::parse_id;
use crate::http::openapi::Unauthenticated;
use crate::http::{ApiError, CurrentUser};
use crate::service::results::{self, Analysis, Outcome, ResultItem, ScoreView};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct MyResults {
    success: bool,
    /// Newest first; scores only where released (after the exam's end plus its grace period).
    data: Vec<ResultItem>,
    count: usize,
}

#[utoipa::path(get, path = "/api/result", operation_id = "myResults", tag = "results",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's attempts", body = MyResults),
        (status = 403, description = "Email not verified", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn mine(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<MyResults>, ApiError> {
    let data = results::mine(&state, user.id).await?;
    Ok(Json(MyResults {
        success: true,
        count: data.len(),
        data,
    }))
}

/// 202: the attempt is finished but its score is still being calculated.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ScorePending {
    /// Always false.
    success: bool,
    /// `score_pending`.
    code: &'static str,
    message: &'static str,
}

fn outcome<T: Serialize>(o: Outcome<T>) -> Response {
    match o {
        Outcome::Ready(v) => Json(v).into_response(),
        Outcome::Pending => (
            StatusCode::ACCEPTED,
            Json(ScorePending {
                success: false,
                code: "score_pending",
                message: "The score is being calculated; try again shortly",
            }),
        )
            .into_response(),
    }
}

#[utoipa::path(get, path = "/api/result/{examId}/score", operation_id = "getScore", tag = "results",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The score", body = ScoreView),
        (status = 202, description = "Scoring still pending", body = ScorePending),
        (status = 400, description = "Not a valid id, or the attempt is still in progress", body = ErrorBody),
        (status = 403, description = "Email not verified, or results_not_released: the exam's end plus its grace period has not passed (the message names the release time)", body = ErrorBody),
        (status = 404, description = "No attempt at this exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn score(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        results::score(&state, user.id, parse_id(&exam_id, "examId")?).await?,
    ))
}

#[utoipa::path(get, path = "/api/result/{examId}/analysis", operation_id = "getAnalysis", tag = "results",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Score, totals, percentage and per question the options with isCorrect, the student's answer with marksObtained, and the correct answer", body = Analysis),
        (status = 202, description = "Scoring still pending", body = ScorePending),
        (status = 400, description = "Not a valid id, or the attempt is still in progress", body = ErrorBody),
        (status = 403, description = "Email not verified, or results_not_released: the exam's end plus its grace period has not passed (the message names the release time)", body = ErrorBody),
        (status = 404, description = "No attempt at this exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn analysis(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(outcome(
        results::analysis(&state, user.id, parse_id(&exam_id, "examId")?).await?,
    ))
}
