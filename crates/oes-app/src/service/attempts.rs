//! Attempt use cases: start, load the paper, save, submit, auto-submit, and the sweeps that
//! make auto-submit and scoring durable.
//!
//! Races are settled by conditional updates in the database: the unique (exam, user) index makes
//! double starts one attempt; a save is one upsert that carries its own "in progress and before
//! the hard end" condition (`save_open_answer`; a cleared answer re-checks under the row lock,
//! `lock_open`), so it cannot land after a submit; submit and auto-submit both flip
//! IN_PROGRESS conditionally, so exactly one wins and a submit is never overwritten.
//!
//! Auto-submit: each start schedules a delayed `auto-submit` job (id `auto-submit-{attemptId}`)
//! at the hard end; a sweep every few seconds catches what the queue lost, and a load, save or
//! submit after the hard end submits lazily. The recorded submit time is the hard end. The sweep
//! runs in one process at a time (PostgreSQL advisory lock; SQLite has one process anyway).

use std::time::Duration;

use oes_cache::Cache;
use serde::Serialize;

use crate::cache_entries as entry;
use crate::db::{Backend, Db, now_ms};
use crate::domain::accounts::Role;
use crate::domain::attempts::{
    AttemptStatus, NumericalInput, deadline, remaining_seconds, validate_answer,
};
use crate::domain::exams::{ExamState, is_live};
use crate::domain::ids::{AttemptId, ExamId, OptionId, QuestionId, UserId};
use crate::domain::questions::{Difficulty, Question, QuestionOption};
use crate::queue::{AutoSubmit, CalculateScore, JobRuntime};
use crate::service::exams::{self, ExamError, PaperQuestion, forget_user_exams};
use crate::service::paper::RenderedPaper;
pub use crate::service::saved_answers::StudentAnswer;
use crate::service::saved_answers::{self, SavedAnswers};
use crate::state::AppState;
use crate::store::attempts::{self as store, AttemptRow, Client, EventKind};

/// How often the sweeps look for overdue and unscored attempts.
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// A submitted attempt still unscored this long after submission is scored by the sweep.
pub const SCORE_SWEEP_AFTER_MS: i64 = 10_000;

