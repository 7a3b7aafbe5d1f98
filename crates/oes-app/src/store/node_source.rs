//! The Node system's tables, read for `oes import node`: the schema Sequelize's `sync()` made
//! from `src/modules/*/*.model.js` (camelCase columns in `users`, `questions`, `options` and
//! `numerical_answers`, snake_case elsewhere, enum types, `uuid` ids, `timestamptz` instants,
//! `double precision` marks and numbers).
//!
//! Every value is converted in SQL to what the Any driver reads on any backend: ids and enums as
//! TEXT, instants as BIGINT epoch milliseconds, doubles as their TEXT form (so `NaN` and
//! `Infinity` arrive as words to refuse, not as floats to round), `uuid[]` as a JSON array.
//! The rows are what Node stored, unjudged; the import service decides what OES can take.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Epoch milliseconds of a `timestamptz` column.
fn ms(column: &str) -> String {
    format!("CAST(EXTRACT(EPOCH FROM {column}) * 1000 AS BIGINT)")
}

/// The rows of the tables read page by page (the others are read whole, counted as they come),
/// for the progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub exam_attempts: i64,
    pub student_answers: i64,
}

pub async fn counts(conn: &mut AnyConnection) -> Result<Counts, sqlx::Error> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM exam_attempts) AS exam_attempts,
                (SELECT COUNT(*) FROM student_answers) AS student_answers",
    )
    .fetch_one(conn)
    .await?;
    Ok(Counts {
        exam_attempts: row.try_get("exam_attempts")?,
        student_answers: row.try_get("student_answers")?,
    })
}

/// `users` (`auth.model.js`). The OTP columns are left behind: a reset code in flight at the
/// switch-over is asked for again.
#[derive(Debug, Clone, Serialize)]
pub struct NodeUser {
    pub id: String,
    pub full_name: String,
    pub email: String,
    pub hashed_password: String,
    pub role: String,
    pub email_verified: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn users(conn: &mut AnyConnection) -> Result<Vec<NodeUser>, sqlx::Error> {
    let sql = format!(
        "SELECT CAST(id AS TEXT) AS id, \"fullName\" AS full_name, email,
                \"hashedPassword\" AS hashed_password, CAST(role AS TEXT) AS role,
                \"emailVerified\" AS email_verified, {} AS created_at, {} AS updated_at
         FROM users ORDER BY id",
        ms("\"createdAt\""),
        ms("\"updatedAt\"")
    );
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(NodeUser {
                id: r.try_get("id")?,
                full_name: r.try_get("full_name")?,
                email: r.try_get("email")?,
                hashed_password: r.try_get("hashed_password")?,
                role: r.try_get("role")?,
                email_verified: r.try_get("email_verified")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}

/// `user_profiles` (`profile.model.js`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeProfile {
    pub user_id: String,
    pub enrollment_number: String,
    pub course: String,
    pub department: String,
    pub year: String,
    pub semester: String,
}

pub async fn profiles(conn: &mut AnyConnection) -> Result<Vec<NodeProfile>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(user_id AS TEXT) AS user_id, enrollment_number, CAST(course AS TEXT) AS course,
                CAST(department AS TEXT) AS department, CAST(year AS TEXT) AS year,
                CAST(semester AS TEXT) AS semester
         FROM user_profiles ORDER BY user_id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NodeProfile {
                user_id: r.try_get("user_id")?,
                enrollment_number: r.try_get("enrollment_number")?,
                course: r.try_get("course")?,
                department: r.try_get("department")?,
                year: r.try_get("year")?,
                semester: r.try_get("semester")?,
            })
        })
        .collect()
}

