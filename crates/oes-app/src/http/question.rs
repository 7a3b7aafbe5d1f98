//! `/api/question`: the question bank, for administrators only.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::ids::{OptionId, QuestionId};
use crate::domain::questions::{Difficulty, Question, QuestionInput, QuestionType};
use crate::domain::scoring::as_number;
use crate::http::auth::ErrorBody;
use crate::http::exam::parse_id;
use crate::http::{AdminUser, ApiError, ApiJson};
use crate::service::questions::{self, MAX_PAGE_SIZE};
use crate::state::AppState;
use crate::store::questions::Filter;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/question/create", post(create))
        .route("/question", get(list))
        .route("/question/", get(list))
        .route("/question/{id}", get(get_one).put(update).delete(delete))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionView {
    pub id: OptionId,
    pub text: String,
    pub is_correct: bool,
}

/// A question with its answer key: administrators only.
#[derive(Serialize)]
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

#[utoipa::path(post, path = "/api/question/create", tag = "questions", request_body(content = serde_json::Value, description = "statement, questionType (SINGLE_CORRECT | MULTIPLE_CORRECT | NUMERICAL), domain, marks (default 1), negativeMarks (default 0), difficulty (EASY | MEDIUM | HARD), partialCredit (MULTIPLE_CORRECT only), options [{text, isCorrect}] (choice types: 2 to 10, exactly one correct for SINGLE_CORRECT), numericalAnswer and tolerance (NUMERICAL). Numbers take at most 6 decimals."), responses((status = 201, description = "Created: {success, message, data: question}", body = serde_json::Value), (status = 400, description = "Validation failed (details.errors lists every problem)", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<QuestionInput>,
) -> Result<Response, ApiError> {
    let q = questions::create(&state, admin.id, input).await?;
    let body =
        json!({ "success": true, "message": "Question created", "data": QuestionView::from(q) });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Query parameters arrive as text so that a bad `page` is our 400, not a generic rejection.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    page: Option<String>,
    limit: Option<String>,
    domain: Option<String>,
    difficulty: Option<String>,
    question_type: Option<String>,
    search: Option<String>,
}

fn positive(raw: Option<&str>, name: &str, default: i64, max: i64) -> Result<i64, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "{name} must be an integer from 1 to {max}"
            ))),
        },
    }
}

#[utoipa::path(get, path = "/api/question", tag = "questions", params(("page" = Option<i64>, Query, description = "1-based page (default 1)"), ("limit" = Option<i64>, Query, description = "1 to 100 (default 20)"), ("domain" = Option<String>, Query), ("difficulty" = Option<String>, Query), ("questionType" = Option<String>, Query), ("search" = Option<String>, Query, description = "Substring of the statement")), responses((status = 200, description = "{success, data: [question], pagination: {page, limit, total, totalPages}}", body = serde_json::Value), (status = 400, description = "Bad page, limit or filter", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
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
    let data: Vec<QuestionView> = items.into_iter().map(QuestionView::from).collect();
    let body = json!({
        "success": true,
        "data": data,
        "pagination": { "page": page, "limit": limit, "total": total, "totalPages": (total + limit - 1) / limit },
    });
    Ok(axum::Json(body).into_response())
}

#[utoipa::path(get, path = "/api/question/{id}", tag = "questions", params(("id" = String, Path, description = "The question id (UUID)")), responses((status = 200, description = "{success, data: question} with the answer key", body = serde_json::Value), (status = 404, description = "No such question", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let q = questions::get(&state, parse_id(&id, "question id")?).await?;
    Ok(axum::Json(json!({ "success": true, "data": QuestionView::from(q) })).into_response())
}

#[utoipa::path(put, path = "/api/question/{id}", tag = "questions", params(("id" = String, Path, description = "The question id (UUID)")), request_body(content = serde_json::Value, description = "Any field of create; options may carry their id to keep it. The result is validated as a whole."), responses((status = 200, description = "Updated; version bumped", body = serde_json::Value), (status = 400, description = "Validation failed", body = ErrorBody), (status = 404, description = "No such question", body = ErrorBody), (status = 409, description = "Used by a published exam (frozen), or changed concurrently", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<QuestionInput>,
) -> Result<Response, ApiError> {
    let q = questions::update(&state, parse_id(&id, "question id")?, input).await?;
    let body =
        json!({ "success": true, "message": "Question updated", "data": QuestionView::from(q) });
    Ok(axum::Json(body).into_response())
}

#[utoipa::path(delete, path = "/api/question/{id}", tag = "questions", params(("id" = String, Path, description = "The question id (UUID)")), responses((status = 204, description = "Deleted"), (status = 404, description = "No such question", body = ErrorBody), (status = 409, description = "Used by an exam", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody), (status = 403, description = "Email not verified, or not an administrator", body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    questions::delete(&state, parse_id(&id, "question id")?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
