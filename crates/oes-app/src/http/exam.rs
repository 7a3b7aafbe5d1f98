//! `/api/exam` handlers: administrators build and publish exams; students list upcoming and
//! live ones.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::attempts::AttemptStatus;
use crate::domain::exams::format_instant;
use crate::domain::ids::{AttemptId, ExamId, QuestionId};
use crate::domain::scoring::as_number;
use crate::http::body::SuccessMessage;
use crate::http::error::ErrorBody;
use crate::http::extract::parse_id;
use crate::http::openapi::{JsonBodyErrors, Unauthenticated};
use crate::http::question::QuestionView;
use crate::http::{AdminUser, ApiError, ApiJson, CurrentUser};
use crate::service::exams::{self, AddQuestion, ExamInput, SlotView};
use crate::state::AppState;
use crate::store::exams::ExamRow;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExamView {
    pub id: ExamId,
    pub title: String,
    pub description: Option<String>,
    pub duration_minutes: i64,
    #[schema(format = DateTime)]
    pub start_time: String,
    #[schema(format = DateTime)]
    pub end_time: String,
    pub state: crate::domain::exams::ExamState,
    pub grace_seconds: i64,
    pub shuffle_options: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<String>,
    /// Present where the route says so: the slots in order, with their questions (frozen
    /// snapshots once published).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub questions: Option<Vec<SlotJson>>,
}

#[derive(Serialize, utoipa::ToSchema)]
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

/// An exam as students see it in the lists.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StudentExam {
    id: ExamId,
    title: String,
    description: Option<String>,
    #[schema(format = DateTime)]
    start_time: String,
    #[schema(format = DateTime)]
    end_time: String,
    duration_minutes: i64,
}

fn student_exam(e: ExamRow) -> StudentExam {
    StudentExam {
        id: e.id,
        title: e.title,
        description: e.description,
        start_time: format_instant(e.start_time),
        end_time: format_instant(e.end_time),
        duration_minutes: e.duration_minutes,
    }
}

/// A live exam, with the caller's own attempt at it (null fields without one).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LiveExam {
    #[serde(flatten)]
    exam: StudentExam,
    has_attempt: bool,
    attempt_status: Option<AttemptStatus>,
    attempt_id: Option<AttemptId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExamList<T> {
    success: bool,
    exams: Vec<T>,
}

/// `{success, message, exam}` after a change (the exam without its questions).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExamChanged {
    success: bool,
    message: &'static str,
    exam: ExamView,
}

/// `{success, exam}` with its questions.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExamDetail {
    success: bool,
    exam: ExamView,
}

/// The exam fields of create and update. Rules across fields: startTime before endTime, and
/// durationMinutes no longer than that window (a window under a minute admits 1).
macro_rules! exam_body {
    ($(#[$doc:meta])* $name:ident, required = $required:literal, nullable = $nullable:literal) => {
        #[derive(Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        $(#[$doc])*
        pub(crate) struct $name {
            /// Trimmed; not blank.
            #[schema(required = $required, nullable = $nullable, min_length = 1, pattern = r"\S")]
            title: Option<String>,
            description: Option<String>,
            #[schema(required = $required, nullable = $nullable, minimum = 1, maximum = 10080)]
            duration_minutes: Option<i64>,
            /// RFC 3339 with an explicit offset, e.g. `2026-03-01T10:00:00+05:30`.
            #[schema(required = $required, nullable = $nullable, format = DateTime)]
            start_time: Option<String>,
            /// RFC 3339 with an explicit offset.
            #[schema(required = $required, nullable = $nullable, format = DateTime)]
            end_time: Option<String>,
            /// Extra seconds after the deadline during which answers are still taken; default 0.
            #[schema(minimum = 0, maximum = 3600)]
            grace_seconds: Option<i64>,
            /// Each attempt sees the options in its own order; default false.
            shuffle_options: Option<bool>,
        }

        impl From<$name> for ExamInput {
            fn from(b: $name) -> Self {
                ExamInput {
                    title: b.title,
                    description: b.description,
                    duration_minutes: b.duration_minutes,
                    start_time: b.start_time,
                    end_time: b.end_time,
                    grace_seconds: b.grace_seconds,
                    shuffle_options: b.shuffle_options,
                }
            }
        }
    };
}

exam_body!(
    /// A new exam, created as a DRAFT.
    #[schema(example = json!({
        "title": "Algebra midterm",
        "description": "Chapters 1 to 4",
        "durationMinutes": 60,
        "startTime": "2030-03-01T10:00:00+05:30",
        "endTime": "2030-03-01T12:00:00+05:30",
        "graceSeconds": 30,
        "shuffleOptions": true
    }))]
    NewExamBody,
    required = true,
    nullable = false
);
exam_body!(
    /// Changes to a DRAFT exam: absent fields keep their value; validated as a whole.
    #[schema(example = json!({ "title": "Algebra midterm (revised)", "graceSeconds": 60 }))]
    ExamChangesBody,
    required = false,
    nullable = true
);

