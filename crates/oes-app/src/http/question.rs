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

async fn create(
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
struct ListQuery {
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

async fn list(
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

async fn get_one(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let q = questions::get(&state, parse_id(&id, "question id")?).await?;
    Ok(axum::Json(json!({ "success": true, "data": QuestionView::from(q) })).into_response())
}

async fn update(
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

async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    questions::delete(&state, parse_id(&id, "question id")?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
