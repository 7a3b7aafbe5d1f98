//! Exams and their question slots.

use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{flag, now_ms};
use crate::domain::exams::ExamState;
use crate::domain::ids::{ExamId, QuestionId, UserId};
use crate::store::questions::{decimal, parse_id};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExamRow {
    pub id: ExamId,
    pub title: String,
    pub description: Option<String>,
    pub duration_minutes: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub state: ExamState,
    pub grace_seconds: i64,
    pub shuffle_options: bool,
    pub published_at: Option<i64>,
    pub created_at: i64,
}

/// One question slot of an exam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRow {
    pub id: String,
    pub question_id: QuestionId,
    pub order: i64,
    pub marks: Decimal,
    /// The question as frozen at publish (JSON), absent while the exam is a draft.
    pub snapshot: Option<String>,
}

const COLUMNS: &str = "id, title, description, duration_minutes, start_time, end_time, state, \
     grace_seconds, shuffle_options, published_at, created_at";

fn from_row(row: &AnyRow) -> Result<ExamRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    Ok(ExamRow {
        id: parse_id(&id)?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        duration_minutes: row.try_get("duration_minutes")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        state: ExamState::parse(&state),
        grace_seconds: row.try_get("grace_seconds")?,
        shuffle_options: flag(row, "shuffle_options")?,
        published_at: row.try_get("published_at")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn insert(
    conn: &mut AnyConnection,
    e: &ExamRow,
    created_by: Option<UserId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO exams (id, title, description, duration_minutes, start_time, end_time, state, grace_seconds, shuffle_options, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'DRAFT', $7, $8, $9, $10, $10)",
    )
    .bind(e.id.to_string())
    .bind(&e.title)
    .bind(e.description.clone())
    .bind(e.duration_minutes)
    .bind(e.start_time)
    .bind(e.end_time)
    .bind(e.grace_seconds)
    .bind(e.shuffle_options)
    .bind(created_by.map(|u| u.to_string()))
    .bind(e.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites a draft's details; false when the exam is gone or no longer a draft.
pub async fn update_draft(conn: &mut AnyConnection, e: &ExamRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE exams SET title = $2, description = $3, duration_minutes = $4, start_time = $5, end_time = $6,
                grace_seconds = $7, shuffle_options = $8, updated_at = $9
         WHERE id = $1 AND state = 'DRAFT'",
    )
    .bind(e.id.to_string())
    .bind(&e.title)
    .bind(e.description.clone())
    .bind(e.duration_minutes)
    .bind(e.start_time)
    .bind(e.end_time)
    .bind(e.grace_seconds)
    .bind(e.shuffle_options)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_draft(conn: &mut AnyConnection, id: ExamId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM exams WHERE id = $1 AND state = 'DRAFT'")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: ExamId) -> Result<Option<ExamRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM exams WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Takes the exam row's write lock for the rest of the transaction (a no-op update), so slot
/// edits and publishing of one exam run one at a time; false when it is not a draft.
pub async fn lock_draft(conn: &mut AnyConnection, id: ExamId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE exams SET updated_at = $2 WHERE id = $1 AND state = 'DRAFT'")
        .bind(id.to_string())
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list_all(conn: &mut AnyConnection) -> Result<Vec<ExamRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM exams ORDER BY start_time DESC, id");
    sqlx::query(&sql)
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

pub async fn list_published(conn: &mut AnyConnection) -> Result<Vec<ExamRow>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM exams WHERE state = 'PUBLISHED' ORDER BY start_time, id");
    sqlx::query(&sql)
        .fetch_all(conn)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

pub async fn slots(conn: &mut AnyConnection, exam: ExamId) -> Result<Vec<SlotRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, question_id, question_order, CAST(marks AS TEXT) AS marks, snapshot
         FROM exam_questions WHERE exam_id = $1 ORDER BY question_order",
    )
    .bind(exam.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let qid: String = r.try_get("question_id")?;
            Ok(SlotRow {
                id: r.try_get("id")?,
                question_id: parse_id(&qid)?,
                order: r.try_get("question_order")?,
                marks: decimal(r, "marks")?,
                snapshot: r.try_get("snapshot")?,
            })
        })
        .collect()
}

pub async fn add_slot(
    conn: &mut AnyConnection,
    exam: ExamId,
    question: QuestionId,
    order: i64,
    marks: Decimal,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO exam_questions (id, exam_id, question_id, question_order, marks) VALUES ($1, $2, $3, $4, CAST($5 AS NUMERIC))",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(exam.to_string())
    .bind(question.to_string())
    .bind(order)
    .bind(marks.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_slot(
    conn: &mut AnyConnection,
    exam: ExamId,
    question: QuestionId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM exam_questions WHERE exam_id = $1 AND question_id = $2")
        .bind(exam.to_string())
        .bind(question.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_snapshot(
    conn: &mut AnyConnection,
    slot_id: &str,
    snapshot: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE exam_questions SET snapshot = $2 WHERE id = $1")
        .bind(slot_id)
        .bind(snapshot)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_published(conn: &mut AnyConnection, id: ExamId) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE exams SET state = 'PUBLISHED', published_at = $2, updated_at = $2 WHERE id = $1 AND state = 'DRAFT'",
    )
    .bind(id.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