#[utoipa::path(get, path = "/api/exam/upcoming", operation_id = "upcomingExams", tag = "exams",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Published exams not yet started", body = ExamList<StudentExam>),
        (status = 403, description = "Email not verified", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn upcoming(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<ExamList<StudentExam>>, ApiError> {
    let exams = exams::upcoming(&state)
        .await?
        .into_iter()
        .map(student_exam)
        .collect();
    Ok(Json(ExamList {
        success: true,
        exams,
    }))
}

#[utoipa::path(get, path = "/api/exam/live", operation_id = "liveExams", tag = "exams",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Published exams open now, with the caller's own attempt", body = ExamList<LiveExam>),
        (status = 403, description = "Email not verified", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn live(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<ExamList<LiveExam>>, ApiError> {
    let attempts = crate::service::attempts::my_attempts(&state, user.id).await?;
    let exams = exams::live(&state)
        .await?
        .into_iter()
        .map(|e| {
            let mine = attempts.iter().find(|a| a.exam_id == e.id);
            LiveExam {
                has_attempt: mine.is_some(),
                attempt_status: mine.map(|a| a.status),
                attempt_id: mine.map(|a| a.id),
                exam: student_exam(e),
            }
        })
        .collect();
    Ok(Json(ExamList {
        success: true,
        exams,
    }))
}

#[utoipa::path(post, path = "/api/exam/create", operation_id = "createExam", tag = "exams", request_body = NewExamBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created, in DRAFT", body = ExamChanged),
        (status = 400, description = "Validation failed (details.errors lists every problem), or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<NewExamBody>,
) -> Result<(StatusCode, Json<ExamChanged>), ApiError> {
    let exam = exams::create(&state, admin.id, body.into()).await?;
    Ok((StatusCode::CREATED, changed("Exam created", exam)))
}

fn changed(message: &'static str, exam: ExamRow) -> Json<ExamChanged> {
    Json(ExamChanged {
        success: true,
        message,
        exam: exam_view(exam, None),
    })
}

#[utoipa::path(get, path = "/api/exam/all", operation_id = "listExams", tag = "exams",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Every exam with its questions", body = ExamList<ExamView>),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn all(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Json<ExamList<ExamView>>, ApiError> {
    let exams = exams::list_admin(&state)
        .await?
        .into_iter()
        .map(|(e, s)| exam_view(e, Some(s)))
        .collect();
    Ok(Json(ExamList {
        success: true,
        exams,
    }))
}

#[utoipa::path(get, path = "/api/exam/{examId}", operation_id = "getExam", tag = "exams",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The exam with its questions (frozen snapshots once published)", body = ExamDetail),
        (status = 400, description = "Not a valid id", body = ErrorBody),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
) -> Result<Json<ExamDetail>, ApiError> {
    let (exam, slots) = exams::get_admin(&state, parse_id(&exam_id, "examId")?).await?;
    Ok(Json(ExamDetail {
        success: true,
        exam: exam_view(exam, Some(slots)),
    }))
}

#[utoipa::path(put, path = "/api/exam/{examId}", operation_id = "updateExam", tag = "exams",
    params(("examId" = ExamId, Path, description = "The exam id")),
    request_body = ExamChangesBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Updated", body = ExamChanged),
        (status = 400, description = "Not a valid id, validation failed, not a DRAFT, or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
    ApiJson(body): ApiJson<ExamChangesBody>,
) -> Result<Json<ExamChanged>, ApiError> {
    let exam = exams::update(&state, parse_id(&exam_id, "examId")?, body.into()).await?;
    Ok(changed("Exam updated", exam))
}

#[utoipa::path(delete, path = "/api/exam/{examId}", operation_id = "deleteExam", tag = "exams",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Deleted", body = SuccessMessage),
        (status = 400, description = "Not a valid id, or not a DRAFT", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
) -> Result<Json<SuccessMessage>, ApiError> {
    exams::delete(&state, parse_id(&exam_id, "examId")?).await?;
    Ok(SuccessMessage::json("Exam deleted"))
}

/// A question to add, with its slot marks.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddQuestionBody {
    question_id: QuestionId,
    /// The question's own marks when absent. At most 6 decimal places.
    #[schema(exclusive_minimum = 0, maximum = 10000, multiple_of = 0.000001)]
    marks: Option<Decimal>,
}

/// Removals first, then additions appended after the last slot; at least one list non-empty.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QuestionsBody {
    /// Questions of the bank, not yet in the exam.
    #[serde(default)]
    add_question_ids: Vec<AddQuestionBody>,
    #[serde(default)]
    remove_question_ids: Vec<QuestionId>,
}

#[utoipa::path(post, path = "/api/exam/{examId}/questions", operation_id = "setExamQuestions", tag = "exams",
    params(("examId" = ExamId, Path, description = "The exam id")),
    request_body = QuestionsBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Updated", body = SuccessMessage),
        (status = 400, description = "Not a valid id, neither list, unknown questions, bad marks, not a DRAFT, or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        (status = 409, description = "Question already in the exam", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn set_questions(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
    ApiJson(body): ApiJson<QuestionsBody>,
) -> Result<Json<SuccessMessage>, ApiError> {
    let id = parse_id(&exam_id, "examId")?;
    let add = body
        .add_question_ids
        .into_iter()
        .map(|a| AddQuestion {
            question_id: a.question_id,
            marks: a.marks,
        })
        .collect();
    exams::set_questions(&state, id, add, body.remove_question_ids).await?;
    Ok(SuccessMessage::json("Exam questions updated"))
}

#[utoipa::path(post, path = "/api/exam/{examId}/publish", operation_id = "publishExam", tag = "exams",
    params(("examId" = ExamId, Path, description = "The exam id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Published; every question frozen into a snapshot", body = ExamChanged),
        (status = 400, description = "Not a valid id, no questions, or not a DRAFT", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn publish(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(exam_id): Path<String>,
) -> Result<Json<ExamChanged>, ApiError> {
    let exam = exams::publish(&state, parse_id(&exam_id, "examId")?).await?;
    Ok(changed("Exam published", exam))
}
