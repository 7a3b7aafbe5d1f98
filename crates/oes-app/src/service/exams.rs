//! Exam use cases: drafts, question slots, publishing (which freezes every question into a
//! snapshot), the lists students see, and the exam paper every attempt loads.
//!
//! Also the area's one service error, [`ExamError`], shared by the question, attempt, result
//! and leaderboard services, and the counters of [`crate::state::ExamStats`].
//!
//! Cache (keys from `oes_cache::keys`): `exam:{id}` the exam row (any state; invalidated by every
//! write to the exam, and only served after the caller's authorisation is settled), `exams:all`
//! the PUBLISHED exams students can see (changed only by publishing), `exam:{id}:questions` the
//! paper of a published exam, without answer keys (published exams never change, so it is
//! never stale; single flight makes a start storm load it once per process).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use oes_cache::Cache;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::cache_entries as entry;
use crate::db::now_ms;
use crate::domain::exams::{ExamState, Schedule, parse_instant};
use crate::domain::ids::{ExamId, QuestionId, UserId};
use crate::domain::questions::Question;
use crate::service::paper::RenderedPaper;
pub use crate::service::paper::{PaperOption, PaperQuestion};
use crate::state::AppState;
use crate::store::exams::{self as store, ExamRow, SlotRow};
use crate::store::questions as qstore;

