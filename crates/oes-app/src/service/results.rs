//! Scoring and results. Scores are computed from the snapshots frozen at publish, once per
//! attempt (a second run finds `scored_at` set and does nothing), and only shown to the
//! student once no attempt at the exam can be saved any more (`end_time` plus the grace period,
//! see [`release_time`]): before that, the list carries no score and `/score` and `/analysis`
//! answer 403; while scoring is pending, 202.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cache_entries as entry;
use crate::db::{Db, now_ms};
use crate::domain::attempts::{AttemptStatus, last_deadline};
use crate::domain::exams::format_instant;
use crate::domain::ids::{AttemptId, ExamId, OptionId, QuestionId, UserId};
use crate::domain::questions::QuestionType;
use crate::domain::scoring::{as_number, percentage, saturating_sum};
use crate::service::attempts::my_attempts;
use crate::service::exams::{self, ExamError, slot_views};
use crate::state::AppState;
use crate::store::attempts::{self as store, AttemptRow};
use crate::store::exams::ExamRow;

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

/// When an exam's scores and answer keys may be shown: at the last moment any attempt can still
/// save (the exam's end plus its grace period), not at the end itself, or a student who has
/// submitted could read the key and pass it to one still answering in the grace period.
pub fn release_time(exam: &ExamRow) -> i64 {
    last_deadline(exam.end_time, exam.grace_seconds)
}

/// The 403 for a read before [`release_time`].
pub(crate) fn not_released(exam: &ExamRow) -> ExamError {
    ExamError::Forbidden(
        "results_not_released",
        format!(
            "results are released when the exam's grace period is over, at {}",
            format_instant(release_time(exam))
        ),
    )
}

fn released(exam: &ExamRow, attempt: &AttemptRow, now: i64) -> bool {
    attempt.status != AttemptStatus::InProgress && now >= release_time(exam)
}

/// How far scoring has come for an exam: (finished attempts, scored attempts).
pub async fn scoring_progress(db: &Db, exam: ExamId) -> Result<(i64, i64), ExamError> {
    let mut conn = db.pool().acquire().await?;
    let exam = exam.to_string();
    let finished = crate::store::results::participants(&mut conn, &exam).await?;
    let scored = crate::store::results::scored(&mut conn, &exam).await?;
    Ok((finished, scored))
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
/// one is auto-submitted now), and the exam's results are released.
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
    if now < release_time(&exam) {
        return Err(not_released(&exam));
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
    /// A NUMERICAL question's key; null for the others.
    #[serde(with = "as_number::option")]
    pub numerical_answer: Option<Decimal>,
    /// The same key under the name the frontend's result page reads (`correctAnswer.value`,
    /// beside `tolerance`): without it the page shows "N/A".
    #[serde(with = "as_number::option")]
    pub value: Option<Decimal>,
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
    let cached = entry::result(attempt_id);
    let built: Option<Analysis> = state
        .cache
        .get_or_set_opt(&cached.key, cached.ttl, || async move {
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
    let total_marks = saturating_sum(slots.iter().map(|v| v.slot.marks));
    let percentage = percentage(score, total_marks);
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
                    value: q.numerical.map(|n| n.value),
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
