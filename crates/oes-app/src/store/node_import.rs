//! The OES side of `oes import node`: the ledger of what was imported, and upserts that write
//! Node's rows under Node's own ids (so a re-run finds them) with the instants Node recorded.
//!
//! Each upsert targets the row's id; the other unique keys (an address, an enrollment number,
//! a student's attempt at an exam) are checked by the `*_owner` queries first, so a clash with
//! a row OES made itself is a refusal in the report, not a failed statement.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};

use crate::domain::accounts::{Profile, ProfileEnum};
use crate::domain::questions::Question;
use crate::store::attempts::AttemptRow;
use crate::store::exams::ExamRow;

/// Fingerprints of the rows of `kind` among `ids` that were imported before.
pub async fn ledger(
    conn: &mut AnyConnection,
    kind: &str,
    ids: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = (2..ids.len() + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT node_id, fingerprint FROM node_import_ledger WHERE kind = $1 AND node_id IN ({placeholders})"
    );
    let mut query = sqlx::query(&sql).bind(kind);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("node_id")?, r.try_get("fingerprint")?)))
        .collect()
}

pub async fn record(
    conn: &mut AnyConnection,
    kind: &str,
    node_id: &str,
    fingerprint: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO node_import_ledger (kind, node_id, fingerprint, imported_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, node_id) DO UPDATE SET fingerprint = excluded.fingerprint, imported_at = excluded.imported_at",
    )
    .bind(kind)
    .bind(node_id)
    .bind(fingerprint)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The account other than `id` that holds this address (case-insensitively), if any.
pub async fn email_owner(
    conn: &mut AnyConnection,
    email: &str,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1) AND id <> $2")
        .bind(email)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// A Node account as OES stores it.
