//! `/api/exam-attempt`: a student's attempt at a live exam.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::domain::exams::format_instant;
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

async fn start(
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

async fn load(
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

async fn save(
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

async fn submit(
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
