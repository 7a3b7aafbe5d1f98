//! An attempt's saved answers as its paper shows them: each answer's `studentAnswer` JSON by
//! question, kept in this process's memory between saves.
//!
//! The paper route reads them on every load; from memory that load makes no database round
//! trip. The copy lives in L1 only (see `cache_entries::answers`) and every save or clear
//! drops it here and in every other process *after* its commit, so a load that began before
//! the commit is not kept and the next one reads what the save wrote: a 2xx on save is what
//! the next load shows. A new attempt starts with "no answers" in the starting process, so the
//! opening storm (start, then paper) reads no answers from the database at all.
//!
//! If the invalidation message cannot be published (Redis down), other processes may show an
//! older answer until their subscription comes back (which drops their whole L1) or for at
//! most the L1 bound of 30 s; the database, and so the score, always has the saved answer.

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::cache_entries as entry;
use crate::domain::ids::{AttemptId, OptionId, QuestionId};
use crate::service::exams::ExamError;
use crate::state::AppState;
use crate::store::attempts as store;

/// One saved answer as the paper shows it (`studentAnswer`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudentAnswer {
    pub selected_option_ids: Vec<OptionId>,
    #[serde(with = "crate::domain::scoring::as_number::option")]
    pub numerical_answer: Option<Decimal>,
}

/// Each saved answer's `studentAnswer` JSON by question. Cheap to clone (shared).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(
    into = "HashMap<QuestionId, String>",
    from = "HashMap<QuestionId, String>"
)]
pub struct SavedAnswers(Arc<HashMap<QuestionId, Vec<u8>>>);

impl SavedAnswers {
    pub fn as_map(&self) -> &HashMap<QuestionId, Vec<u8>> {
        &self.0
    }
}

impl From<HashMap<QuestionId, Vec<u8>>> for SavedAnswers {
    fn from(answers: HashMap<QuestionId, Vec<u8>>) -> Self {
        SavedAnswers(Arc::new(answers))
    }
}

// The JSON form exists for the cache's bookkeeping only; the values are JSON text already.
impl From<SavedAnswers> for HashMap<QuestionId, String> {
    fn from(saved: SavedAnswers) -> Self {
        saved
            .0
            .iter()
            .map(|(id, json)| (*id, String::from_utf8_lossy(json).into_owned()))
            .collect()
    }
}

impl From<HashMap<QuestionId, String>> for SavedAnswers {
    fn from(map: HashMap<QuestionId, String>) -> Self {
        map.into_iter()
            .map(|(id, json)| (id, json.into_bytes()))
            .collect::<HashMap<_, _>>()
            .into()
    }
}

/// The attempt's saved answers, from memory or else from the database.
pub async fn load(state: &AppState, attempt: AttemptId) -> Result<SavedAnswers, ExamError> {
    let db = state.db.clone();
    let cached = entry::answers(attempt);
    Ok(state
        .cache
        .get_or_set_local(&cached.key, cached.ttl, || async move {
            let mut conn = db.pool().acquire().await?;
            let saved = store::answers(&mut conn, attempt).await?;
            drop(conn);
            let mut answers = HashMap::with_capacity(saved.len());
            for a in saved {
                let json = serde_json::to_vec(&StudentAnswer {
                    selected_option_ids: a.answer.selected,
                    numerical_answer: a.answer.numerical,
                })
                .map_err(|e| ExamError::Internal(e.to_string()))?;
                answers.insert(a.question_id, json);
            }
            Ok::<_, ExamError>(SavedAnswers::from(answers))
        })
        .await?)
}

/// Records that a just-created attempt has no answers, in this process.
pub async fn none_yet(state: &AppState, attempt: AttemptId) {
    let cached = entry::answers(attempt);
    if let Err(e) = state
        .cache
        .set_local(&cached.key, &SavedAnswers::default(), cached.ttl)
        .await
    {
        tracing::warn!(%attempt, "cache invalidation failed: {e}");
    }
}

/// Drops the attempt's answers everywhere; call after the change committed.
pub async fn forget(state: &AppState, attempt: AttemptId) {
    if let Err(e) = state.cache.forget_local(&entry::answers(attempt).key).await {
        tracing::warn!(%attempt, "cache invalidation failed: {e}");
    }
}