#[derive(Debug, Clone)]
pub struct ImportedUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub full_name: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub email_verified: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Inserts the account, or rewrites it unless OES changed it after Node last did (a password
/// rehashed or changed, a name edited: `updated_at` is newer than Node's); false then.
pub async fn upsert_user(
    conn: &mut AnyConnection,
    u: &ImportedUser<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO users (id, email, full_name, password_hash, role, email_verified, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 = 1 THEN TRUE ELSE FALSE END, $7, $8)
         ON CONFLICT (id) DO UPDATE SET email = excluded.email, full_name = excluded.full_name,
             password_hash = excluded.password_hash, role = excluded.role,
             email_verified = excluded.email_verified, updated_at = excluded.updated_at
         WHERE users.updated_at <= excluded.updated_at",
    )
    .bind(u.id)
    .bind(u.email)
    .bind(u.full_name)
    .bind(u.password_hash)
    .bind(u.role)
    .bind(i64::from(u.email_verified))
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The user other than `user_id` whose profile holds this enrollment number, if any.
pub async fn enrollment_owner(
    conn: &mut AnyConnection,
    enrollment_number: &str,
    user_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM user_profiles WHERE enrollment_number = $1 AND user_id <> $2",
    )
    .bind(enrollment_number)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

pub async fn upsert_profile(
    conn: &mut AnyConnection,
    user_id: &str,
    profile: &Profile,
    updated_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_profiles (user_id, enrollment_number, course, department, year, semester, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id) DO UPDATE SET enrollment_number = excluded.enrollment_number,
             course = excluded.course, department = excluded.department, year = excluded.year,
             semester = excluded.semester, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(&profile.enrollment_number)
    .bind(profile.course.as_str())
    .bind(profile.department.as_str())
    .bind(profile.year.as_str())
    .bind(profile.semester.as_str())
    .bind(updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the question with its options (Node's ids, in Node's order) and numerical key,
/// replacing what an earlier import wrote.
pub async fn upsert_question(
    conn: &mut AnyConnection,
    q: &Question,
    created_at: i64,
    updated_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO questions (id, statement, question_type, domain, marks, negative_marks, difficulty, partial_credit, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, CAST($5 AS NUMERIC), CAST($6 AS NUMERIC), $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET statement = excluded.statement,
             question_type = excluded.question_type, domain = excluded.domain,
             marks = excluded.marks, negative_marks = excluded.negative_marks,
             difficulty = excluded.difficulty, partial_credit = excluded.partial_credit,
             version = questions.version + 1, updated_at = excluded.updated_at",
    )
    .bind(q.id.to_string())
    .bind(&q.statement)
    .bind(q.question_type.as_str())
    .bind(&q.domain)
    .bind(q.marks.to_string())
    .bind(q.negative_marks.to_string())
    .bind(q.difficulty.as_str())
    .bind(q.partial_credit)
    .bind(q.version)
    .bind(created_at)
    .bind(updated_at)
    .execute(&mut *conn)
    .await?;
    crate::store::questions::replace_parts(conn, q).await
}

/// One slot of an imported exam; `snapshot` is the frozen question of a published exam.
#[derive(Debug, Clone)]
pub struct ImportedSlot {
    pub id: String,
    pub question_id: String,
    pub order: i64,
    pub marks: Decimal,
    pub snapshot: Option<String>,
}

/// Writes the exam (state, window and published instant as given) and replaces its slots.
pub async fn upsert_exam(
    conn: &mut AnyConnection,
    e: &ExamRow,
    created_by: Option<&str>,
    updated_at: i64,
    slots: &[ImportedSlot],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO exams (id, title, description, duration_minutes, start_time, end_time, state, grace_seconds, shuffle_options, published_at, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description,
             duration_minutes = excluded.duration_minutes, start_time = excluded.start_time,
             end_time = excluded.end_time, state = excluded.state,
             published_at = excluded.published_at, created_by = excluded.created_by,
             updated_at = excluded.updated_at",
    )
    .bind(e.id.to_string())
    .bind(&e.title)
    .bind(e.description.clone())
    .bind(e.duration_minutes)
    .bind(e.start_time)
    .bind(e.end_time)
    .bind(e.state.as_str())
    .bind(e.grace_seconds)
    .bind(e.shuffle_options)
    .bind(e.published_at)
    .bind(created_by)
    .bind(e.created_at)
    .bind(updated_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM exam_questions WHERE exam_id = $1")
        .bind(e.id.to_string())
        .execute(&mut *conn)
        .await?;
    for s in slots {
        sqlx::query(
            "INSERT INTO exam_questions (id, exam_id, question_id, question_order, marks, snapshot)
             VALUES ($1, $2, $3, $4, CAST($5 AS NUMERIC), $6)",
        )
        .bind(&s.id)
        .bind(e.id.to_string())
        .bind(&s.question_id)
        .bind(s.order)
        .bind(s.marks.to_string())
        .bind(s.snapshot.clone())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The attempt other than `id` this student has at this exam, if any (one OES made).
pub async fn attempt_owner(
    conn: &mut AnyConnection,
    exam_id: &str,
    user_id: &str,
    id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM exam_attempts WHERE exam_id = $1 AND user_id = $2 AND id <> $3",
    )
    .bind(exam_id)
    .bind(user_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn upsert_attempt(conn: &mut AnyConnection, a: &AttemptRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO exam_attempts (id, exam_id, user_id, status, started_at, deadline_at, submitted_at, score, scored_at, shuffle_seed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8 AS NUMERIC), $9, $10)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
             deadline_at = excluded.deadline_at, submitted_at = excluded.submitted_at,
             score = excluded.score, scored_at = excluded.scored_at",
    )
    .bind(a.id.to_string())
    .bind(a.exam_id.to_string())
    .bind(a.user_id.to_string())
    .bind(a.status.as_str())
    .bind(a.started_at)
    .bind(a.deadline_at)
    .bind(a.submitted_at)
    .bind(a.score.map(|s| s.to_string()))
    .bind(a.scored_at)
    .bind(a.shuffle_seed)
    .execute(conn)
    .await?;
    Ok(())
}

/// A student's answer as OES stores it; `selected` is the JSON array of option ids.
#[derive(Debug, Clone)]
pub struct ImportedAnswer<'a> {
    pub id: &'a str,
    pub attempt_id: &'a str,
    pub question_id: &'a str,
    pub selected: &'a str,
    pub numerical: Option<Decimal>,
    pub marks_obtained: Option<Decimal>,
    pub saved_at: i64,
}

/// Keyed by (attempt, question), Node's unique pair too, so the answer lands on the one row a
/// question has in an attempt whatever id it carries.
pub async fn upsert_answer(
    conn: &mut AnyConnection,
    a: &ImportedAnswer<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO student_answers (id, attempt_id, question_id, selected_option_ids, numerical_answer, marks_obtained, saved_at)
         VALUES ($1, $2, $3, $4, CAST($5 AS NUMERIC), CAST($6 AS NUMERIC), $7)
         ON CONFLICT (attempt_id, question_id) DO UPDATE SET
             selected_option_ids = excluded.selected_option_ids,
             numerical_answer = excluded.numerical_answer,
             marks_obtained = excluded.marks_obtained, saved_at = excluded.saved_at",
    )
    .bind(a.id)
    .bind(a.attempt_id)
    .bind(a.question_id)
    .bind(a.selected)
    .bind(a.numerical.map(|n| n.to_string()))
    .bind(a.marks_obtained.map(|n| n.to_string()))
    .bind(a.saved_at)
    .execute(conn)
    .await?;
    Ok(())
}
