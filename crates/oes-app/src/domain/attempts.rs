//! Attempt rules: the status machine, the hard end, answer validation and the per-attempt
//! option order.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::ids::{OptionId, QuestionId};
use crate::domain::questions::{Question, QuestionType};
use crate::domain::scoring::Answer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttemptStatus {
    InProgress,
    Submitted,
    AutoSubmitted,
}

impl AttemptStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Submitted => "SUBMITTED",
            Self::AutoSubmitted => "AUTO_SUBMITTED",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "SUBMITTED" => Self::Submitted,
            "AUTO_SUBMITTED" => Self::AutoSubmitted,
            _ => Self::InProgress,
        }
    }
}

/// Hard end = min(start + duration, exam end), plus the exam's grace period.
pub fn deadline(
    started_ms: i64,
    duration_minutes: i64,
    exam_end_ms: i64,
    grace_seconds: i64,
) -> i64 {
    started_ms
        .saturating_add(duration_minutes.saturating_mul(60_000))
        .min(exam_end_ms)
        .saturating_add(grace_seconds.saturating_mul(1000))
}

/// The latest hard end any attempt at the exam can have: the exam's end plus its grace period,
/// reached by an attempt started late enough for the window to cut it short. Until then some
/// attempt may still save answers, so nothing that reveals the key may be released before it.
pub fn last_deadline(exam_end_ms: i64, grace_seconds: i64) -> i64 {
    exam_end_ms.saturating_add(grace_seconds.saturating_mul(1000))
}

/// Whole seconds left before `deadline_ms`, never negative.
pub fn remaining_seconds(deadline_ms: i64, now_ms: i64) -> i64 {
    (deadline_ms - now_ms).max(0) / 1000
}

/// What a save says of the numerical answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NumericalInput {
    /// Nothing: the save is about options (or is missing its answer).
    #[default]
    Absent,
    /// The student cleared the answer.
    Clear,
    Value(Decimal),
}

/// Checks an answer against its question: option ids must belong to it (deduplicated), a
/// SINGLE_CORRECT question takes at most one, a NUMERICAL question takes a number and no options.
/// An empty selection clears a choice answer and [`NumericalInput::Clear`] a numerical one; a
/// cleared answer is the empty [`Answer`], which scores nothing.
pub fn validate_answer(
    question: &Question,
    selected: Option<Vec<OptionId>>,
    numerical: NumericalInput,
) -> Result<Answer, String> {
    match question.question_type {
        QuestionType::Numerical => {
            if selected.as_ref().is_some_and(|s| !s.is_empty()) {
                return Err("a NUMERICAL question takes numericalAnswer, not options".into());
            }
            let n = match numerical {
                NumericalInput::Value(n) => n,
                NumericalInput::Clear => return Ok(Answer::default()),
                NumericalInput::Absent => {
                    return Err("numericalAnswer is required for a NUMERICAL question \
                                (null or \"\" clears the answer)"
                        .into());
                }
            };
            crate::domain::questions::check_number("numericalAnswer", n)?;
            // Stored with the schema's six decimal places; rounding here makes the scored
            // value the stored one on both backends.
            Ok(Answer {
                selected: vec![],
                numerical: Some(
                    n.round_dp(crate::domain::questions::DECIMAL_PLACES)
                        .normalize(),
                ),
            })
        }
        kind => {
            // A cleared numerical answer beside the options says nothing about them.
            if let NumericalInput::Value(_) = numerical {
                return Err("numericalAnswer is only for NUMERICAL questions".into());
            }
            let mut seen = HashSet::new();
            let mut ids = Vec::new();
            for id in selected.unwrap_or_default() {
                if !question.options.iter().any(|o| o.id == id) {
                    return Err(format!("option {id} does not belong to this question"));
                }
                if seen.insert(id) {
                    ids.push(id);
                }
            }
            if kind == QuestionType::SingleCorrect && ids.len() > 1 {
                return Err("a SINGLE_CORRECT question takes at most one option".into());
            }
            Ok(Answer {
                selected: ids,
                numerical: None,
            })
        }
    }
}

