//! The leaderboard of the most recently ended exam, once its results are released (the end
//! plus the grace period, as for a student's own results); until then it answers 403.
//!
//! What a student may see of others: rank, full name and score of the top N, nothing else (no
//! email, department, year or answers), and only when signed in. Ranking is competition ranking
//! ("1224"): equal scores share a rank; within a rank, the earlier submission is listed first.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::db::now_ms;
use crate::domain::exams::format_instant;
use crate::domain::ids::{ExamId, UserId};
use crate::domain::scoring::as_number;
use crate::service::exams::{ExamError, slot_views};
use crate::service::results::{not_released, release_time};
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
    #[serde(with = "as_number")]
    pub score: Decimal,
    /// True on the caller's own row.
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

pub async fn top(state: &AppState, viewer: UserId, n: i64) -> Result<Leaderboard, ExamError> {
    let mut conn = state.db.pool().acquire().await?;
    let now = now_ms();
    let exam = store::latest_ended_exam(&mut conn, now)
        .await?
        .ok_or(ExamError::NotFound("no exam has ended yet"))?;
    if now < release_time(&exam) {
        return Err(not_released(&exam));
    }
    let id = exam.id.to_string();
    let standings = store::standings(&mut conn, &id, n).await?;
    let total_participants = store::participants(&mut conn, &id).await?;
    let total_marks = crate::domain::scoring::saturating_sum(
        slot_views(&mut conn, exam.id)
            .await?
            .iter()
            .map(|v| v.slot.marks),
    );
    let viewer = viewer.to_string();
    let mut data: Vec<Entry> = Vec::with_capacity(standings.len());
    for (i, s) in standings.into_iter().enumerate() {
        let rank = match data.last() {
            Some(prev) if prev.score == s.score => prev.rank,
            _ => i as i64 + 1,
        };
        data.push(Entry {
            rank,
            name: s.name.unwrap_or_else(|| "(deleted user)".to_owned()),
            score: s.score,
            is_you: s.user_id == viewer,
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
