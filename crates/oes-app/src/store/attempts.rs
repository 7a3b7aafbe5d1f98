//! Attempts, their answers and their event log. Every state change is a conditional update, so
//! concurrent save / submit / auto-submit resolve in the database, not in the application.

use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Backend, Db};
use crate::domain::attempts::AttemptStatus;
use crate::domain::ids::{AttemptId, ExamId, OptionId, QuestionId, UserId};
use crate::domain::scoring::Answer;
use crate::store::questions::{opt_decimal, parse_id};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttemptRow {
    pub id: AttemptId,
    pub exam_id: ExamId,
    pub user_id: UserId,
    pub status: AttemptStatus,
    pub started_at: i64,
    pub deadline_at: i64,
    pub submitted_at: Option<i64>,
    pub score: Option<Decimal>,
    pub scored_at: Option<i64>,
    pub shuffle_seed: i64,
}

const COLUMNS: &str = "id, exam_id, user_id, status, started_at, deadline_at, submitted_at, \
     CAST(score AS TEXT) AS score, scored_at, shuffle_seed";

fn from_row(row: &AnyRow) -> Result<AttemptRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let exam: String = row.try_get("exam_id")?;
    let user: String = row.try_get("user_id")?;
    let status: String = row.try_get("status")?;
    Ok(AttemptRow {
        id: parse_id(&id)?,
        exam_id: parse_id(&exam)?,
        user_id: parse_id(&user)?,
        status: AttemptStatus::parse(&status),
        started_at: row.try_get("started_at")?,
        deadline_at: row.try_get("deadline_at")?,
        submitted_at: row.try_get("submitted_at")?,
        score: opt_decimal(row, "score")?,
        scored_at: row.try_get("scored_at")?,
        shuffle_seed: row.try_get("shuffle_seed")?,
    })
}

/// The attempt insert of [`insert`] and [`start`]: its six parameters are [`bind_attempt`]'s.
const INSERT_ATTEMPT: &str =
    "INSERT INTO exam_attempts (id, exam_id, user_id, status, started_at, deadline_at, shuffle_seed)
     VALUES ($1, $2, $3, 'IN_PROGRESS', $4, $5, $6) ON CONFLICT (exam_id, user_id) DO NOTHING";

fn bind_attempt<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    a: &AttemptRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(a.id.to_string())
        .bind(a.exam_id.to_string())
        .bind(a.user_id.to_string())
        .bind(a.started_at)
        .bind(a.deadline_at)
        .bind(a.shuffle_seed)
}

