//! The leaderboard of the most recently ended exam whose results are released (its end plus
//! the grace period has passed, as for a student's own results). An exam still in its grace
//! period is skipped, not refused: the home page shows the board to everyone, and the
//! frontend sends any 401 or 403 to the login page.
//!
//! What anyone may see, signed in or not: rank, full name, department, year and score of the
//! top N, and the exam's title, date and total marks. Never emails, ids or answers; `isYou`
//! marks a signed-in viewer's own row. Ranking is competition ranking ("1224"): equal scores
//! share a rank; within a rank, the earlier submission is listed first.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::db::now_ms;
use crate::domain::exams::format_instant;
use crate::domain::ids::{ExamId, UserId};
use crate::domain::scoring::as_number;
use crate::service::exams::{ExamError, slot_views};
use crate::state::AppState;
use crate::store::results as store;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardExam {
    pub id: ExamId,
    pub title: String,
    pub exam_date: String,
    pub end_time: String,
    #[serde(with = "as_number")]
    pub total_marks: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub rank: i64,
    pub name: String,
    /// The profile's department code (`CST`, `EE`, …; the page spells it out); null for a
    /// student without a profile.
    pub department: Option<String>,
    /// The profile's year (`ONE` … `FIVE`); null without a profile.
    pub year: Option<String>,
    #[serde(with = "as_number")]
    pub score: Decimal,
    /// True on the signed-in viewer's own row; false for anonymous visitors.
    pub is_you: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Leaderboard {
    pub exam: LeaderboardExam,
    pub data: Vec<Entry>,
    pub count: usize,
    pub total_participants: i64,
}

/// The top `n` of the latest released exam; `viewer` is the signed-in user, if any.
pub async fn top(
    state: &AppState,
    viewer: Option<UserId>,
    n: i64,
) -> Result<Leaderboard, ExamError> {
    let mut conn = state.db.pool().acquire().await?;
    let exam = store::latest_released_exam(&mut conn, now_ms())
        .await?
        .ok_or(ExamError::NotFound("no exam has released its results yet"))?;
    let id = exam.id.to_string();
    let standings = store::standings(&mut conn, &id, n).await?;
    let total_participants = store::participants(&mut conn, &id).await?;
    let total_marks = crate::domain::scoring::saturating_sum(
        slot_views(&mut conn, exam.id)
            .await?
            .iter()
            .map(|v| v.slot.marks),
    );
    let viewer = viewer.map(|v| v.to_string());
    let mut data: Vec<Entry> = Vec::with_capacity(standings.len());
    for (i, s) in standings.into_iter().enumerate() {
        let rank = match data.last() {
            Some(prev) if prev.score == s.score => prev.rank,
            _ => i as i64 + 1,
        };
        data.push(Entry {
            rank,
            name: s.name.unwrap_or_else(|| "(deleted user)".to_owned()),
            department: s.department,
            year: s.year,
            score: s.score,
            is_you: viewer.as_deref() == Some(s.user_id.as_str()),
        });
    }
    Ok(Leaderboard {
        exam: LeaderboardExam {
            id: exam.id,
            title: exam.title,
            exam_date: format_instant(exam.start_time),
            end_time: format_instant(exam.end_time),
            total_marks,
        },
        count: data.len(),
        data,
        total_participants,
    })
}
