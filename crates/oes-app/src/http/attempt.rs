//! `/api/exam-attempt` handlers: a student's attempt at a live exam.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::attempts::{AttemptStatus, NumericalInput};
use crate::domain::exams::format_instant;
use crate::domain::ids::{AttemptId, ExamId, OptionId, QuestionId};
use crate::http::body::SuccessMessage;
use crate::http::error::ErrorBody;
use crate::http::extract::{attempt_client, parse_id};
use crate::http::openapi::{JsonBodyErrors, Unauthenticated};
use crate::http::session::ClientMeta;
use crate::http::{ApiError, ApiJson, CurrentUser};
use crate::service::attempts::{self, AttemptQuestion, SaveInput};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Started {
    success: bool,
    message: &'static str,
    attempt_id: AttemptId,
    /// min(start + duration, end) + grace.
    #[schema(format = DateTime)]
    deadline_at: String,
}

#[utoipa::path(post, path = "/api/exam-attempt/{examId}/start", operation_id = "startAttempt", tag = "attempts",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Started", body = Started),
        (status = 400, description = "Not a valid id, exam_not_available, exam_not_active or already_attempted", body = ErrorBody),
        (status = 403, description = "Email not verified, a cookie from a foreign origin, or admin_cannot_attempt: administrators do not take exams", body = ErrorBody),
        (status = 404, description = "No such published exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: ClientMeta,
    Path(exam_id): Path<String>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let exam_id = parse_id(&exam_id, "examId")?;
    let a = attempts::start(&state, user.id, user.role, exam_id, &attempt_client(meta)).await?;
    Ok((
        StatusCode::CREATED,
        Json(Started {
            success: true,
            message: "Exam started",
            attempt_id: a.id,
            deadline_at: format_instant(a.deadline_at),
        }),
    ))
}

/// The paper: never any answer key.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PaperExam {
    id: ExamId,
    title: String,
    questions: Vec<AttemptQuestion>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Loaded {
    success: bool,
    message: &'static str,
    exam: PaperExam,
    attempt_id: AttemptId,
    remaining_seconds: i64,
    #[schema(format = DateTime)]
    deadline_at: String,
}

#[utoipa::path(get, path = "/api/exam-attempt/{examId}/attempt", operation_id = "loadAttempt", tag = "attempts",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The paper with the student's saved answers", body = Loaded),
        (status = 400, description = "Not a valid id", body = ErrorBody),
        (status = 403, description = "Email not verified; no_active_attempt, attempt_not_active, or time_over (auto-submitted now)", body = ErrorBody),
        (status = 404, description = "No such published exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn load(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(exam_id): Path<String>,
) -> Result<Json<Loaded>, ApiError> {
    let p = attempts::load(&state, user.id, parse_id(&exam_id, "examId")?).await?;
    Ok(Json(Loaded {
        success: true,
        message: "Attempt loaded",
        exam: PaperExam {
            id: p.exam_id,
            title: p.title,
            questions: p.questions,
        },
        attempt_id: p.attempt_id,
        remaining_seconds: p.remaining_seconds,
        deadline_at: format_instant(p.deadline_at),
    }))
}

/// One answer. Last write wins; a cleared answer is no answer (the paper shows
/// `studentAnswer: null`, and it scores nothing).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SaveBody {
    question_id: QuestionId,
    /// Options of that question; duplicates dropped; at most one for SINGLE_CORRECT; `[]`
    /// clears. Not for NUMERICAL.
    selected_option_ids: Option<Vec<OptionId>>,
    /// NUMERICAL only: a number, or its text as a number input gives it (`"3.5"`); rounded to
    /// 6 decimals. `null` or `""` clears the answer (what the exam page's Clear button and an
    /// emptied input send); leaving the field out is refused.
    #[serde(default, deserialize_with = "numerical_input")]
    #[schema(value_type = Option<f64>, minimum = -1e9, maximum = 1e9)]
    numerical_answer: NumericalInput,
}

/// `null`, `""` (or blanks) → clear; anything else is read as a decimal, as before.
fn numerical_input<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NumericalInput, D::Error> {
    use serde::de::Error;
    let value = match Option::<serde_json::Value>::deserialize(d)? {
        None => return Ok(NumericalInput::Clear),
        Some(serde_json::Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Ok(NumericalInput::Clear);
            }
            serde_json::Value::String(text.to_owned())
        }
        Some(other) => other,
    };
    <Decimal as Deserialize>::deserialize(value)
        .map(NumericalInput::Value)
        .map_err(D::Error::custom)
}

#[utoipa::path(post, path = "/api/exam-attempt/{examId}/save", operation_id = "saveAnswer", tag = "attempts",
    params(("examId" = ExamId, Path, description = "The exam id")),
    request_body = SaveBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Saved", body = SuccessMessage),
        (status = 400, description = "Not a valid id, validation_failed, question_not_in_exam, or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, a cookie from a foreign origin; no active attempt, attempt submitted, or time over", body = ErrorBody),
        (status = 404, description = "No such published exam", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn save(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: ClientMeta,
    Path(exam_id): Path<String>,
    ApiJson(body): ApiJson<SaveBody>,
) -> Result<Json<SuccessMessage>, ApiError> {
    let exam_id = parse_id(&exam_id, "examId")?;
    let input = SaveInput {
        question_id: body.question_id,
        selected_option_ids: body.selected_option_ids,
        numerical_answer: body.numerical_answer,
    };
    attempts::save(&state, user.id, exam_id, input, &attempt_client(meta)).await?;
    Ok(SuccessMessage::json("Answer saved"))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Submitted {
    success: bool,
    message: &'static str,
    attempt_id: AttemptId,
    status: AttemptStatus,
}

#[utoipa::path(post, path = "/api/exam-attempt/{examId}/submit", operation_id = "submitAttempt", tag = "attempts",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Submitted; scoring is queued", body = Submitted),
        (status = 400, description = "Not a valid id, no_active_attempt or already_submitted", body = ErrorBody),
        (status = 403, description = "Email not verified, a cookie from a foreign origin, or time over (auto-submitted at the hard end instead)", body = ErrorBody),
        (status = 404, description = "No such published exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: ClientMeta,
    Path(exam_id): Path<String>,
) -> Result<Json<Submitted>, ApiError> {
    let exam_id = parse_id(&exam_id, "examId")?;
    let a = attempts::submit(&state, user.id, exam_id, &attempt_client(meta)).await?;
    Ok(Json(Submitted {
        success: true,
        message: "Exam submitted",
        attempt_id: a.id,
        status: a.status,
    }))
}
