//! Scoring and results. Scores are computed from the snapshots frozen at publish, once per
//! attempt (a second run finds `scored_at` set and does nothing), and only shown to the
//! student after the exam's window has closed for everyone (`end_time`): before that, the list
//! carries no score and `/score` and `/analysis` answer 403; while scoring is pending, 202.

use std::collections::HashMap;
use std::time::Duration;

use oes_cache::{Cache, keys};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::db::{Db, now_ms};
use crate::domain::attempts::AttemptStatus;
use crate::domain::exams::format_instant;
use crate::domain::ids::{AttemptId, ExamId, OptionId, QuestionId, UserId};
use crate::domain::questions::QuestionType;
use crate::domain::scoring::{as_number, score_question, total};
use crate::service::attempts::{forget_user_exams, my_attempts};
use crate::service::exams::{self, ExamError, slot_views};
use crate::state::AppState;
use crate::store::attempts::{self as store, AttemptRow, Client, EventKind};
use crate::store::exams::ExamRow;

const RESULT_TTL: Duration = Duration::from_secs(2 * 3600);

/// Scores a submitted attempt. True when this call recorded the score; false when it was
/// already scored or is still in progress.
pub async fn score_attempt(db: &Db, cache: &Cache, id: AttemptId) -> Result<bool, ExamError> {
    let mut conn = db.pool().acquire().await?;
    let attempt = store::get(&mut conn, id)
        .await?
        .ok_or(ExamError::NotFound("attempt not found"))?;
    if attempt.status == AttemptStatus::InProgress || attempt.scored_at.is_some() {
        return Ok(false);
    }
    let slots = slot_views(&mut conn, attempt.exam_id).await?;
    let answers: HashMap<QuestionId, _> = store::answers(&mut conn, id)
        .await?
        .into_iter()
        .map(|a| (a.question_id, a.answer))
        .collect();
    drop(conn);
    let marks: Vec<(QuestionId, Decimal)> = slots
        .iter()
        .map(|v| {
            let m = score_question(&v.question, v.slot.marks, answers.get(&v.question.id));
            (v.question.id, m.round_dp(6))
        })
        .collect();
    let score = total(marks.iter().map(|(_, m)| *m));
    let now = now_ms();
    let mut tx = db.begin().await?;
    for (question, m) in &marks {
        if answers.contains_key(question) {
            store::set_answer_marks(&mut tx, id, *question, *m).await?;
        }
    }
    let done = store::set_score(&mut tx, id, score, now).await?;
    if !done {
        // Someone else scored it meanwhile: keep their marks.
        return Ok(false);
    }
    store::log_event(
        &mut tx,
        id,
        EventKind::Scored,
        now,
        &Client::default(),
        Some(&score.to_string()),
    )
    .await?;
    tx.commit().await?;
    forget_user_exams(cache, attempt.user_id).await;
    if let Err(e) = cache.delete(&keys::result(id)).await {
        tracing::warn!(attempt = %id, "cache invalidation failed: {e}");
    }
    Ok(true)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultItem {
    pub attempt_id: AttemptId,
    pub exam_id: ExamId,
    pub exam_title: String,
    /// Only once results are released for this exam.
    #[serde(with = "as_number::option")]
    pub score: Option<Decimal>,
    pub status: AttemptStatus,
    pub submitted_at: Option<String>,
    pub started_at: String,
    pub duration_minutes: i64,
    pub end_time: String,
    pub is_result_available: bool,
}

fn released(exam: &ExamRow, attempt: &AttemptRow, now: i64) -> bool {
    attempt.status != AttemptStatus::InProgress && now >= exam.end_time
}

/// The student's attempts, newest first, with scores only where released.
pub async fn mine(state: &AppState, user: UserId) -> Result<Vec<ResultItem>, ExamError> {
    let now = now_ms();
    let mut out = Vec::new();
    for attempt in my_attempts(state, user).await? {
        let Some(exam) = exams::cached_exam(state, attempt.exam_id).await? else {
            continue;
        };
        let available = released(&exam, &attempt, now) && attempt.score.is_some();
        out.push(ResultItem {
            attempt_id: attempt.id,
            exam_id: exam.id,
            exam_title: exam.title.clone(),
            score: if available { attempt.score } else { None },
            status: attempt.status,
            submitted_at: attempt.submitted_at.map(format_instant),
            started_at: format_instant(attempt.started_at),
            duration_minutes: exam.duration_minutes,
            end_time: format_instant(exam.end_time),
            is_result_available: available,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScoreView {
    pub attempt_id: AttemptId,
    pub exam_id: ExamId,
    pub exam_title: String,
    #[serde(with = "as_number")]
    pub score: Decimal,
    pub status: AttemptStatus,
    pub submitted_at: Option<String>,
}

/// A result, or the fact that scoring has not finished (202).
pub enum Outcome<T> {
    Ready(T),
    Pending,
}

/// The gates shared by `/score` and `/analysis`: an attempt exists, it is finished (an overdue
/// one is auto-submitted now), and the exam has ended.
async fn released_attempt(
    state: &AppState,
    user: UserId,
    exam_id: ExamId,
) -> Result<(ExamRow, AttemptRow), ExamError> {
    let exam = exams::cached_exam(state, exam_id)
        .await?
        .filter(|e| e.state == crate::domain::exams::ExamState::Published)
        .ok_or(ExamError::NotFound("exam not found"))?;
    let mut conn = state.db.pool().acquire().await?;
    let mut attempt = store::find(&mut conn, exam_id, user)
        .await?
        .ok_or(ExamError::NotFound("you have no attempt at this exam"))?;
    drop(conn);
    let now = now_ms();
    if attempt.status == AttemptStatus::InProgress {
        if now < attempt.deadline_at {
            return Err(ExamError::Rejected(
                "attempt_in_progress",
                "the attempt is still in progress".into(),
            ));
        }
        crate::service::attempts::auto_submit(&state.db, &state.cache, &state.jobs, attempt.id)
            .await?;
        attempt.status = AttemptStatus::AutoSubmitted;
    }
    if now < exam.end_time {
        return Err(ExamError::Forbidden(
            "results_not_released",
            format!(
                "results are released when the exam ends, at {}",
                format_instant(exam.end_time)
            ),
        ));
    }
    Ok((exam, attempt))
}

pub async fn score(
    state: &AppState,
    user: UserId,
    exam_id: ExamId,
) -> Result<Outcome<ScoreView>, ExamError> {
    let (exam, attempt) = released_attempt(state, user, exam_id).await?;
    let mut conn = state.db.pool().acquire().await?;
    let fresh = store::get(&mut conn, attempt.id)
        .await?
        .ok_or(ExamError::NotFound("attempt not found"))?;
    Ok(match fresh.score {
        None => Outcome::Pending,
        Some(score) => Outcome::Ready(ScoreView {
            attempt_id: fresh.id,
            exam_id,
            exam_title: exam.title,
            score,
            status: fresh.status,
            submitted_at: fresh.submitted_at.map(format_instant),
        }),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisOption {
    pub id: OptionId,
    pub text: String,
    pub is_correct: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisAnswer {
    pub selected_option_ids: Vec<OptionId>,
    #[serde(with = "as_number::option")]
    pub numerical_answer: Option<Decimal>,
    #[serde(with = "as_number")]
    pub marks_obtained: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CorrectAnswer {
    pub option_ids: Vec<OptionId>,
    #[serde(with = "as_number::option")]
    pub numerical_answer: Option<Decimal>,
    #[serde(with = "as_number::option")]
    pub tolerance: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisQuestion {
    pub question_id: QuestionId,
    pub question_order: i64,
    pub statement: String,
    pub question_type: QuestionType,
    #[serde(with = "as_number")]
    pub marks: Decimal,
    #[serde(with = "as_number")]
    pub negative_marks: Decimal,
    pub options: Vec<AnalysisOption>,
    pub student_answer: Option<AnalysisAnswer>,
    pub correct_answer: CorrectAnswer,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub attempt_id: AttemptId,
    pub exam_id: ExamId,
    pub exam_title: String,
    #[serde(with = "as_number")]
    pub score: Decimal,
    pub total_questions: usize,
    #[serde(with = "as_number")]
    pub total_marks: Decimal,
    /// Rounded to two decimals.
    #[serde(with = "as_number")]
    pub percentage: Decimal,
    pub status: AttemptStatus,
    pub submitted_at: Option<String>,
    pub started_at: String,
    pub duration_minutes: i64,
    pub questions: Vec<AnalysisQuestion>,
}

/// The per-question review with the answer keys, cached per attempt once scored (a score never
/// changes afterwards).
pub async fn analysis(
    state: &AppState,
    user: UserId,
    exam_id: ExamId,
) -> Result<Outcome<Analysis>, ExamError> {
    let (exam, attempt) = released_attempt(state, user, exam_id).await?;
    let db = state.db.clone();
    let attempt_id = attempt.id;
    let built: Option<Analysis> = state
        .cache
        .get_or_set_opt(&keys::result(attempt_id), RESULT_TTL, || async move {
            build_analysis(&db, &exam, attempt_id).await
        })
        .await?;
    Ok(match built {
        Some(a) => Outcome::Ready(a),
        None => Outcome::Pending,
    })
}

async fn build_analysis(
    db: &Db,
    exam: &ExamRow,
    id: AttemptId,
) -> Result<Option<Analysis>, ExamError> {
    let mut conn = db.pool().acquire().await?;
    let attempt = store::get(&mut conn, id)
        .await?
        .ok_or(ExamError::NotFound("attempt not found"))?;
    let Some(score) = attempt.score else {
        return Ok(None);
    };
    let slots = slot_views(&mut conn, exam.id).await?;
    let answers: HashMap<QuestionId, _> = store::answers(&mut conn, id)
        .await?
        .into_iter()
        .map(|a| (a.question_id, a))
        .collect();
    let total_marks: Decimal = slots.iter().map(|v| v.slot.marks).sum();
    let percentage = if total_marks.is_zero() {
        Decimal::ZERO
    } else {
        (score * Decimal::ONE_HUNDRED / total_marks).round_dp(2)
    };
    let questions = slots
        .into_iter()
        .map(|v| {
            let q = v.question;
            AnalysisQuestion {
                question_id: q.id,
                question_order: v.slot.order,
                statement: q.statement,
                question_type: q.question_type,
                marks: v.slot.marks,
                negative_marks: q.negative_marks,
                correct_answer: CorrectAnswer {
                    option_ids: q
                        .options
                        .iter()
                        .filter(|o| o.is_correct)
                        .map(|o| o.id)
                        .collect(),
                    numerical_answer: q.numerical.map(|n| n.value),
                    tolerance: q.numerical.map(|n| n.tolerance),
                },
                options: q
                    .options
                    .into_iter()
                    .map(|o| AnalysisOption {
                        id: o.id,
                        text: o.text,
                        is_correct: o.is_correct,
                    })
                    .collect(),
                student_answer: answers.get(&q.id).map(|a| AnalysisAnswer {
                    selected_option_ids: a.answer.selected.clone(),
                    numerical_answer: a.answer.numerical,
                    marks_obtained: a.marks_obtained.unwrap_or(Decimal::ZERO),
                }),
            }
        })
        .collect::<Vec<_>>();
    Ok(Some(Analysis {
        attempt_id: id,
        exam_id: exam.id,
        exam_title: exam.title.clone(),
        score,
        total_questions: questions.len(),
        total_marks,
        percentage,
        status: attempt.status,
        submitted_at: attempt.submitted_at.map(format_instant),
        started_at: format_instant(attempt.started_at),
        duration_minutes: exam.duration_minutes,
        questions,
    }))
}