/// Inserts the attempt unless the student already has one for the exam (the unique index
/// decides between concurrent starts). True when this call created it.
pub async fn insert(conn: &mut AnyConnection, a: &AttemptRow) -> Result<bool, sqlx::Error> {
    let done = bind_attempt(sqlx::query(INSERT_ATTEMPT), a)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Creates the attempt with its `START` event; false (nothing written) when the student
/// already has an attempt at the exam. On PostgreSQL one statement in its own transaction
/// (the event insert reads the attempt insert's `RETURNING`): at the opening a thousand
/// starts arrive at once and each round trip held a pooled connection. SQLite, with no
/// statements that write two tables, runs the two inserts in one local transaction.
pub async fn start(db: &Db, a: &AttemptRow, client: &Client) -> Result<bool, sqlx::Error> {
    if db.backend() == Backend::Postgres {
        let sql = format!(
            "WITH started AS ({INSERT_ATTEMPT} RETURNING id)
             INSERT INTO attempt_events (attempt_id, kind, at, ip, user_agent, detail)
             SELECT id, $7, $4, $8, $9, NULL FROM started"
        );
        let done = bind_attempt(sqlx::query(&sql), a)
            .bind(EventKind::Start.as_str())
            .bind(client.ip.clone())
            .bind(client.user_agent.clone())
            .execute(db.pool())
            .await?;
        return Ok(done.rows_affected() == 1);
    }
    let mut tx = db.begin().await?;
    if !insert(&mut tx, a).await? {
        return Ok(false);
    }
    log_event(&mut tx, a.id, EventKind::Start, a.started_at, client, None).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn get(
    conn: &mut AnyConnection,
    id: AttemptId,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM exam_attempts WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn find(
    conn: &mut AnyConnection,
    exam: ExamId,
    user: UserId,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM exam_attempts WHERE exam_id = $1 AND user_id = $2");
    sqlx::query(&sql)
        .bind(exam.to_string())
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn of_user(
    conn: &mut AnyConnection,
    user: UserId,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM exam_attempts WHERE user_id = $1 ORDER BY started_at DESC");
    sqlx::query(&sql)
        .bind(user.to_string())
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Re-checks, under the row's write lock held until the transaction ends, that the attempt still
/// takes answers. A submit waits for this transaction (or this one sees the submit), so a save
/// never lands after a submit.
pub async fn lock_open(
    conn: &mut AnyConnection,
    id: AttemptId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE exam_attempts SET status = status WHERE id = $1 AND status = 'IN_PROGRESS' AND deadline_at > $2",
    )
    .bind(id.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Saves one answer in one statement, only while the attempt is in progress and before its
/// hard end; false (nothing written) otherwise. The condition travels with the upsert, so no
/// separate check or lock is needed first. On PostgreSQL the attempt row is share-locked by the
/// statement, so a submit (which takes the row's write lock) either waits for this transaction
/// or is seen by it: the save never lands after a submit. SQLite runs the statement under its
/// one writer lock, which gives the same.
pub async fn save_open_answer(
    conn: &mut AnyConnection,
    attempt: AttemptId,
    question: QuestionId,
    answer: &Answer,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let lock = if conn.backend_name() == "PostgreSQL" {
        " FOR SHARE"
    } else {
        ""
    };
    let sql = upsert_open_answer(lock);
    let done = bind_answer(sqlx::query(&sql), attempt, question, answer, now)?
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The conditional upsert of [`save_open_answer`] and [`save_answer`], `lock` after its check
/// of the attempt; its six parameters are [`bind_answer`]'s. `WHERE` before `ON CONFLICT` also
/// keeps SQLite from reading the ON as a join's.
fn upsert_open_answer(lock: &str) -> String {
    format!(
        "INSERT INTO student_answers (id, attempt_id, question_id, selected_option_ids, numerical_answer, saved_at)
         SELECT $1, $2, $3, $4, CAST($5 AS NUMERIC), $6
         WHERE EXISTS (SELECT 1 FROM exam_attempts
                       WHERE id = $2 AND status = 'IN_PROGRESS' AND deadline_at > $6{lock})
         ON CONFLICT (attempt_id, question_id) DO UPDATE SET selected_option_ids = excluded.selected_option_ids,
             numerical_answer = excluded.numerical_answer, saved_at = excluded.saved_at"
    )
}

fn bind_answer<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    attempt: AttemptId,
    question: QuestionId,
    answer: &Answer,
    now: i64,
) -> Result<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>, sqlx::Error> {
    let selected =
        serde_json::to_string(&answer.selected).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    Ok(query
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(attempt.to_string())
        .bind(question.to_string())
        .bind(selected)
        .bind(answer.numerical.map(|n| n.to_string()))
        .bind(now))
}

/// [`save_open_answer`] with the answer's `SAVE` event; false (nothing written) when the
/// attempt no longer takes answers. On PostgreSQL one statement (the event insert reads the
/// upsert's `RETURNING`, so it exists exactly when the answer was written): a save every few
/// seconds from thousands of students was BEGIN, two statements and COMMIT on a pooled
/// connection. SQLite runs the two in one local transaction.
pub async fn save_answer(
    db: &Db,
    attempt: AttemptId,
    question: QuestionId,
    answer: &Answer,
    now: i64,
    client: &Client,
) -> Result<bool, sqlx::Error> {
    if db.backend() != Backend::Postgres {
        let mut tx = db.begin().await?;
        if !save_open_answer(&mut tx, attempt, question, answer, now).await? {
            return Ok(false);
        }
        log_save(&mut tx, attempt, question, now, client).await?;
        tx.commit().await?;
        return Ok(true);
    }
    let sql = format!(
        "WITH saved AS ({} RETURNING attempt_id, question_id)
         INSERT INTO attempt_events (attempt_id, kind, at, ip, user_agent, detail)
         SELECT attempt_id, $7, $6, $8, $9, question_id FROM saved",
        upsert_open_answer(" FOR SHARE")
    );
    let done = bind_answer(sqlx::query(&sql), attempt, question, answer, now)?
        .bind(EventKind::Save.as_str())
        .bind(client.ip.clone())
        .bind(client.user_agent.clone())
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the student's answer to one question, if any.
pub async fn delete_answer(
    conn: &mut AnyConnection,
    attempt: AttemptId,
    question: QuestionId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM student_answers WHERE attempt_id = $1 AND question_id = $2")
        .bind(attempt.to_string())
        .bind(question.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A saved answer with the marks it earned once scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRow {
    pub question_id: QuestionId,
    pub answer: Answer,
    pub marks_obtained: Option<Decimal>,
}

pub async fn answers(
    conn: &mut AnyConnection,
    attempt: AttemptId,
) -> Result<Vec<AnswerRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT question_id, selected_option_ids, CAST(numerical_answer AS TEXT) AS numerical_answer,
                CAST(marks_obtained AS TEXT) AS marks_obtained
         FROM student_answers WHERE attempt_id = $1",
    )
    .bind(attempt.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let qid: String = r.try_get("question_id")?;
            let selected: String = r.try_get("selected_option_ids")?;
            let selected: Vec<OptionId> =
                serde_json::from_str(&selected).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok(AnswerRow {
                question_id: parse_id(&qid)?,
                answer: Answer {
                    selected,
                    numerical: opt_decimal(r, "numerical_answer")?,
                },
                marks_obtained: opt_decimal(r, "marks_obtained")?,
            })
        })
        .collect()
}

/// Ends an attempt still in progress. A manual submit passes `due_after = now` so it only
/// succeeds before the hard end; auto-submit passes `due_before = now` so it only succeeds after.
/// False when someone else ended it first.
pub async fn finish(
    conn: &mut AnyConnection,
    id: AttemptId,
    status: AttemptStatus,
    submitted_at: i64,
    deadline_after: Option<i64>,
    deadline_at_or_before: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE exam_attempts SET status = $2, submitted_at = $3
         WHERE id = $1 AND status = 'IN_PROGRESS'
           AND ($4 IS NULL OR deadline_at > $4) AND ($5 IS NULL OR deadline_at <= $5)",
    )
    .bind(id.to_string())
    .bind(status.as_str())
    .bind(submitted_at)
    .bind(deadline_after)
    .bind(deadline_at_or_before)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_answer_marks(
    conn: &mut AnyConnection,
    attempt: AttemptId,
    question: QuestionId,
    marks: Decimal,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE student_answers SET marks_obtained = CAST($3 AS NUMERIC) WHERE attempt_id = $1 AND question_id = $2",
    )
    .bind(attempt.to_string())
    .bind(question.to_string())
    .bind(marks.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the score once; false when the attempt was already scored (or is not submitted).
pub async fn set_score(
    conn: &mut AnyConnection,
    id: AttemptId,
    score: Decimal,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE exam_attempts SET score = CAST($2 AS NUMERIC), scored_at = $3
         WHERE id = $1 AND scored_at IS NULL AND status <> 'IN_PROGRESS'",
    )
    .bind(id.to_string())
    .bind(score.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Attempts still in progress past their hard end (the auto-submit sweep's work list).
pub async fn overdue(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<AttemptId>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM exam_attempts WHERE status = 'IN_PROGRESS' AND deadline_at <= $1 ORDER BY deadline_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    ids.iter().map(|s| parse_id(s)).collect()
}

/// Submitted attempts without a score, submitted before `before` (the scoring sweep's list).
pub async fn unscored(
    conn: &mut AnyConnection,
    before: i64,
    limit: i64,
) -> Result<Vec<AttemptId>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM exam_attempts WHERE status IN ('SUBMITTED', 'AUTO_SUBMITTED') AND scored_at IS NULL
           AND submitted_at < $1 ORDER BY submitted_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    ids.iter().map(|s| parse_id(s)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Start,
    Save,
    Submit,
    AutoSubmit,
    Scored,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::Save => "SAVE",
            Self::Submit => "SUBMIT",
            Self::AutoSubmit => "AUTO_SUBMIT",
            Self::Scored => "SCORED",
        }
    }
}

/// Who did it: the client's address and user agent, when the event came from a request.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn log_event(
    conn: &mut AnyConnection,
    attempt: AttemptId,
    kind: EventKind,
    at: i64,
    client: &Client,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO attempt_events (attempt_id, kind, at, ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(attempt.to_string())
    .bind(kind.as_str())
    .bind(at)
    .bind(client.ip.clone())
    .bind(client.user_agent.clone())
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// The `SAVE` event of a saved or cleared answer: the question is its detail.
pub async fn log_save(
    conn: &mut AnyConnection,
    attempt: AttemptId,
    question: QuestionId,
    at: i64,
    client: &Client,
) -> Result<(), sqlx::Error> {
    let detail = question.to_string();
    log_event(conn, attempt, EventKind::Save, at, client, Some(&detail)).await
}

/// The event kinds of an attempt in order (audit views and tests).
pub async fn event_kinds(
    conn: &mut AnyConnection,
    attempt: AttemptId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT kind FROM attempt_events WHERE attempt_id = $1 ORDER BY at, id")
        .bind(attempt.to_string())
        .fetch_all(conn)
        .await
}
