//! `/api/question` handlers: the question bank, for administrators only.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::ids::{OptionId, QuestionId};
use crate::domain::questions::{Difficulty, OptionInput, Question, QuestionInput, QuestionType};
use crate::domain::scoring::as_number;
use crate::http::error::ErrorBody;
use crate::http::extract::{parse_id, positive};
use crate::http::openapi::{JsonBodyErrors, Unauthenticated};
use crate::http::{AdminUser, ApiError, ApiJson};
use crate::service::questions::{self, MAX_PAGE_SIZE};
use crate::state::AppState;
use crate::store::questions::Filter;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptionView {
    pub id: OptionId,
    pub text: String,
    pub is_correct: bool,
}

/// A question with its answer key: administrators only.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuestionView {
    pub id: QuestionId,
    pub statement: String,
    pub question_type: QuestionType,
    pub domain: String,
    #[serde(with = "as_number")]
    pub marks: Decimal,
    #[serde(with = "as_number")]
    pub negative_marks: Decimal,
    pub difficulty: Difficulty,
    pub partial_credit: bool,
    pub options: Vec<OptionView>,
    #[serde(with = "as_number::option")]
    pub numerical_answer: Option<Decimal>,
    #[serde(with = "as_number::option")]
    pub tolerance: Option<Decimal>,
    /// Bumped by every update.
    pub version: i64,
}

impl From<Question> for QuestionView {
    fn from(q: Question) -> Self {
        QuestionView {
            id: q.id,
            statement: q.statement,
            question_type: q.question_type,
            domain: q.domain,
            marks: q.marks,
            negative_marks: q.negative_marks,
            difficulty: q.difficulty,
            partial_credit: q.partial_credit,
            options: q
                .options
                .into_iter()
                .map(|o| OptionView {
                    id: o.id,
                    text: o.text,
                    is_correct: o.is_correct,
                })
                .collect(),
            numerical_answer: q.numerical.map(|n| n.value),
            tolerance: q.numerical.map(|n| n.tolerance),
            version: q.version,
        }
    }
}

/// An option of a choice question.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OptionBody {
    /// On update: the id of an existing option of this question, to keep it (answers that
    /// chose it stay valid). Absent: a new option.
    #[schema(value_type = Option<String>, format = Uuid)]
    id: Option<String>,
    /// Trimmed; unique within the question.
    #[schema(required = true, nullable = false, min_length = 1, pattern = r"\S")]
    text: Option<String>,
    #[serde(default)]
    is_correct: bool,
}

impl From<OptionBody> for OptionInput {
    fn from(o: OptionBody) -> Self {
        OptionInput {
            id: o.id,
            text: o.text,
            is_correct: o.is_correct,
        }
    }
}

/// The question fields of create and update. Numbers take at most 6 decimal places. Rules
/// across fields: choice types (SINGLE_CORRECT, MULTIPLE_CORRECT) have 2 to 10 options with
/// distinct texts, SINGLE_CORRECT exactly one correct, MULTIPLE_CORRECT at least one;
/// `partialCredit` only for MULTIPLE_CORRECT; NUMERICAL has no options and needs
/// `numericalAnswer` (and an optional `tolerance`).
macro_rules! question_body {
    ($(#[$doc:meta])* $name:ident, required = $required:literal, nullable = $nullable:literal) => {
        #[derive(Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        $(#[$doc])*
        pub(crate) struct $name {
            /// Trimmed; not blank.
            #[schema(required = $required, nullable = $nullable, min_length = 1, pattern = r"\S")]
            statement: Option<String>,
            /// Any case is accepted.
            #[schema(required = $required, nullable = $nullable, value_type = Option<QuestionType>)]
            question_type: Option<String>,
            /// Trimmed and lower-cased; not blank.
            #[schema(required = $required, nullable = $nullable, min_length = 1, pattern = r"\S")]
            domain: Option<String>,
            /// Default 1.
            #[schema(exclusive_minimum = 0, maximum = 10000, multiple_of = 0.000001)]
            marks: Option<Decimal>,
            /// Subtracted for a wrong answer; default 0.
            #[schema(minimum = 0, maximum = 10000, multiple_of = 0.000001)]
            negative_marks: Option<Decimal>,
            /// Any case is accepted; default MEDIUM.
            #[schema(value_type = Option<Difficulty>)]
            difficulty: Option<String>,
            /// MULTIPLE_CORRECT only.
            partial_credit: Option<bool>,
            #[schema(min_items = 2, max_items = 10)]
            options: Option<Vec<OptionBody>>,
            /// NUMERICAL only.
            #[schema(minimum = -1e9, maximum = 1e9, multiple_of = 0.000001)]
            numerical_answer: Option<Decimal>,
            /// NUMERICAL only; default 0.
            #[schema(minimum = 0, maximum = 1e9, multiple_of = 0.000001)]
            tolerance: Option<Decimal>,
        }

        impl From<$name> for QuestionInput {
            fn from(b: $name) -> Self {
                QuestionInput {
                    statement: b.statement,
                    question_type: b.question_type,
                    domain: b.domain,
                    marks: b.marks,
                    negative_marks: b.negative_marks,
                    difficulty: b.difficulty,
                    partial_credit: b.partial_credit,
                    options: b.options.map(|o| o.into_iter().map(OptionInput::from).collect()),
                    numerical_answer: b.numerical_answer,
                    tolerance: b.tolerance,
                }
            }
        }
    };
}

question_body!(
    /// A new question.
    #[schema(example = json!({
        "statement": "What is 2 + 2?",
        "questionType": "SINGLE_CORRECT",
        "domain": "arithmetic",
        "marks": 2,
        "negativeMarks": 0.5,
        "difficulty": "EASY",
        "options": [
            { "text": "3", "isCorrect": false },
            { "text": "4", "isCorrect": true },
            { "text": "5", "isCorrect": false }
        ]
    }))]
    NewQuestionBody,
    required = true,
    nullable = false
);
question_body!(
    /// Changes to a question: absent fields keep their value; the result is validated as a
    /// whole.
    #[schema(example = json!({ "statement": "What is 2 + 3?", "difficulty": "MEDIUM" }))]
    QuestionChangesBody,
    required = false,
    nullable = true
);

