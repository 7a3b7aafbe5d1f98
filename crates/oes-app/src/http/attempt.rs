//! `/api/exam-attempt` handlers: a student's attempt at a live exam.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{self, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
use crate::service::paper::BodyWriter;
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
    headers: HeaderMap,
    Path(exam_id): Path<String>,
) -> Result<Response, ApiError> {
    let p = attempts::load(&state, user.id, parse_id(&exam_id, "examId")?).await?;
    let gzip = accepts_gzip(&headers);
    let body = loaded_body(&p, gzip)?;
    let mut response = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ],
        body,
    )
        .into_response();
    if gzip {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// The [`Loaded`] document, written from the rendered paper's bytes: the same JSON as
/// serialising `Loaded`, without building it per request.
fn loaded_body(p: &attempts::AttemptPaper, gzip: bool) -> Result<Vec<u8>, ApiError> {
    // The rendered questions are most of the body; a little room for the rest.
    let capacity = if gzip { 32 * 1024 } else { 96 * 1024 };
    let mut w = if gzip {
        BodyWriter::gzip(capacity)
    } else {
        BodyWriter::identity(capacity)
    };
    w.dynamic(br#"{"success":true,"message":"Attempt loaded","exam":{"id":"#);
    put(&mut w, &p.exam_id)?;
    w.dynamic(br#","title":"#);
    put(&mut w, &p.title)?;
    w.dynamic(br#","questions":["#);
    p.paper
        .write_questions(&mut w, p.shuffle_seed, p.answers.as_map());
    w.dynamic(br#"]},"attemptId":"#);
    put(&mut w, &p.attempt_id)?;
    w.dynamic(br#","remainingSeconds":"#);
    put(&mut w, &p.remaining_seconds)?;
    w.dynamic(br#","deadlineAt":"#);
    put(&mut w, &format_instant(p.deadline_at))?;
    w.dynamic(b"}");
    Ok(w.finish())
}

fn put<T: Serialize + ?Sized>(w: &mut BodyWriter, value: &T) -> Result<(), ApiError> {
    serde_json::to_writer(w, value).map_err(|e| ApiError::internal(format!("paper body: {e}")))
}

/// True when `Accept-Encoding` allows gzip: listed (or `*`) with a non-zero q.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        })
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Read;

    use axum::http::{HeaderMap, HeaderValue, header};
    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::attempts::option_order;
    use crate::domain::questions::QuestionType;
    use crate::service::attempts::{AttemptPaper, StudentAnswer};
    use crate::service::exams::{PaperOption, PaperQuestion};
    use crate::service::paper::RenderedPaper;

    fn questions() -> Vec<PaperQuestion> {
        (1..=4)
            .map(|n| PaperQuestion {
                exam_question_id: format!("slot-{n}"),
                question_order: n,
                marks: Decimal::new(15, 1),
                negative_marks: Decimal::new(5, 1),
                id: QuestionId::new(),
                statement: format!("Ünïcode \"quoted\" statement {n}\n<b>"),
                question_type: QuestionType::MultipleCorrect,
                domain: "Physics".into(),
                options: (0..5)
                    .map(|k| PaperOption {
                        id: OptionId::new(),
                        text: format!("option {k}"),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The response as it was built before the paper became bytes: a `Loaded` serialised.
    fn as_serialised(p: &AttemptPaper, saved: &HashMap<QuestionId, StudentAnswer>) -> Vec<u8> {
        let questions = p
            .paper
            .questions()
            .iter()
            .map(|q| {
                let mut q = q.clone();
                if let Some(seed) = p.shuffle_seed {
                    let order = option_order(seed, q.id, q.options.len());
                    q.options = order.iter().map(|i| q.options[*i].clone()).collect();
                }
                let student_answer = saved.get(&q.id).cloned();
                AttemptQuestion {
                    question: q,
                    student_answer,
                }
            })
            .collect();
        serde_json::to_vec(&Loaded {
            success: true,
            message: "Attempt loaded",
            exam: PaperExam {
                id: p.exam_id,
                title: p.title.clone(),
                questions,
            },
            attempt_id: p.attempt_id,
            remaining_seconds: p.remaining_seconds,
            deadline_at: format_instant(p.deadline_at),
        })
        .expect("serialise")
    }

    #[test]
    fn the_paper_written_as_bytes_is_the_document_loaded_serialises_to() {
        let qs = questions();
        let saved = HashMap::from([
            (
                qs[0].id,
                StudentAnswer {
                    selected_option_ids: vec![qs[0].options[2].id],
                    numerical_answer: None,
                },
            ),
            (
                qs[3].id,
                StudentAnswer {
                    selected_option_ids: vec![],
                    numerical_answer: Some(Decimal::new(314, 2)),
                },
            ),
        ]);
        for shuffle_seed in [None, Some(1234)] {
            let p = AttemptPaper {
                exam_id: ExamId::new(),
                title: "Mid-term \"A\"".into(),
                attempt_id: AttemptId::new(),
                remaining_seconds: 1799,
                deadline_at: 1_800_000_000_000,
                paper: RenderedPaper::render(qs.clone()).expect("render"),
                shuffle_seed,
                answers: saved
                    .iter()
                    .map(|(id, a)| (*id, serde_json::to_vec(a).expect("json")))
                    .collect::<HashMap<_, _>>()
                    .into(),
            };
            let identity = loaded_body(&p, false).expect("identity body");
            assert_eq!(
                String::from_utf8_lossy(&identity),
                String::from_utf8_lossy(&as_serialised(&p, &saved)),
                "shuffle {shuffle_seed:?}"
            );
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(loaded_body(&p, true).expect("gzip body").as_slice())
                .read_to_end(&mut decoded)
                .expect("valid gzip");
            assert_eq!(decoded, identity);
        }
    }

    #[test]
    fn gzip_is_chosen_only_when_accept_encoding_allows_it() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(!accepts_gzip(&HeaderMap::new()));
        assert!(with("gzip"));
        assert!(with("br, GZIP;q=0.8, deflate"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, deflate"));
        assert!(!with("identity"));
    }
}