/// Starts the student's one attempt at the exam. Administrators are refused: they can read
/// every question with its key, so an attempt of theirs would rank on the leaderboard with
/// answers nobody else has.
pub async fn start(
    state: &AppState,
    user: UserId,
    role: Role,
    exam_id: ExamId,
    client: &Client,
) -> Result<AttemptRow, ExamError> {
    if role == Role::Admin {
        return Err(ExamError::Forbidden(
            "admin_cannot_attempt",
            "administrators cannot take exams; sign in with a student account".into(),
        ));
    }
    let exam = exams::cached_exam(state, exam_id)
        .await?
        .filter(|e| e.state == ExamState::Published)
        .ok_or(ExamError::Rejected(
            "exam_not_available",
            "Exam not available".into(),
        ))?;
    let now = now_ms();
    if !is_live(exam.start_time, exam.end_time, now) {
        return Err(ExamError::Rejected(
            "exam_not_active",
            "Exam not active".into(),
        ));
    }
    let attempt = AttemptRow {
        id: AttemptId::new(),
        exam_id,
        user_id: user,
        status: AttemptStatus::InProgress,
        started_at: now,
        deadline_at: deadline(
            now,
            exam.duration_minutes,
            exam.end_time,
            exam.grace_seconds,
        ),
        submitted_at: None,
        score: None,
        scored_at: None,
        shuffle_seed: (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64,
    };
    if !store::start(&state.db, &attempt, client).await? {
        return Err(ExamError::Rejected(
            "already_attempted",
            "You have already attempted this exam".into(),
        ));
    }
    // Independent Redis round trips, at the opening a thousand times over: side by side.
    tokio::join!(
        remember_attempt(&state.cache, &attempt),
        forget_user_exams(&state.cache, user),
        saved_answers::none_yet(state, attempt.id),
        schedule_auto_submit(&state.jobs, &attempt),
    );
    Ok(attempt)
}

async fn schedule_auto_submit(jobs: &JobRuntime, attempt: &AttemptRow) {
    let job = AutoSubmit {
        attempt_id: attempt.id,
    };
    let opts = AutoSubmit::options_due(attempt.deadline_at, now_ms());
    if let Err(e) = jobs.add_with(&job, opts).await {
        // The sweep submits it at the hard end anyway.
        tracing::warn!(attempt = %attempt.id, "auto-submit not scheduled: {e}");
    }
}

pub(crate) async fn enqueue_scoring(jobs: &JobRuntime, attempt: AttemptId) {
    let job = CalculateScore {
        attempt_id: attempt,
    };
    if let Err(e) = jobs.add(&job).await {
        tracing::warn!(%attempt, "scoring not enqueued, the sweep will score it: {e}");
    }
}

/// The student's attempts, through the cache (`user:{id}:exams`).
pub async fn my_attempts(state: &AppState, user: UserId) -> Result<Vec<AttemptRow>, ExamError> {
    let db = state.db.clone();
    let cached = entry::user_exams(user);
    Ok(state
        .cache
        .get_or_set(&cached.key, cached.ttl, || async move {
            let mut conn = db.pool().acquire().await?;
            store::of_user(&mut conn, user).await
        })
        .await?)
}

/// The student's in-progress attempt at a published exam, auto-submitting it when the hard end
/// has passed.
async fn open_attempt(
    state: &AppState,
    user: UserId,
    exam_id: ExamId,
) -> Result<(crate::store::exams::ExamRow, AttemptRow), ExamError> {
    let exam = exams::cached_exam(state, exam_id)
        .await?
        .filter(|e| e.state == ExamState::Published)
        .ok_or(ExamError::NotFound("exam not found"))?;
    let attempt = cached_attempt(state, exam_id, user)
        .await?
        .ok_or(ExamError::Forbidden(
            "no_active_attempt",
            "No active attempt".into(),
        ))?;
    if attempt.status != AttemptStatus::InProgress {
        return Err(ExamError::Forbidden(
            "attempt_not_active",
            "This attempt has been submitted".into(),
        ));
    }
    if now_ms() >= attempt.deadline_at {
        auto_submit(&state.db, &state.cache, &state.jobs, attempt.id).await?;
        return Err(time_over());
    }
    Ok((exam, attempt))
}

/// The student's attempt at the exam through the cache (L1 + Redis). Only its identity, status,
/// hard end and option order are read from it: every write that could change those
/// (start, submit, auto-submit) invalidates it in every process, and every write that must not
/// land after a submit re-checks the attempt in the database anyway.
async fn cached_attempt(
    state: &AppState,
    exam_id: ExamId,
    user: UserId,
) -> Result<Option<AttemptRow>, ExamError> {
    let db = state.db.clone();
    let cached = entry::attempt(exam_id, user);
    Ok(state
        .cache
        .get_or_set_opt(&cached.key, cached.ttl, || async move {
            let mut conn = db.pool().acquire().await?;
            store::find(&mut conn, exam_id, user).await
        })
        .await?)
}

/// Caches the attempt a start just created, in every process, so the paper load that follows
/// reads it from memory instead of the database (at the opening, a thousand queries fewer
/// beside the thousand starts). A load that raced the start is not written back (`set`
/// taints it); should Redis refuse the write, the entry is dropped as after any change.
async fn remember_attempt(cache: &Cache, attempt: &AttemptRow) {
    let cached = entry::attempt(attempt.exam_id, attempt.user_id);
    if let Err(e) = cache
        .set(&cached.key, &Some(attempt.clone()), cached.ttl)
        .await
    {
        tracing::warn!(exam = %attempt.exam_id, user = %attempt.user_id, "cache write failed: {e}");
        forget_attempt(cache, attempt.exam_id, attempt.user_id).await;
    }
}

/// Drops the cached attempt after its status changed (or it came to exist: "none" is cached
/// too, briefly).
async fn forget_attempt(cache: &Cache, exam_id: ExamId, user: UserId) {
    if let Err(e) = cache.delete(&entry::attempt(exam_id, user).key).await {
        tracing::warn!(exam = %exam_id, %user, "cache invalidation failed: {e}");
    }
}

fn time_over() -> ExamError {
    ExamError::Forbidden("time_over", "Time over. Exam auto-submitted.".into())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptQuestion {
    #[serde(flatten)]
    pub question: PaperQuestion,
    pub student_answer: Option<StudentAnswer>,
}

/// The paper for one attempt: the shared rendered paper and this attempt's own parts.
#[derive(Debug, Clone)]
pub struct AttemptPaper {
    pub exam_id: ExamId,
    pub title: String,
    pub attempt_id: AttemptId,
    pub remaining_seconds: i64,
    pub deadline_at: i64,
    pub paper: RenderedPaper,
    /// The attempt's option order, when the exam shuffles options.
    pub shuffle_seed: Option<i64>,
    /// Each saved answer as its `studentAnswer` JSON.
    pub answers: SavedAnswers,
}

/// The paper for the student's attempt: the shared cached paper, options in the attempt's own
/// order when the exam shuffles, and the student's saved answers (from memory between saves,
/// see `saved_answers`).
pub async fn load(
    state: &AppState,
    user: UserId,
    exam_id: ExamId,
) -> Result<AttemptPaper, ExamError> {
    let (exam, attempt) = open_attempt(state, user, exam_id).await?;
    let paper = exams::paper(state, exam_id).await?;
    let answers = saved_answers::load(state, attempt.id).await?;
    Ok(AttemptPaper {
        exam_id,
        title: exam.title,
        attempt_id: attempt.id,
        remaining_seconds: remaining_seconds(attempt.deadline_at, now_ms()),
        deadline_at: attempt.deadline_at,
        paper,
        shuffle_seed: exam.shuffle_options.then_some(attempt.shuffle_seed),
        answers,
    })
}

#[derive(Debug, Clone)]
pub struct SaveInput {
    pub question_id: QuestionId,
    pub selected_option_ids: Option<Vec<OptionId>>,
    pub numerical_answer: NumericalInput,
}

/// The paper question as a question for validation: options without correctness, which
/// validation does not look at.
fn as_question(q: &PaperQuestion) -> Question {
    Question {
        id: q.id,
        statement: String::new(),
        question_type: q.question_type,
        domain: String::new(),
        marks: q.marks,
        negative_marks: q.negative_marks,
        difficulty: Difficulty::Medium,
        partial_credit: false,
        options: q
            .options
            .iter()
            .map(|o| QuestionOption {
                id: o.id,
                text: String::new(),
                is_correct: false,
            })
            .collect(),
        numerical: None,
        version: 0,
    }
}

pub async fn save(
    state: &AppState,
    user: UserId,
    exam_id: ExamId,
    input: SaveInput,
    client: &Client,
) -> Result<(), ExamError> {
    let (_exam, attempt) = open_attempt(state, user, exam_id).await?;
    let paper = exams::paper(state, exam_id).await?;
    let question = paper
        .questions()
        .iter()
        .find(|q| q.id == input.question_id)
        .ok_or(ExamError::Rejected(
            "question_not_in_exam",
            "this question is not part of the exam".into(),
        ))?;
    let answer = validate_answer(
        &as_question(question),
        input.selected_option_ids,
        input.numerical_answer,
    )
    .map_err(|e| ExamError::Invalid(vec![e]))?;
    let now = now_ms();
    let open = if answer.is_empty() {
        clear_answer(state, attempt.id, question.id, now, client).await?
    } else {
        store::save_answer(&state.db, attempt.id, question.id, &answer, now, client).await?
    };
    if !open {
        // The cached attempt said open; the database says otherwise, so it is stale here.
        forget_attempt(&state.cache, exam_id, user).await;
        if now >= attempt.deadline_at {
            auto_submit(&state.db, &state.cache, &state.jobs, attempt.id).await?;
            return Err(time_over());
        }
        return Err(ExamError::Forbidden(
            "attempt_not_active",
            "This attempt has been submitted".into(),
        ));
    }
    saved_answers::forget(state, attempt.id).await;
    Ok(())
}

/// Removes the student's answer to one question while the attempt is open, with its `SAVE`
/// event; false (nothing written) when the attempt no longer takes answers. A cleared answer
/// is no answer: the paper shows the question unanswered after a reload (the exam page counts
/// any saved answer as answered) and nothing is scored. Rare, so it keeps check-then-delete
/// under the row lock (a delete of nothing would read as refused).
async fn clear_answer(
    state: &AppState,
    attempt: AttemptId,
    question: QuestionId,
    now: i64,
    client: &Client,
) -> Result<bool, ExamError> {
    let mut tx = state.db.begin().await?;
    if !store::lock_open(&mut tx, attempt, now).await? {
        return Ok(false);
    }
    store::delete_answer(&mut tx, attempt, question).await?;
    store::log_save(&mut tx, attempt, question, now, client).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn submit(
    state: &AppState,
    user: UserId,
    exam_id: ExamId,
    client: &Client,
) -> Result<AttemptRow, ExamError> {
    let attempt = cached_attempt(state, exam_id, user)
        .await?
        .ok_or(ExamError::Rejected(
            "no_active_attempt",
            "No active attempt".into(),
        ))?;
    let mut tx = state.db.begin().await?;
    // Take the row lock first and read the clock after it, so the submit time is never earlier
    // than a save that committed just before.
    let locked = store::lock_open(&mut tx, attempt.id, now_ms()).await?;
    let now = now_ms();
    if !locked
        || !store::finish(
            &mut tx,
            attempt.id,
            AttemptStatus::Submitted,
            now,
            Some(now),
            None,
        )
        .await?
    {
        drop(tx);
        forget_attempt(&state.cache, exam_id, user).await;
        if attempt.status == AttemptStatus::InProgress && now >= attempt.deadline_at {
            auto_submit(&state.db, &state.cache, &state.jobs, attempt.id).await?;
            return Err(time_over());
        }
        return Err(ExamError::Rejected(
            "already_submitted",
            "This attempt has already been submitted".into(),
        ));
    }
    store::log_event(&mut tx, attempt.id, EventKind::Submit, now, client, None).await?;
    tx.commit().await?;
    forget_attempt(&state.cache, exam_id, user).await;
    forget_user_exams(&state.cache, user).await;
    enqueue_scoring(&state.jobs, attempt.id).await;
    Ok(AttemptRow {
        status: AttemptStatus::Submitted,
        submitted_at: Some(now),
        ..attempt
    })
}

/// Submits an attempt past its hard end, recording the hard end as the submit time. Idempotent:
/// false when the attempt was already finished or is not due yet.
pub async fn auto_submit(
    db: &Db,
    cache: &Cache,
    jobs: &JobRuntime,
    id: AttemptId,
) -> Result<bool, ExamError> {
    let mut tx = db.begin().await?;
    let Some(attempt) = store::get(&mut tx, id).await? else {
        return Ok(false);
    };
    if attempt.status != AttemptStatus::InProgress {
        return Ok(false);
    }
    let now = now_ms();
    let done = store::finish(
        &mut tx,
        id,
        AttemptStatus::AutoSubmitted,
        attempt.deadline_at,
        None,
        Some(now),
    )
    .await?;
    if done {
        store::log_event(
            &mut tx,
            id,
            EventKind::AutoSubmit,
            now,
            &Client::default(),
            None,
        )
        .await?;
    }
    tx.commit().await?;
    if done {
        forget_attempt(cache, attempt.exam_id, attempt.user_id).await;
        forget_user_exams(cache, attempt.user_id).await;
        enqueue_scoring(jobs, id).await;
    }
    Ok(done)
}

/// The hard end of an attempt (for the auto-submit job to wait for, when it fires early).
pub async fn deadline_of(
    db: &Db,
    id: AttemptId,
) -> Result<Option<(AttemptStatus, i64)>, ExamError> {
    let mut conn = db.pool().acquire().await?;
    Ok(store::get(&mut conn, id)
        .await?
        .map(|a| (a.status, a.deadline_at)))
}

/// The event kinds of an attempt, in order.
pub async fn events(db: &Db, id: AttemptId) -> Result<Vec<String>, ExamError> {
    let mut conn = db.pool().acquire().await?;
    Ok(store::event_kinds(&mut conn, id).await?)
}

/// One pass of both sweeps. Returns (auto-submitted, scored).
pub async fn sweep_once(
    db: &Db,
    cache: &Cache,
    jobs: &JobRuntime,
) -> Result<(usize, usize), ExamError> {
    // One runner at a time across processes: a session-level advisory lock held on one
    // connection for the pass; another process that does not get it skips this pass.
    let mut lock_conn = None;
    if db.backend() == Backend::Postgres {
        let mut conn = db.pool().acquire().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(7301)")
            .fetch_one(&mut *conn)
            .await?;
        if !got {
            return Ok((0, 0));
        }
        lock_conn = Some(conn);
    }
    let result = sweep_pass(db, cache, jobs).await;
    if let Some(mut conn) = lock_conn {
        let _ = sqlx::query("SELECT pg_advisory_unlock(7301)")
            .execute(&mut *conn)
            .await;
    }
    result
}

async fn sweep_pass(
    db: &Db,
    cache: &Cache,
    jobs: &JobRuntime,
) -> Result<(usize, usize), ExamError> {
    let now = now_ms();
    let mut conn = db.pool().acquire().await?;
    let overdue = store::overdue(&mut conn, now, 500).await?;
    let unscored = store::unscored(&mut conn, now - SCORE_SWEEP_AFTER_MS, 500).await?;
    drop(conn);
    // One attempt that fails (bad data, a value its column cannot hold) is logged and skipped:
    // returning early would fail every later pass on the same attempt and starve the others.
    // Only a closed pool (shutdown) ends the pass.
    let mut submitted = 0;
    for id in overdue {
        match auto_submit(db, cache, jobs, id).await {
            Ok(true) => submitted += 1,
            Ok(false) => {}
            Err(e @ ExamError::Db(sqlx::Error::PoolClosed)) => return Err(e),
            Err(e) => tracing::error!(attempt = %id, "auto-submit failed: {e}"),
        }
    }
    let mut scored = 0;
    for id in unscored {
        match crate::service::scoring::score_attempt(db, cache, id).await {
            Ok(true) => scored += 1,
            Ok(false) => {}
            Err(e @ ExamError::Db(sqlx::Error::PoolClosed)) => return Err(e),
            Err(e) => tracing::error!(attempt = %id, "scoring failed: {e}"),
        }
    }
    Ok((submitted, scored))
}
