//! `/api/exam`: administrators build and publish exams; students list upcoming and live ones.
//! Also the exam area's error mapping (`ExamError` → `ApiError`) and small shared helpers.

use std::str::FromStr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::exams::format_instant;
use crate::domain::ids::{ExamId, QuestionId};
use crate::domain::scoring::as_number;
use crate::http::auth::ErrorBody;
use crate::http::question::QuestionView;
use crate::http::session::ClientMeta;
use crate::http::{AdminUser, ApiError, ApiJson, CurrentUser};
use crate::service::exams::{self, AddQuestion, ExamError, ExamInput, SlotView};
use crate::state::AppState;
use crate::store::attempts::Client;
use crate::store::exams::ExamRow;

impl From<ExamError> for ApiError {
    fn from(e: ExamError) -> Self {
        match e {
            ExamError::NotFound(m) => ApiError::not_found(m),
            ExamError::Invalid(errors) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                errors.join("; "),
            )
            .with_details(json!({ "errors": errors })),
            ExamError::Rejected(code, m) => ApiError::new(StatusCode::BAD_REQUEST, code, m),
            ExamError::Forbidden(code, m) => ApiError::new(StatusCode::FORBIDDEN, code, m),
            ExamError::Conflict(code, m) => ApiError::new(StatusCode::CONFLICT, code, m),
            e @ (ExamError::Db(_) | ExamError::Internal(_)) => ApiError::internal(e),
        }
    }
}

/// Parses an id from the path; a malformed one is a 400, not a 404 or a 500.
pub(crate) fn parse_id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("{what} is not a valid id")))
}

pub(crate) fn client(meta: ClientMeta) -> Client {
    Client {
        ip: meta.0.ip.map(|ip| ip.to_string()),
        user_agent: meta.0.user_agent,
    }
}

/// Every route of the exam area: question bank, exams, attempts, results, leaderboard.
pub fn area_routes() -> Router<AppState> {
    routes()
        .merge(crate::http::question::routes())
        .merge(crate::http::attempt::routes())
        .merge(crate::http::result::routes())
        .merge(crate::http::leaderboard::routes())
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/exam/upcoming", get(upcoming))
        .route("/exam/live", get(live))
        .route("/exam/create", post(create))
        .route("/exam/all", get(all))
        .route("/exam/{exam_id}/questions", post(set_questions))
        .route("/exam/{exam_id}/publish", post(publish))
        .route("/exam/{exam_id}", get(get_one).put(update).delete(delete))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamView {
    pub id: ExamId,
    pub title: String,
    pub description: Option<String>,
    pub duration_minutes: i64,
    pub start_time: String,
    pub end_time: String,
    pub state: crate::domain::exams::ExamState,
    pub grace_seconds: i64,
    pub shuffle_options: bool,
    pub published_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub questions: Option<Vec<SlotJson>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotJson {
    pub exam_question_id: String,
    pub question_order: i64,
    #[serde(with = "as_number")]
    pub marks_for_each_question: Decimal,
    pub question: QuestionView,
}

fn exam_view(e: ExamRow, slots: Option<Vec<SlotView>>) -> ExamView {
    ExamView {
        id: e.id,
        title: e.title,
        description: e.description,
        duration_minutes: e.duration_minutes,
        start_time: format_instant(e.start_time),
        end_time: format_instant(e.end_time),
        state: e.state,
        grace_seconds: e.grace_seconds,
        shuffle_options: e.shuffle_options,
        published_at: e.published_at.map(format_instant),
        questions: slots.map(|s| {
            s.into_iter()
                .map(|v| SlotJson {
                    exam_question_id: v.slot.id,
                    question_order: v.slot.order,
                    marks_for_each_question: v.slot.marks,
                    question: QuestionView::from(v.question),
                })
                .collect()
        }),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StudentExam {
    id: ExamId,
    title: String,
    description: Option<String>,
    start_time: String,
    end_time: String,
    duration_minutes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_attempt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt_status: Option<Option<crate::domain::attempts::AttemptStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt_id: Option<Option<crate::domain::ids::AttemptId>>,
}

fn student_exam(e: ExamRow) -> StudentExam {
    StudentExam {
        id: e.id,
        title: e.title,
        description: e.description,
        start_time: format_instant(e.start_time),
        end_time: format_instant(e.end_time),
        duration_minutes: e.duration_minutes,
        has_attempt: None,
        attempt_status: None,
        attempt_id: None,
    }
}

#[utoipa::path(get, path = "/api/exam/upcoming", tag = "exams", responses((status = 200, description = "{success, exams: [{id, title, description, startTime, endTime, durationMinutes}]}: published exams not yet started", body = serde_json::Value), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn upcoming(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> Result<Response, ApiError> {
    let exams: Vec<StudentExam> = exams::upcoming(&state)
        .await?
        .into_iter()
        .map(student_exam)
        .collect();
    Ok(axum::Json(json!({ "success": true, "exams": exams })).into_response())
}

#[utoipa::path(get, path = "/api/exam/live", tag = "exams", responses((status = 200, description = "{success, exams: [... , hasAttempt, attemptStatus, attemptId]}: published exams open now, with the caller's own attempt", body = serde_json::Value), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified", body = ErrorBody)))]
pub(crate) async fn live(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    let attempts = crate::service::attempts::my_attempts(&state, user.id).await?;
    let exams: Vec<StudentExam> = exams::live(&state)
        .await?
        .into_iter()
        .map(|e| {
            let mine = attempts.iter().find(|a| a.exam_id == e.id);
            StudentExam {
                has_attempt: Some(mine.is_some()),
                attempt_status: Some(mine.map(|a| a.status)),
                attempt_id: Some(mine.map(|a| a.id)),
                ..student_exam(e)
            }
        })
        .collect();
    Ok(axum::Json(json!({ "success": true, "exams": exams })).into_response())
}

#[utoipa::path(post, path = "/api/exam/create", tag = "exams", request_body(content = serde_json::Value, description = "title, description?, durationMinutes (1 to the window), startTime and endTime (RFC 3339 with an offset), graceSeconds? (0-3600), shuffleOptions?"), responses((status = 201, description = "{success, message, exam} in DRAFT", body = serde_json::Value), (status = 400, description = "Validation failed", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<ExamInput>,
) -> Result<Response, ApiError> {
    let exam = exams::create(&state, admin.id, input).await?;
    let body = json!({ "success": true, "message": "Exam created", "exam": exam_view(exam, None) });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

#[utoipa::path(get, path = "/api/exam/all", tag = "exams", responses((status = 200, description = "{success, exams: [exam with questions]}", body = serde_json::Value), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn all(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Response, ApiError> {
    let exams: Vec<ExamView> = exams::list_admin(&state)
        .await?
        .into_iter()
        .map(|(e, s)| exam_view(e, Some(s)))
        .collect();
    Ok(axum::Json(json!({ "success": true, "exams": exams })).into_response())
}

#[utoipa::path(get, path = "/api/exam/{examId}", tag = "exams", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 200, description = "{success, exam} with its questions (frozen snapshots once published)", body = serde_json::Value), (status = 404, description = "No such exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    let (exam, slots) = exams::get_admin(&state, parse_id(&exam_id, "examId")?).await?;
    Ok(
        axum::Json(json!({ "success": true, "exam": exam_view(exam, Some(slots)) }))
            .into_response(),
    )
}

#[utoipa::path(put, path = "/api/exam/{examId}", tag = "exams", params(("examId" = String, Path, description = "The exam id (UUID)")), request_body(content = serde_json::Value, description = "Any field of create; validated as a whole"), responses((status = 200, description = "Updated", body = serde_json::Value), (status = 400, description = "Validation failed, or not a DRAFT", body = ErrorBody), (status = 404, description = "No such exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
    ApiJson(input): ApiJson<ExamInput>,
) -> Result<Response, ApiError> {
    let exam = exams::update(&state, parse_id(&exam_id, "examId")?, input).await?;
    let body = json!({ "success": true, "message": "Exam updated", "exam": exam_view(exam, None) });
    Ok(axum::Json(body).into_response())
}