/// `questions` (`question.model.js`). `marks`, `negativeMarks` and `difficulty` have defaults
/// but allow NULL.
#[derive(Debug, Clone, Serialize)]
pub struct NodeQuestion {
    pub id: String,
    pub statement: String,
    pub question_type: String,
    pub domain: String,
    pub marks: Option<i64>,
    /// A double as PostgreSQL prints it (`0.25`, `NaN`).
    pub negative_marks: Option<String>,
    pub difficulty: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn questions(conn: &mut AnyConnection) -> Result<Vec<NodeQuestion>, sqlx::Error> {
    let sql = format!(
        "SELECT CAST(id AS TEXT) AS id, statement, CAST(\"questionType\" AS TEXT) AS question_type,
                domain, CAST(marks AS BIGINT) AS marks,
                CAST(\"negativeMarks\" AS TEXT) AS negative_marks,
                CAST(difficulty AS TEXT) AS difficulty, {} AS created_at, {} AS updated_at
         FROM questions ORDER BY id",
        ms("\"createdAt\""),
        ms("\"updatedAt\"")
    );
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(NodeQuestion {
                id: r.try_get("id")?,
                statement: r.try_get("statement")?,
                question_type: r.try_get("question_type")?,
                domain: r.try_get("domain")?,
                marks: r.try_get("marks")?,
                negative_marks: r.try_get("negative_marks")?,
                difficulty: r.try_get("difficulty")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}

/// `options` (`option.model.js`): `questionId` may be NULL, `isCorrect` too.
#[derive(Debug, Clone, Serialize)]
pub struct NodeOption {
    pub id: String,
    pub text: String,
    pub is_correct: Option<bool>,
    pub order: i64,
    pub question_id: Option<String>,
}

pub async fn options(conn: &mut AnyConnection) -> Result<Vec<NodeOption>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(id AS TEXT) AS id, text, \"isCorrect\" AS is_correct,
                CAST(\"order\" AS BIGINT) AS position, CAST(\"questionId\" AS TEXT) AS question_id
         FROM options ORDER BY \"questionId\", \"order\", id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NodeOption {
                id: r.try_get("id")?,
                text: r.try_get("text")?,
                is_correct: r.try_get("is_correct")?,
                order: r.try_get("position")?,
                question_id: r.try_get("question_id")?,
            })
        })
        .collect()
}

/// `numerical_answers` (`numericalAnswer.model.js`), one per question.
#[derive(Debug, Clone, Serialize)]
pub struct NodeNumericalAnswer {
    pub id: String,
    pub question_id: String,
    pub value: String,
    pub tolerance: Option<String>,
}

pub async fn numerical_answers(
    conn: &mut AnyConnection,
) -> Result<Vec<NodeNumericalAnswer>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(id AS TEXT) AS id, CAST(\"questionId\" AS TEXT) AS question_id,
                CAST(value AS TEXT) AS value, CAST(tolerance AS TEXT) AS tolerance
         FROM numerical_answers ORDER BY id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NodeNumericalAnswer {
                id: r.try_get("id")?,
                question_id: r.try_get("question_id")?,
                value: r.try_get("value")?,
                tolerance: r.try_get("tolerance")?,
            })
        })
        .collect()
}

/// `exams` (`exam.model.js`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeExam {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub duration_minutes: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub state: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn exams(conn: &mut AnyConnection) -> Result<Vec<NodeExam>, sqlx::Error> {
    let sql = format!(
        "SELECT CAST(id AS TEXT) AS id, title, description,
                CAST(duration_minutes AS BIGINT) AS duration_minutes, {} AS start_time,
                {} AS end_time, CAST(state AS TEXT) AS state, CAST(created_by AS TEXT) AS created_by,
                {} AS created_at, {} AS updated_at
         FROM exams ORDER BY id",
        ms("start_time"),
        ms("end_time"),
        ms("created_at"),
        ms("updated_at")
    );
    let rows = sqlx::query(&sql).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(NodeExam {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                description: r.try_get("description")?,
                duration_minutes: r.try_get("duration_minutes")?,
                start_time: r.try_get("start_time")?,
                end_time: r.try_get("end_time")?,
                state: r.try_get("state")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}

/// `exam_questions` (`exam.question.model.js`): the slots, with the marks scoring used.
#[derive(Debug, Clone, Serialize)]
pub struct NodeExamQuestion {
    pub id: String,
    pub exam_id: String,
    pub question_id: String,
    pub question_order: i64,
    pub marks: i64,
}

pub async fn exam_questions(
    conn: &mut AnyConnection,
) -> Result<Vec<NodeExamQuestion>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(id AS TEXT) AS id, CAST(exam_id AS TEXT) AS exam_id,
                CAST(question_id AS TEXT) AS question_id,
                CAST(question_order AS BIGINT) AS question_order,
                CAST(marks_for_each_question AS BIGINT) AS marks
         FROM exam_questions ORDER BY exam_id, question_order, id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NodeExamQuestion {
                id: r.try_get("id")?,
                exam_id: r.try_get("exam_id")?,
                question_id: r.try_get("question_id")?,
                question_order: r.try_get("question_order")?,
                marks: r.try_get("marks")?,
            })
        })
        .collect()
}

