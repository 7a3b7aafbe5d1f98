//! Read models across attempts, exams and users: the leaderboard.

use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};

use crate::store::exams::ExamRow;
use crate::store::questions::decimal;

/// The published exam that ended most recently among those whose results are released by
/// `now` (its end plus its grace period has passed; `domain::attempts::last_deadline`).
pub async fn latest_released_exam(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<Option<ExamRow>, sqlx::Error> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM exams WHERE state = 'PUBLISHED' AND end_time + grace_seconds * 1000 <= $1
         ORDER BY end_time DESC, id LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        None => Ok(None),
        Some(id) => crate::store::exams::get(conn, crate::store::questions::parse_id(&id)?).await,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub user_id: String,
    pub name: Option<String>,
    /// The profile's codes (`CST`, `TWO`); none without a profile.
    pub department: Option<String>,
    pub year: Option<String>,
    pub score: Decimal,
    pub submitted_at: i64,
}

/// Scored attempts of an exam, best first; among equal scores the earlier submission first.
/// LEFT JOINs: a user without profile (or deleted meanwhile) still ranks.
pub async fn standings(
    conn: &mut AnyConnection,
    exam: &str,
    limit: i64,
) -> Result<Vec<Standing>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.user_id, u.full_name, p.department, p.year, CAST(a.score AS TEXT) AS score,
                a.submitted_at
         FROM exam_attempts a LEFT JOIN users u ON u.id = a.user_id
              LEFT JOIN user_profiles p ON p.user_id = a.user_id
         WHERE a.exam_id = $1 AND a.scored_at IS NOT NULL
         ORDER BY CAST(a.score AS NUMERIC) DESC, a.submitted_at, a.id LIMIT $2",
    )
    .bind(exam)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Standing {
                user_id: r.try_get("user_id")?,
                name: r.try_get("full_name")?,
                department: r.try_get("department")?,
                year: r.try_get("year")?,
                score: decimal(r, "score")?,
                submitted_at: r.try_get::<Option<i64>, _>("submitted_at")?.unwrap_or(0),
            })
        })
        .collect()
}

pub async fn participants(conn: &mut AnyConnection, exam: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM exam_attempts WHERE exam_id = $1 AND status <> 'IN_PROGRESS'",
    )
    .bind(exam)
    .fetch_one(conn)
    .await
}

/// Attempts of an exam that have a score.
pub async fn scored(conn: &mut AnyConnection, exam: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM exam_attempts WHERE exam_id = $1 AND scored_at IS NOT NULL",
    )
    .bind(exam)
    .fetch_one(conn)
    .await
}