/// What can go wrong in the exam area; the HTTP layer maps each variant to one status.
#[derive(Debug, thiserror::Error)]
pub enum ExamError {
    #[error("{0}")]
    NotFound(&'static str),
    #[error("invalid input")]
    Invalid(Vec<String>),
    /// 400 with a stable code.
    #[error("{1}")]
    Rejected(&'static str, String),
    /// 403 with a stable code.
    #[error("{1}")]
    Forbidden(&'static str, String),
    /// 409 with a stable code.
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<Arc<sqlx::Error>> for ExamError {
    fn from(e: Arc<sqlx::Error>) -> Self {
        ExamError::Internal(format!("database: {e}"))
    }
}

impl From<Arc<ExamError>> for ExamError {
    fn from(e: Arc<ExamError>) -> Self {
        match Arc::try_unwrap(e) {
            Ok(inner) => inner,
            Err(shared) => ExamError::Internal(shared.to_string()),
        }
    }
}

/// Create and update body. On update, absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub duration_minutes: Option<i64>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub grace_seconds: Option<i64>,
    pub shuffle_options: Option<bool>,
}

fn apply_input(input: ExamInput, current: Option<&ExamRow>) -> Result<ExamRow, ExamError> {
    let mut errors = Vec::new();
    let title = input
        .title
        .map(|t| t.trim().to_owned())
        .or_else(|| current.map(|c| c.title.clone()))
        .unwrap_or_default();
    if title.is_empty() {
        errors.push("title is required".to_owned());
    }
    let mut instant = |field: &str, raw: Option<String>, old: Option<i64>| match raw {
        Some(raw) => parse_instant(field, &raw).map_err(|e| errors.push(e)).ok(),
        None => {
            if old.is_none() {
                errors.push(format!("{field} is required"));
            }
            old
        }
    };
    let start = instant("startTime", input.start_time, current.map(|c| c.start_time));
    let end = instant("endTime", input.end_time, current.map(|c| c.end_time));
    let duration = input
        .duration_minutes
        .or(current.map(|c| c.duration_minutes));
    if duration.is_none() {
        errors.push("durationMinutes is required".to_owned());
    }
    let grace = input
        .grace_seconds
        .or(current.map(|c| c.grace_seconds))
        .unwrap_or(0);
    if let Err(e) = crate::domain::exams::check_grace(grace) {
        errors.push(e);
    }
    if let (Some(s), Some(e), Some(d)) = (start, end, duration)
        && let Err(mut more) = Schedule::new(s, e, d)
    {
        errors.append(&mut more);
    }
    let now = now_ms();
    if let Some(e) = end
        && let Err(e) = crate::domain::exams::check_not_over(e, now)
    {
        errors.push(e);
    }
    if !errors.is_empty() {
        return Err(ExamError::Invalid(errors));
    }
    Ok(ExamRow {
        id: current.map_or_else(ExamId::new, |c| c.id),
        title,
        description: input
            .description
            .or_else(|| current.and_then(|c| c.description.clone())),
        duration_minutes: duration.unwrap_or(1),
        start_time: start.unwrap_or(now),
        end_time: end.unwrap_or(now),
        state: ExamState::Draft,
        grace_seconds: grace,
        shuffle_options: input
            .shuffle_options
            .or(current.map(|c| c.shuffle_options))
            .unwrap_or(false),
        published_at: None,
        created_at: current.map_or(now, |c| c.created_at),
    })
}

async fn invalidate_exam(state: &AppState, id: ExamId) {
    let keys = [
        entry::exam(id).key,
        entry::exams_all().key,
        entry::paper(id).key,
    ];
    if let Err(e) = state.cache.delete_many(&keys).await {
        tracing::warn!(exam = %id, "cache invalidation failed: {e}");
    }
}

pub async fn create(
    state: &AppState,
    admin: UserId,
    input: ExamInput,
) -> Result<ExamRow, ExamError> {
    let exam = apply_input(input, None)?;
    let mut conn = state.db.pool().acquire().await?;
    store::insert(&mut conn, &exam, Some(admin)).await?;
    invalidate_exam(state, exam.id).await;
    Ok(exam)
}

pub async fn update(state: &AppState, id: ExamId, input: ExamInput) -> Result<ExamRow, ExamError> {
    let mut tx = state.db.begin().await?;
    let current = store::get(&mut tx, id)
        .await?
        .ok_or(ExamError::NotFound("exam not found"))?;
    if current.state != ExamState::Draft {
        return Err(not_draft());
    }
    let exam = apply_input(input, Some(&current))?;
    if !store::update_draft(&mut tx, &exam).await? {
        return Err(not_draft());
    }
    tx.commit().await?;
    invalidate_exam(state, id).await;
    Ok(exam)
}

fn not_draft() -> ExamError {
    ExamError::Rejected(
        "exam_not_draft",
        "only a DRAFT exam can be changed; a published exam is frozen".into(),
    )
}

pub async fn delete(state: &AppState, id: ExamId) -> Result<(), ExamError> {
    let mut conn = state.db.pool().acquire().await?;
    let exam = store::get(&mut conn, id)
        .await?
        .ok_or(ExamError::NotFound("exam not found"))?;
    if exam.state != ExamState::Draft || !store::delete_draft(&mut conn, id).await? {
        return Err(not_draft());
    }
    invalidate_exam(state, id).await;
    Ok(())
}

/// One question to add, with its slot marks (the question's own marks when absent).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddQuestion {
    pub question_id: QuestionId,
    pub marks: Option<Decimal>,
}

/// Removes, then appends after the current last slot, in one transaction.
pub async fn set_questions(
    state: &AppState,
    id: ExamId,
    add: Vec<AddQuestion>,
    remove: Vec<QuestionId>,
) -> Result<(), ExamError> {
    if add.is_empty() && remove.is_empty() {
        return Err(ExamError::Invalid(vec![
            "give addQuestionIds or removeQuestionIds".into(),
        ]));
    }
    // The transaction rolls back when dropped on any early return (no leaked connections).
    let mut tx = state.db.begin().await?;
    if store::get(&mut tx, id).await?.is_none() {
        return Err(ExamError::NotFound("exam not found"));
    }
    if !store::lock_draft(&mut tx, id).await? {
        return Err(not_draft());
    }
    for q in &remove {
        store::remove_slot(&mut tx, id, *q).await?;
    }
    let slots = store::slots(&mut tx, id).await?;
    let mut present: HashSet<QuestionId> = slots.iter().map(|s| s.question_id).collect();
    let mut order = slots.iter().map(|s| s.order).max().unwrap_or(0);
    let mut invalid = Vec::new();
    for a in &add {
        if let Some(m) = a.marks
            && let Err(e) =
                crate::domain::questions::check_marks(&format!("marks for {}", a.question_id), m)
        {
            return Err(ExamError::Invalid(vec![e]));
        }
        if !present.insert(a.question_id) {
            return Err(ExamError::Conflict(
                "question_already_in_exam",
                format!("question {} is already in the exam", a.question_id),
            ));
        }
        let Some(question) = qstore::get(&mut tx, a.question_id).await? else {
            invalid.push(a.question_id.to_string());
            continue;
        };
        order += 1;
        store::add_slot(
            &mut tx,
            id,
            a.question_id,
            order,
            a.marks.unwrap_or(question.marks),
        )
        .await?;
    }
    if !invalid.is_empty() {
        return Err(ExamError::Rejected(
            "invalid_question_ids",
            format!("unknown questions: {}", invalid.join(", ")),
        ));
    }
    tx.commit().await?;
    invalidate_exam(state, id).await;
    Ok(())
}

/// Publishes a draft: freezes every question into its slot's snapshot, then flips the state,
/// in one transaction.
pub async fn publish(state: &AppState, id: ExamId) -> Result<ExamRow, ExamError> {
    let mut tx = state.db.begin().await?;
    if store::get(&mut tx, id).await?.is_none() {
        return Err(ExamError::NotFound("exam not found"));
    }
    if !store::lock_draft(&mut tx, id).await? {
        return Err(not_draft());
    }
    let slots = store::slots(&mut tx, id).await?;
    if slots.is_empty() {
        return Err(ExamError::Rejected(
            "exam_has_no_questions",
            "an exam needs at least one question to be published".into(),
        ));
    }
    for slot in &slots {
        let question = qstore::get(&mut tx, slot.question_id)
            .await?
            .ok_or(ExamError::Internal("a slot's question is gone".into()))?;
        let json =
            serde_json::to_string(&question).map_err(|e| ExamError::Internal(e.to_string()))?;
        store::set_snapshot(&mut tx, &slot.id, &json).await?;
    }
    store::mark_published(&mut tx, id).await?;
    let exam = store::get(&mut tx, id)
        .await?
        .ok_or(ExamError::NotFound("exam not found"))?;
    tx.commit().await?;
    invalidate_exam(state, id).await;
    // Rendered now rather than by the first student: an exam that opens soon after publishing
    // would otherwise meet its opening before the warm-up's next pass. Publishing stands
    // either way.
    if let Err(e) = paper(state, id).await {
        tracing::warn!(exam = %id, "the published paper could not be cached: {e}");
    }
    Ok(exam)
}

/// A slot with its question: the frozen snapshot once published, the bank's current version
/// while a draft.
#[derive(Debug, Clone)]
pub struct SlotView {
    pub slot: SlotRow,
    pub question: Question,
}

pub(crate) async fn slot_views(
    conn: &mut sqlx::AnyConnection,
    exam: ExamId,
) -> Result<Vec<SlotView>, ExamError> {
    let slots = store::slots(conn, exam).await?;
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        let question = match &slot.snapshot {
            Some(json) => {
                serde_json::from_str(json).map_err(|e| ExamError::Internal(e.to_string()))?
            }
            None => qstore::get(conn, slot.question_id)
                .await?
                .ok_or(ExamError::Internal("a slot's question is gone".into()))?,
        };
        out.push(SlotView { slot, question });
    }
    Ok(out)
}

/// An exam with its questions, for administrators.
pub async fn get_admin(
    state: &AppState,
    id: ExamId,
) -> Result<(ExamRow, Vec<SlotView>), ExamError> {
    let mut conn = state.db.pool().acquire().await?;
    let exam = store::get(&mut conn, id)
        .await?
        .ok_or(ExamError::NotFound("exam not found"))?;
    let slots = slot_views(&mut conn, id).await?;
    Ok((exam, slots))
}

pub async fn list_admin(state: &AppState) -> Result<Vec<(ExamRow, Vec<SlotView>)>, ExamError> {
    let mut conn = state.db.pool().acquire().await?;
    let exams = store::list_all(&mut conn).await?;
    let mut out = Vec::with_capacity(exams.len());
    for exam in exams {
        let slots = slot_views(&mut conn, exam.id).await?;
        out.push((exam, slots));
    }
    Ok(out)
}

/// A published exam's row through the cache (`exam:{id}`); `None` for a draft or an unknown id.
/// Callers still check the state they need.
pub async fn cached_exam(state: &AppState, id: ExamId) -> Result<Option<ExamRow>, ExamError> {
    let db = state.db.clone();
    let cached = entry::exam(id);
    Ok(state
        .cache
        .get_or_set_opt(&cached.key, cached.ttl, || async move {
            let mut conn = db.pool().acquire().await?;
            // Only what students may see is cached: a draft reads as "no such exam" here
            // (the original cached drafts for anyone who asked, defect C9).
            Ok::<_, ExamError>(
                store::get(&mut conn, id)
                    .await?
                    .filter(|e| e.state != ExamState::Draft),
            )
        })
        .await?)
}

/// Published exams, through the cache (`exams:all`).
pub async fn published(state: &AppState) -> Result<Vec<ExamRow>, ExamError> {
    let db = state.db.clone();
    let cached = entry::exams_all();
    Ok(state
        .cache
        .get_or_set(&cached.key, cached.ttl, || async move {
            let mut conn = db.pool().acquire().await?;
            store::list_published(&mut conn).await
        })
        .await?)
}

/// Published exams that have not started, soonest first.
pub async fn upcoming(state: &AppState) -> Result<Vec<ExamRow>, ExamError> {
    let now = now_ms();
    Ok(published(state)
        .await?
        .into_iter()
        .filter(|e| e.start_time > now)
        .collect())
}

/// Published exams open now.
pub async fn live(state: &AppState) -> Result<Vec<ExamRow>, ExamError> {
    let now = now_ms();
    Ok(published(state)
        .await?
        .into_iter()
        .filter(|e| crate::domain::exams::is_live(e.start_time, e.end_time, now))
        .collect())
}

/// How far ahead of an exam's start [`warm_papers`] loads its paper.
pub const WARM_AHEAD: Duration = Duration::from_secs(120);

/// Loads into this process's cache the paper (and details) of every published exam that is
/// open or opens within [`WARM_AHEAD`]; returns how many. Run every few seconds by a sweep, so
/// that at the opening the paper is in memory: otherwise the one load of it would queue for a
/// pooled connection behind the thousand starts that arrive with it, and every student would
/// wait for that load. With Redis each pass re-reads both from it, so they never lapse from
/// L1 (its 30 s bound) while the exam is open; without Redis a pass reloads them from the
/// database only once they have lapsed.
pub async fn warm_papers(state: &AppState) -> Result<usize, ExamError> {
    let now = now_ms();
    let ahead = i64::try_from(WARM_AHEAD.as_millis()).unwrap_or(i64::MAX);
    let opening: Vec<ExamId> = published(state)
        .await?
        .into_iter()
        .filter(|e| e.start_time <= now.saturating_add(ahead) && e.end_time > now)
        .map(|e| e.id)
        .collect();
    for &id in &opening {
        // From Redis when it has them, restarting their L1 lifetime so they do not lapse at
        // the opening; otherwise (a miss, or no Redis) the usual load.
        if state
            .cache
            .refresh::<Option<ExamRow>>(&entry::exam(id).key)
            .await
            .is_none()
        {
            cached_exam(state, id).await?;
        }
        if state
            .cache
            .refresh::<RenderedPaper>(&entry::paper(id).key)
            .await
            .is_none()
        {
            paper(state, id).await?;
        }
    }
    Ok(opening.len())
}

/// The paper of a published exam, as cached: ordered questions without answer keys, rendered
/// once per fill (see [`crate::service::paper`]). Callers must have checked that the exam is
/// published and that the caller may see it.
pub async fn paper(state: &AppState, id: ExamId) -> Result<RenderedPaper, ExamError> {
    let db = state.db.clone();
    let cached = entry::paper(id);
    let stats = state.exam_stats.clone();
    // An in-memory hit hands out a pointer to the rendered paper rather than a copy of it.
    let paper: RenderedPaper = state
        .cache
        .get_or_set(&cached.key, cached.ttl, || async move {
            stats.paper_loads.fetch_add(1, Ordering::Relaxed);
            let mut conn = db.pool().acquire().await?;
            let slots = slot_views(&mut conn, id).await?;
            let questions = slots
                .into_iter()
                .map(|v| PaperQuestion {
                    exam_question_id: v.slot.id,
                    question_order: v.slot.order,
                    marks: v.slot.marks,
                    negative_marks: v.question.negative_marks,
                    id: v.question.id,
                    statement: v.question.statement,
                    question_type: v.question.question_type,
                    domain: v.question.domain,
                    options: v
                        .question
                        .options
                        .into_iter()
                        .map(|o| PaperOption {
                            id: o.id,
                            text: o.text,
                        })
                        .collect(),
                })
                .collect();
            RenderedPaper::render(questions).map_err(|e| ExamError::Internal(e.to_string()))
        })
        .await?;
    Ok(paper)
}

/// Drops the cached list of a user's exams (after a start, submit or score changes it).
pub(crate) async fn forget_user_exams(cache: &Cache, user: UserId) {
    if let Err(e) = cache.delete(&entry::user_exams(user).key).await {
        tracing::warn!(%user, "cache invalidation failed: {e}");
    }
}
