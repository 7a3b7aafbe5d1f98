//! Every entry the platform keeps in the cache: its key (the Node seed's shapes, spelled by
//! [`oes_cache::keys`]) and how long it lives, in one place.
//!
//! Only what is safe to share is cached: published papers without answer keys, and per-user
//! entries keyed by the user's id and served only to that user.

use std::time::Duration;

use oes_cache::keys;

use crate::domain::ids::{AttemptId, ExamId, QuestionId, UserId};

/// One cache entry: where it lives and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub ttl: Duration,
}

/// An exam's details, as students may see them (a draft reads as no exam).
pub fn exam(id: ExamId) -> Entry {
    Entry {
        key: keys::exam(id),
        ttl: keys::ttl::STATIC,
    }
}

/// The list of published exams.
pub fn exams_all() -> Entry {
    Entry {
        key: keys::exams_all(),
        ttl: keys::ttl::LIST,
    }
}

/// A published exam's paper. Published papers are frozen, so it may live longer than other
/// static data; every edit path invalidates it anyway.
pub fn paper(id: ExamId) -> Entry {
    Entry {
        key: keys::exam_questions(id),
        ttl: Duration::from_secs(6 * 3600),
    }
}

/// A student's attempt at an exam, for deciding whether it still takes answers (id, status,
/// hard end, option order). Its score is not kept current: results have their own entry.
/// Start, submit and auto-submit invalidate it; a save does not change it.
pub fn attempt(exam: ExamId, user: UserId) -> Entry {
    Entry {
        key: keys::attempt(exam, user),
        ttl: Duration::from_secs(2 * 3600),
    }
}

/// An attempt's saved answers as its paper shows them. Kept in the process's L1 only
/// (`Cache::get_or_set_local`): every save drops it in every process, and a copy in Redis
/// written back by a load that raced a save would show that student an older answer until it
/// expired. The L1 bound (30 s) caps it whatever this says.
pub fn answers(attempt: AttemptId) -> Entry {
    Entry {
        key: keys::attempt_answers(attempt),
        ttl: Duration::from_secs(2 * 3600),
    }
}

/// One question of the bank (admins only).
pub fn question(id: QuestionId) -> Entry {
    Entry {
        key: keys::question(id),
        ttl: Duration::from_secs(4 * 3600),
    }
}

/// A user's profile, served only to that user.
pub fn profile(user: UserId) -> Entry {
    Entry {
        key: keys::user_profile(user),
        ttl: keys::ttl::PROFILE,
    }
}

/// A scored attempt's result, served only to its student.
pub fn result(attempt: AttemptId) -> Entry {
    Entry {
        key: keys::result(attempt),
        ttl: keys::ttl::RESULT,
    }
}

/// The exams a user has attempted, with their status.
pub fn user_exams(user: UserId) -> Entry {
    Entry {
        key: keys::user_exams(user),
        ttl: keys::ttl::LIST,
    }
}

/// A resolved session (user, role, verification), by the token's keyed hash. Short-lived
/// because a cache-aside fill that raced a revocation (read the database before the revocation
/// committed, wrote Redis after it was invalidated) is served until it expires; five minutes
/// still takes all but one database read in a hundred off a student who saves every few seconds.
pub fn session(token_hash: &str) -> Entry {
    Entry {
        key: keys::session(token_hash),
        ttl: Duration::from_secs(5 * 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_the_seed_key_shapes() {
        let exam_id = ExamId::new();
        assert_eq!(exam(exam_id).key, format!("exam:{exam_id}"));
        assert_eq!(paper(exam_id).key, format!("exam:{exam_id}:questions"));
        assert_eq!(exams_all().key, "exams:all");
        let user = UserId::new();
        assert_eq!(profile(user).key, format!("user:{user}:profile"));
        assert_eq!(user_exams(user).key, format!("user:{user}:exams"));
    }
}