/// `{success, message?, data}`: one question.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QuestionReply {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    message: Option<&'static str>,
    data: QuestionView,
}

impl QuestionReply {
    fn json(message: Option<&'static str>, q: Question) -> Json<Self> {
        Json(QuestionReply {
            success: true,
            message,
            data: QuestionView::from(q),
        })
    }
}

#[utoipa::path(post, path = "/api/question/create", operation_id = "createQuestion", tag = "questions", request_body = NewQuestionBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, description = "Created", body = QuestionReply),
        (status = 400, description = "Validation failed (details.errors lists every problem), or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(body): ApiJson<NewQuestionBody>,
) -> Result<(StatusCode, Json<QuestionReply>), ApiError> {
    let q = questions::create(&state, admin.id, body.into()).await?;
    Ok((
        StatusCode::CREATED,
        QuestionReply::json(Some("Question created"), q),
    ))
}

/// Query parameters arrive as text so that a bad `page` is our 400, not a generic rejection;
/// the document states the values accepted.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// 1-based; default 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1_000_000)]
    page: Option<String>,
    /// Default 20.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Exact domain (any case).
    domain: Option<String>,
    /// Any case is accepted.
    #[param(value_type = Option<Difficulty>)]
    difficulty: Option<String>,
    /// Any case is accepted.
    #[param(value_type = Option<QuestionType>)]
    question_type: Option<String>,
    /// Substring of the statement.
    search: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pagination {
    page: i64,
    limit: i64,
    total: i64,
    total_pages: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct QuestionPage {
    success: bool,
    data: Vec<QuestionView>,
    pagination: Pagination,
}

#[utoipa::path(get, path = "/api/question", operation_id = "listQuestions", tag = "questions", params(ListQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "One page of questions, newest first", body = QuestionPage),
        (status = 400, description = "Bad page, limit or filter", body = ErrorBody),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<QuestionPage>, ApiError> {
    let page = positive(q.page.as_deref(), "page", 1, 1_000_000)?;
    let limit = positive(q.limit.as_deref(), "limit", 20, MAX_PAGE_SIZE)?;
    let filter =
        Filter {
            domain: q.domain.map(|d| d.trim().to_lowercase()),
            difficulty: match q.difficulty {
                None => None,
                Some(d) => Some(Difficulty::parse(&d).ok_or_else(|| {
                    ApiError::bad_request("difficulty must be EASY, MEDIUM or HARD")
                })?),
            },
            question_type: match q.question_type {
                None => None,
                Some(t) => Some(QuestionType::parse(&t).ok_or_else(|| {
                    ApiError::bad_request(
                        "questionType must be SINGLE_CORRECT, MULTIPLE_CORRECT or NUMERICAL",
                    )
                })?),
            },
            search: q.search.filter(|s| !s.trim().is_empty()),
        };
    let (items, total) = questions::list(&state, &filter, page, limit).await?;
    Ok(Json(QuestionPage {
        success: true,
        data: items.into_iter().map(QuestionView::from).collect(),
        pagination: Pagination {
            page,
            limit,
            total,
            total_pages: (total + limit - 1) / limit,
        },
    }))
}

#[utoipa::path(get, path = "/api/question/{id}", operation_id = "getQuestion", tag = "questions",
    params(("id" = QuestionId, Path, description = "The question id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The question with its answer key", body = QuestionReply),
        (status = 400, description = "Not a valid id", body = ErrorBody),
        (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody),
        (status = 404, description = "No such question", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<QuestionReply>, ApiError> {
    let q = questions::get(&state, parse_id(&id, "question id")?).await?;
    Ok(QuestionReply::json(None, q))
}

#[utoipa::path(put, path = "/api/question/{id}", operation_id = "updateQuestion", tag = "questions",
    params(("id" = QuestionId, Path, description = "The question id")),
    request_body = QuestionChangesBody,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Updated; version bumped", body = QuestionReply),
        (status = 400, description = "Not a valid id, validation failed, or malformed JSON", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such question", body = ErrorBody),
        (status = 409, description = "Used by a published exam (frozen), or changed concurrently", body = ErrorBody),
        Unauthenticated, JsonBodyErrors,
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<QuestionChangesBody>,
) -> Result<Json<QuestionReply>, ApiError> {
    let q = questions::update(&state, parse_id(&id, "question id")?, body.into()).await?;
    Ok(QuestionReply::json(Some("Question updated"), q))
}

#[utoipa::path(delete, path = "/api/question/{id}", operation_id = "deleteQuestion", tag = "questions",
    params(("id" = QuestionId, Path, description = "The question id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a valid id", body = ErrorBody),
        (status = 403, description = "Email not verified, not an administrator, or a cookie from a foreign origin", body = ErrorBody),
        (status = 404, description = "No such question", body = ErrorBody),
        (status = 409, description = "Used by an exam", body = ErrorBody),
        Unauthenticated,
    ))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    questions::delete(&state, parse_id(&id, "question id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