/// A permutation of `0..n`, fixed by the attempt's seed and the question, so a student sees the
/// same order on every reload and different students see different orders.
pub fn option_order(seed: i64, question: QuestionId, n: usize) -> Vec<usize> {
    let mut state = seed as u64 ^ fnv(question.0.as_bytes());
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (splitmix(&mut state) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::NumericalInput::{Absent, Clear, Value};
    use super::*;
    use crate::domain::questions::{Difficulty, QuestionOption};

    fn question(kind: QuestionType) -> Question {
        Question {
            id: QuestionId::new(),
            statement: "q".into(),
            question_type: kind,
            domain: "d".into(),
            marks: Decimal::ONE,
            negative_marks: Decimal::ZERO,
            difficulty: Difficulty::Easy,
            partial_credit: false,
            options: (0..3)
                .map(|i| QuestionOption {
                    id: OptionId::new(),
                    text: format!("{i}"),
                    is_correct: i == 0,
                })
                .collect(),
            numerical: None,
            version: 1,
        }
    }

    #[test]
    fn the_hard_end_is_the_earlier_of_duration_and_window_plus_grace() {
        assert_eq!(deadline(0, 10, 3_600_000, 0), 600_000);
        assert_eq!(deadline(3_500_000, 10, 3_600_000, 30), 3_630_000);
    }

    #[test]
    fn no_attempt_ends_after_the_last_deadline() {
        let (end, grace) = (3_600_000, 45);
        for started in [0, 1_000_000, 3_000_000, 3_599_999, 3_600_000] {
            assert!(deadline(started, 10, end, grace) <= last_deadline(end, grace));
        }
        assert_eq!(
            deadline(3_599_999, 10, end, grace),
            last_deadline(end, grace)
        );
    }

    #[test]
    fn selections_are_deduplicated_and_foreign_options_refused() {
        let q = question(QuestionType::MultipleCorrect);
        let a = validate_answer(&q, Some(vec![q.options[0].id, q.options[0].id]), Absent)
            .expect("valid");
        assert_eq!(a.selected, vec![q.options[0].id]);
        assert!(validate_answer(&q, Some(vec![OptionId::new()]), Absent).is_err());
    }

    #[test]
    fn single_correct_takes_one_option_and_numerical_takes_a_number() {
        let q = question(QuestionType::SingleCorrect);
        assert!(validate_answer(&q, Some(vec![q.options[0].id, q.options[1].id]), Absent).is_err());
        assert!(validate_answer(&q, None, Value(Decimal::ONE)).is_err());
        let n = question(QuestionType::Numerical);
        assert!(validate_answer(&n, None, Absent).is_err());
        assert!(validate_answer(&n, None, Value(Decimal::ONE)).is_ok());
        let long: Decimal = "0.3100001".parse().expect("decimal");
        let stored = validate_answer(&n, None, Value(long)).expect("valid");
        assert_eq!(stored.numerical, Some("0.31".parse().expect("decimal")));
    }

    #[test]
    fn clearing_gives_the_empty_answer_for_every_question_type() {
        let n = question(QuestionType::Numerical);
        assert_eq!(validate_answer(&n, None, Clear), Ok(Answer::default()));
        assert_eq!(
            validate_answer(&n, Some(vec![]), Clear),
            Ok(Answer::default())
        );
        for kind in [QuestionType::SingleCorrect, QuestionType::MultipleCorrect] {
            let q = question(kind);
            assert_eq!(
                validate_answer(&q, Some(vec![]), Absent),
                Ok(Answer::default())
            );
            // A client that sends both fields, the number cleared, still clears the options.
            assert_eq!(
                validate_answer(&q, Some(vec![]), Clear),
                Ok(Answer::default())
            );
            let picked = validate_answer(&q, Some(vec![q.options[1].id]), Clear).expect("valid");
            assert_eq!(picked.selected, vec![q.options[1].id]);
        }
        assert!(validate_answer(&n, None, Clear).is_ok_and(|a| a.is_empty()));
    }

    #[test]
    fn option_order_is_a_stable_permutation_per_seed() {
        let q = QuestionId::new();
        let a = option_order(42, q, 6);
        assert_eq!(a, option_order(42, q, 6));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..6).collect::<Vec<_>>());
        let differs = (0..20).any(|s| option_order(s, q, 6) != a);
        assert!(differs);
    }
}