/// The id every page starts after: no v4 UUID sorts before it.
pub const FIRST_PAGE: &str = "00000000-0000-0000-0000-000000000000";

/// `exam_attempts` (`examAttempt.model.js`); `score` is the integer Node rounded to.
#[derive(Debug, Clone, Serialize)]
pub struct NodeAttempt {
    pub id: String,
    pub exam_id: String,
    pub user_id: String,
    pub started_at: i64,
    pub submitted_at: Option<i64>,
    pub status: String,
    pub score: Option<i64>,
}

fn attempt_from_row(r: &AnyRow) -> Result<NodeAttempt, sqlx::Error> {
    Ok(NodeAttempt {
        id: r.try_get("id")?,
        exam_id: r.try_get("exam_id")?,
        user_id: r.try_get("user_id")?,
        started_at: r.try_get("started_at")?,
        submitted_at: r.try_get("submitted_at")?,
        status: r.try_get("status")?,
        score: r.try_get("score")?,
    })
}

/// Up to `limit` attempts with ids after `after`, in id order (keyset paging: the tables that
/// grow with every sitting are never held in memory whole).
pub async fn attempts_after(
    conn: &mut AnyConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<NodeAttempt>, sqlx::Error> {
    let sql = format!(
        "SELECT CAST(id AS TEXT) AS id, CAST(exam_id AS TEXT) AS exam_id,
                CAST(user_id AS TEXT) AS user_id, {} AS started_at, {} AS submitted_at,
                CAST(status AS TEXT) AS status, CAST(score AS BIGINT) AS score
         FROM exam_attempts WHERE id > CAST($1 AS uuid) ORDER BY id LIMIT $2",
        ms("started_at"),
        ms("submitted_at")
    );
    let rows = sqlx::query(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(attempt_from_row).collect()
}

/// `student_answers` (`studentAnswer.model.js`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeAnswer {
    pub id: String,
    pub attempt_id: String,
    pub question_id: String,
    /// The `uuid[]` as a JSON array (`["…"]`), absent when NULL.
    pub selected_option_ids: Option<String>,
    /// A double as PostgreSQL prints it.
    pub numerical_answer: Option<String>,
    pub marks_obtained: Option<i64>,
}

pub async fn answers_after(
    conn: &mut AnyConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<NodeAnswer>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(id AS TEXT) AS id, CAST(exam_attempt_id AS TEXT) AS attempt_id,
                CAST(question_id AS TEXT) AS question_id,
                CAST(array_to_json(selected_option_ids) AS TEXT) AS selected_option_ids,
                CAST(numerical_answer AS TEXT) AS numerical_answer,
                CAST(marks_obtained AS BIGINT) AS marks_obtained
         FROM student_answers WHERE id > CAST($1 AS uuid) ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NodeAnswer {
                id: r.try_get("id")?,
                attempt_id: r.try_get("attempt_id")?,
                question_id: r.try_get("question_id")?,
                selected_option_ids: r.try_get("selected_option_ids")?,
                numerical_answer: r.try_get("numerical_answer")?,
                marks_obtained: r.try_get("marks_obtained")?,
            })
        })
        .collect()
}
