//! The question bank's use cases. A question used by a published exam is frozen: the exam
//! holds a snapshot, and editing or deleting the original would only confuse what was asked
//! with what the bank says now, so both are refused (409). Deleting a question still in a draft
//! exam is refused too: remove it from the exam first.

use crate::cache_entries as entry;
use crate::domain::ids::{QuestionId, UserId};
use crate::domain::questions::{Question, QuestionInput};
use crate::service::exams::ExamError;
use crate::state::AppState;
use crate::store::questions::{self as store, Filter};

pub const MAX_PAGE_SIZE: i64 = 100;

pub async fn create(
    state: &AppState,
    admin: UserId,
    input: QuestionInput,
) -> Result<Question, ExamError> {
    let question = input
        .into_new(QuestionId::new())
        .map_err(ExamError::Invalid)?;
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &question, Some(admin)).await?;
    tx.commit().await?;
    Ok(question)
}

/// One page (1-based) of the bank and the total number of matches.
pub async fn list(
    state: &AppState,
    filter: &Filter,
    page: i64,
    limit: i64,
) -> Result<(Vec<Question>, i64), ExamError> {
    let mut conn = state.db.pool().acquire().await?;
    Ok(store::list(&mut conn, filter, limit, (page - 1) * limit).await?)
}

pub async fn get(state: &AppState, id: QuestionId) -> Result<Question, ExamError> {
    let db = state.db.clone();
    let cached = entry::question(id);
    state
        .cache
        .get_or_set_opt(&cached.key, cached.ttl, || async move {
            let mut conn = db.pool().acquire().await?;
            store::get(&mut conn, id).await
        })
        .await?
        .ok_or(ExamError::NotFound("question not found"))
}

pub async fn update(
    state: &AppState,
    id: QuestionId,
    input: QuestionInput,
) -> Result<Question, ExamError> {
    let mut tx = state.db.begin().await?;
    let current = store::get(&mut tx, id)
        .await?
        .ok_or(ExamError::NotFound("question not found"))?;
    if store::used_in(&mut tx, id)
        .await?
        .iter()
        .any(|s| s != "DRAFT")
    {
        return Err(ExamError::Conflict(
            "question_in_published_exam",
            "this question is part of a published exam and cannot change; create a new question instead".into(),
        ));
    }
    let updated = input.apply_to(&current).map_err(ExamError::Invalid)?;
    if !store::replace(&mut tx, &updated, current.version).await? {
        return Err(ExamError::Conflict(
            "question_changed",
            "the question was changed meanwhile; reload it and try again".into(),
        ));
    }
    tx.commit().await?;
    invalidate(state, id).await;
    Ok(updated)
}

pub async fn delete(state: &AppState, id: QuestionId) -> Result<(), ExamError> {
    let mut tx = state.db.begin().await?;
    let used = store::used_in(&mut tx, id).await?;
    if !used.is_empty() {
        return Err(ExamError::Conflict(
            "question_in_use",
            "this question is part of an exam; remove it from draft exams first (published exams keep it)".into(),
        ));
    }
    if !store::delete(&mut tx, id).await? {
        return Err(ExamError::NotFound("question not found"));
    }
    tx.commit().await?;
    invalidate(state, id).await;
    Ok(())
}

async fn invalidate(state: &AppState, id: QuestionId) {
    if let Err(e) = state.cache.delete(&entry::question(id).key).await {
        tracing::warn!(question = %id, "cache invalidation failed: {e}");
    }
}
