//! Scoring a submitted attempt: the `calculate-score` job's use case and the sweep's. Scores are
//! computed from the paper's frozen questions and the saved answers, and recorded once.

use std::collections::HashMap;

use oes_cache::Cache;
use rust_decimal::Decimal;

use crate::cache_entries as entry;
use crate::db::{Db, now_ms};
use crate::domain::attempts::AttemptStatus;
use crate::domain::ids::{AttemptId, QuestionId};
use crate::domain::scoring::{ScoreOverflow, score_question, total};
use crate::service::exams::{ExamError, forget_user_exams, slot_views};
use crate::store::attempts::{self as store, Client, EventKind};

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
    let unscorable = |e: ScoreOverflow| ExamError::Internal(format!("attempt {id}: {e}"));
    let marks: Vec<(QuestionId, Decimal)> = slots
        .iter()
        .map(|v| {
            let m = score_question(&v.question, v.slot.marks, answers.get(&v.question.id))?;
            Ok((v.question.id, m.round_dp(6)))
        })
        .collect::<Result<_, ScoreOverflow>>()
        .map_err(unscorable)?;
    let score = total(marks.iter().map(|(_, m)| *m)).map_err(unscorable)?;
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
    if let Err(e) = cache.delete(&entry::result(id).key).await {
        tracing::warn!(attempt = %id, "cache invalidation failed: {e}");
    }
    Ok(true)
}