#[utoipa::path(delete, path = "/api/exam/{examId}", tag = "exams", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 200, description = "Deleted", body = serde_json::Value), (status = 400, description = "Not a DRAFT", body = ErrorBody), (status = 404, description = "No such exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    exams::delete(&state, parse_id(&exam_id, "examId")?).await?;
    Ok(axum::Json(json!({ "success": true, "message": "Exam deleted" })).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QuestionsBody {
    #[serde(default)]
    add_question_ids: Vec<AddQuestion>,
    #[serde(default)]
    remove_question_ids: Vec<QuestionId>,
}

#[utoipa::path(post, path = "/api/exam/{examId}/questions", tag = "exams", params(("examId" = String, Path, description = "The exam id (UUID)")), request_body(content = serde_json::Value, description = "addQuestionIds: [{questionId, marks?}] (marks default to the question's), removeQuestionIds: [id]; removals first"), responses((status = 200, description = "Updated", body = serde_json::Value), (status = 400, description = "Neither list, unknown questions, bad marks, or not a DRAFT", body = ErrorBody), (status = 404, description = "No such exam", body = ErrorBody), (status = 409, description = "Question already in the exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn set_questions(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
    ApiJson(body): ApiJson<QuestionsBody>,
) -> Result<Response, ApiError> {
    let id = parse_id(&exam_id, "examId")?;
    exams::set_questions(&state, id, body.add_question_ids, body.remove_question_ids).await?;
    Ok(axum::Json(json!({ "success": true, "message": "Exam questions updated" })).into_response())
}

#[utoipa::path(post, path = "/api/exam/{examId}/publish", tag = "exams", params(("examId" = String, Path, description = "The exam id (UUID)")), responses((status = 200, description = "Published; every question frozen into a snapshot", body = serde_json::Value), (status = 400, description = "No questions, or not a DRAFT", body = ErrorBody), (status = 404, description = "No such exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn publish(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    let exam = exams::publish(&state, parse_id(&exam_id, "examId")?).await?;
    let body =
        json!({ "success": true, "message": "Exam published", "exam": exam_view(exam, None) });
    Ok(axum::Json(body).into_response())
}
