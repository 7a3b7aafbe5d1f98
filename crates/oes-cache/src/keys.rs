//! The one place where cache keys are spelled.
//!
//! Keys are relative: the [`Cache`](crate::Cache) puts its namespace (default `oes:cache:`) in
//! front of them, so `exam(7)` is stored in Redis as `oes:cache:exam:7`. The shapes are the
//! Node seed's `CACHE_KEYS`, so both systems can share one Redis during a migration.

use std::fmt::Display;
use std::time::Duration;

/// `exam:{examId}`: one exam's details.
pub fn exam(exam_id: impl Display) -> String {
    format!("exam:{exam_id}")
}

/// `exam:{examId}:questions`: the published paper of one exam.
pub fn exam_questions(exam_id: impl Display) -> String {
    format!("exam:{exam_id}:questions")
}

/// `question:{questionId}`: one question.
pub fn question(question_id: impl Display) -> String {
    format!("question:{question_id}")
}

/// `user:{userId}:profile`: one user's profile; serve it only to that user.
pub fn user_profile(user_id: impl Display) -> String {
    format!("user:{user_id}:profile")
}

/// `result:{attemptId}`: the result of one attempt.
pub fn result(attempt_id: impl Display) -> String {
    format!("result:{attempt_id}")
}

/// `user:{userId}:exams`: the exams listed for one user.
pub fn user_exams(user_id: impl Display) -> String {
    format!("user:{user_id}:exams")
}

/// `session:{tokenHash}`: a resolved session. Keyed by the token's keyed hash, never by the
/// token itself, so reading Redis does not give anyone a usable session.
pub fn session(token_hash: impl Display) -> String {
    format!("session:{token_hash}")
}

/// `exam:{examId}:attempt:{userId}`: one student's attempt at one exam (not in the Node seed;
/// serve it only to that student).
pub fn attempt(exam_id: impl Display, user_id: impl Display) -> String {
    format!("exam:{exam_id}:attempt:{user_id}")
}

/// `attempt:{id}:answers`: an attempt's saved answers (OES only; kept in L1, never in Redis).
pub fn attempt_answers(attempt_id: impl Display) -> String {
    format!("attempt:{attempt_id}:answers")
}

/// `exams:all`: the list of all exams.
pub fn exams_all() -> String {
    "exams:all".to_owned()
}

/// Time-to-live per kind of entry, from the seed's guidance.
pub mod ttl {
    use super::Duration;

    /// Static data (exams, questions): the seed allows 2–7 h; 2 h keeps edits visible sooner
    /// when an invalidation is ever missed.
    pub const STATIC: Duration = Duration::from_secs(2 * 3600);
    /// User profiles: 1 h.
    pub const PROFILE: Duration = Duration::from_secs(3600);
    /// Results: 2 h.
    pub const RESULT: Duration = Duration::from_secs(2 * 3600);
    /// Lists (`exams:all`, `user:{id}:exams`): the seed allows 30–60 min.
    pub const LIST: Duration = Duration::from_secs(30 * 60);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_seed_shapes() {
        assert_eq!(exam(7), "exam:7");
        assert_eq!(exam_questions("e1"), "exam:e1:questions");
        assert_eq!(question(3), "question:3");
        assert_eq!(user_profile(42), "user:42:profile");
        assert_eq!(result("a-9"), "result:a-9");
        assert_eq!(user_exams(42), "user:42:exams");
        assert_eq!(exams_all(), "exams:all");
        assert_eq!(session("ab12"), "session:ab12");
    }
}
