//! `/api/exam-attempt`: a student's attempt at a live exam.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::domain::exams::format_instant;
use crate::http::auth::ErrorBody;
use crate::http::exam::{client, parse_id};
use crate::http::session::ClientMeta;
use crate::http::{ApiError, ApiJson, CurrentUser};
use crate::service::attempts::{self, SaveInput};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/exam-attempt/{exam_id}/start", post(start))
        .route("/exam-attempt/{exam_id}/attempt", get(load))
        .route("/exam-attempt/{exam_id}/save", post(save))
        .route("/exam-attempt/{exam_id}/submit", post(submit))
}

#[utoipa::path(post, path = "/api/exam-attempt/{examId}/start", tag = "attempts", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 201, description = "{success, message, attemptId, deadlineAt}; deadline = min(start + duration, end) + grace", body = serde_json::Value), (status = 400, description = "exam_not_available, exam_not_active or already_attempted", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: ClientMeta,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    let exam_id = parse_id(&exam_id, "examId")?;
    let a = attempts::start(&state, user.id, exam_id, &client(meta)).await?;
    let body = json!({
        "success": true,
        "message": "Exam started",
        "attemptId": a.id,
        "deadlineAt": format_instant(a.deadline_at),
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

#[utoipa::path(get, path = "/api/exam-attempt/{examId}/attempt", tag = "attempts", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 200, description = "{success, exam: {id, title, questions: [{examQuestionId, questionOrder, marks, negativeMarks, id, statement, questionType, domain, options: [{id, text}], studentAnswer}]}, attemptId, remainingSeconds, deadlineAt}; never any answer key", body = serde_json::Value), (status = 403, description = "no_active_attempt, attempt_not_active, or time_over (auto-submitted now)", body = ErrorBody), (status = 404, description = "No such published exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn load(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    let p = attempts::load(&state, user.id, parse_id(&exam_id, "examId")?).await?;
    let body = json!({
        "success": true,
        "message": "Attempt loaded",
        "exam": { "id": p.exam_id, "title": p.title, "questions": p.questions },
        "attemptId": p.attempt_id,
        "remainingSeconds": p.remaining_seconds,
        "deadlineAt": format_instant(p.deadline_at),
    });
    Ok(axum::Json(body).into_response())
}

#[utoipa::path(post, path = "/api/exam-attempt/{examId}/save", tag = "attempts", params(("examId" = String, Path, description = "The exam id (UUID)")), request_body(content = serde_json::Value, description = "questionId, selectedOptionIds? (options of that question; duplicates dropped; at most one for SINGLE_CORRECT; [] clears), numericalAnswer? (NUMERICAL only; rounded to 6 decimals)"), responses((status = 200, description = "Saved (last write wins)", body = serde_json::Value), (status = 400, description = "validation_failed or question_not_in_exam", body = ErrorBody), (status = 403, description = "Attempt submitted, or time over", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn save(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: ClientMeta,
    Path(exam_id): Path<String>,
    ApiJson(input): ApiJson<SaveInput>,
) -> Result<Response, ApiError> {
    let exam_id = parse_id(&exam_id, "examId")?;
    attempts::save(&state, user.id, exam_id, input, &client(meta)).await?;
    Ok(axum::Json(json!({ "success": true, "message": "Answer saved" })).into_response())
}

#[utoipa::path(post, path = "/api/exam-attempt/{examId}/submit", tag = "attempts", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 200, description = "{success, message, attemptId, status: SUBMITTED}; scoring is queued", body = serde_json::Value), (status = 400, description = "no_active_attempt or already_submitted", body = ErrorBody), (status = 403, description = "Time over: auto-submitted at the hard end instead", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: ClientMeta,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    let exam_id = parse_id(&exam_id, "examId")?;
    let a = attempts::submit(&state, user.id, exam_id, &client(meta)).await?;
    let body = json!({
        "success": true,
        "message": "Exam submitted",
        "attemptId": a.id,
        "status": a.status,
    });
    Ok(axum::Json(body).into_response())
}
