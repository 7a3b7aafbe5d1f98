//! Scoring, as pure functions over a frozen question and a student's answer.
//!
//! Policy (documented for students and admins alike):
//! - the value of a question is the exam slot's marks (defaulting to the question's marks when
//!   added); its penalty is the question's `negative_marks`;
//! - unanswered (no option, or no number) scores 0;
//! - SINGLE_CORRECT: the one correct option gives +marks, anything else −penalty;
//! - MULTIPLE_CORRECT, all-or-nothing: exactly the correct set gives +marks, anything else
//!   −penalty. With `partial_credit`: a selection containing a wrong option gives −penalty,
//!   otherwise marks × (correct chosen ÷ correct total);
//! - NUMERICAL: |answer − value| ≤ tolerance (exact decimals, so 0.1 + 0.2 is 0.3) gives +marks,
//!   otherwise −penalty;
//! - penalties apply per question (no per-question clamp, unlike the original, which cancelled
//!   negative marking); the **total** is floored at 0.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::ids::OptionId;
use crate::domain::questions::{Question, QuestionType};

/// A stored answer: deduplicated option ids or a number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub selected: Vec<OptionId>,
    pub numerical: Option<Decimal>,
}

impl Answer {
    pub fn is_empty(&self) -> bool {
        self.selected.is_empty() && self.numerical.is_none()
    }
}

/// Marks outside exact decimal arithmetic or the score columns. The API bounds every mark, so
/// only rows written before those bounds can get here; an error, never a panic, so one such
/// attempt cannot stop the scoring of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the marks overflow the range a score can hold")]
pub struct ScoreOverflow;

/// What NUMERIC(18,6) holds, on both backends alike: magnitudes under 10^12.
fn storable(d: Decimal) -> Result<Decimal, ScoreOverflow> {
    if d.abs() < Decimal::from(1_000_000_000_000_i64) {
        Ok(d)
    } else {
        Err(ScoreOverflow)
    }
}

/// The marks one answer earns on one question worth `slot_marks`.
pub fn score_question(
    question: &Question,
    slot_marks: Decimal,
    answer: Option<&Answer>,
) -> Result<Decimal, ScoreOverflow> {
    let Some(answer) = answer.filter(|a| !a.is_empty()) else {
        return Ok(Decimal::ZERO);
    };
    let penalty = -question.negative_marks;
    let marks = match question.question_type {
        QuestionType::Numerical => match (answer.numerical, question.numerical) {
            (Some(given), Some(key)) => {
                let off = given.checked_sub(key.value).ok_or(ScoreOverflow)?.abs();
                if off <= key.tolerance {
                    slot_marks
                } else {
                    penalty
                }
            }
            (Some(_), None) => penalty,
            (None, _) => Decimal::ZERO,
        },
        QuestionType::SingleCorrect => {
            let correct = question.options.iter().find(|o| o.is_correct).map(|o| o.id);
            if answer.selected.len() == 1 && Some(answer.selected[0]) == correct {
                slot_marks
            } else {
                penalty
            }
        }
        QuestionType::MultipleCorrect => {
            let correct: HashSet<OptionId> = question
                .options
                .iter()
                .filter(|o| o.is_correct)
                .map(|o| o.id)
                .collect();
            let chosen: HashSet<OptionId> = answer.selected.iter().copied().collect();
            if chosen == correct {
                slot_marks
            } else if question.partial_credit && chosen.is_subset(&correct) && !correct.is_empty() {
                slot_marks
                    .checked_mul(Decimal::from(chosen.len() as u64))
                    .and_then(|m| m.checked_div(Decimal::from(correct.len() as u64)))
                    .ok_or(ScoreOverflow)?
            } else {
                penalty
            }
        }
    };
    storable(marks)
}

/// The attempt's total: the sum of the per-question marks, floored at 0.
pub fn total(per_question: impl IntoIterator<Item = Decimal>) -> Result<Decimal, ScoreOverflow> {
    let sum = per_question
        .into_iter()
        .try_fold(Decimal::ZERO, |sum, m| sum.checked_add(m))
        .ok_or(ScoreOverflow)?;
    storable(sum.max(Decimal::ZERO).normalize())
}

/// The sum of marks for display (an exam's total marks): saturates instead of panicking, so
/// rows stored before marks were bounded cannot take a results page down.
pub fn saturating_sum(marks: impl IntoIterator<Item = Decimal>) -> Decimal {
    marks
        .into_iter()
        .fold(Decimal::ZERO, |sum, m| sum.saturating_add(m))
}

/// `part` as a percentage of `whole`, to 2 places; 0 when `whole` is 0 or the division overflows.
pub fn percentage(part: Decimal, whole: Decimal) -> Decimal {
    part.checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|p| p.checked_div(whole))
        .map_or(Decimal::ZERO, |p| p.round_dp(2))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::domain::ids::QuestionId;
    use crate::domain::questions::{Difficulty, NumericalKey, QuestionOption};

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn choice(kind: QuestionType, correct: &[bool], negative: &str, partial: bool) -> Question {
        Question {
            id: QuestionId::new(),
            statement: "q".into(),
            question_type: kind,
            domain: "d".into(),
            marks: Decimal::ONE,
            negative_marks: d(negative),
            difficulty: Difficulty::Medium,
            partial_credit: partial,
            options: correct
                .iter()
                .enumerate()
                .map(|(i, ok)| QuestionOption {
                    id: OptionId::new(),
                    text: format!("o{i}"),
                    is_correct: *ok,
                })
                .collect(),
            numerical: None,
            version: 1,
        }
    }

    fn score(q: &Question, slot_marks: Decimal, answer: Option<&Answer>) -> Decimal {
        score_question(q, slot_marks, answer).expect("in range")
    }

    fn picks(q: &Question, idx: &[usize]) -> Answer {
        Answer {
            selected: idx.iter().map(|i| q.options[*i].id).collect(),
            numerical: None,
        }
    }

    #[test]
    fn single_correct_earns_marks_or_loses_the_penalty() {
        let q = choice(QuestionType::SingleCorrect, &[false, true], "0.25", false);
        assert_eq!(score(&q, d("2"), Some(&picks(&q, &[1]))), d("2"));
        assert_eq!(score(&q, d("2"), Some(&picks(&q, &[0]))), d("-0.25"));
        assert_eq!(score(&q, d("2"), None), Decimal::ZERO);
        assert_eq!(score(&q, d("2"), Some(&Answer::default())), Decimal::ZERO);
    }

    #[test]
    fn multiple_correct_is_all_or_nothing_without_partial_credit() {
        let q = choice(
            QuestionType::MultipleCorrect,
            &[true, true, false],
            "1",
            false,
        );
        assert_eq!(score(&q, d("3"), Some(&picks(&q, &[0, 1]))), d("3"));
        assert_eq!(score(&q, d("3"), Some(&picks(&q, &[0]))), d("-1"));
        assert_eq!(score(&q, d("3"), Some(&picks(&q, &[0, 1, 2]))), d("-1"));
    }

    #[test]
    fn partial_credit_is_proportional_until_a_wrong_option_is_chosen() {
        let q = choice(
            QuestionType::MultipleCorrect,
            &[true, true, true, false],
            "1",
            true,
        );
        assert_eq!(score(&q, d("3"), Some(&picks(&q, &[0, 2]))), d("2"));
        assert_eq!(score(&q, d("3"), Some(&picks(&q, &[0, 3]))), d("-1"));
    }

    #[test]
    fn numerical_tolerance_is_exact_at_the_boundary() {
        let mut q = choice(QuestionType::Numerical, &[], "0.5", false);
        q.numerical = Some(NumericalKey {
            value: d("0.3"),
            tolerance: d("0.01"),
        });
        let ans = |v: &str| Answer {
            selected: vec![],
            numerical: Some(d(v)),
        };
        assert_eq!(score(&q, d("4"), Some(&ans("0.31"))), d("4"));
        assert_eq!(score(&q, d("4"), Some(&ans("0.29"))), d("4"));
        assert_eq!(score(&q, d("4"), Some(&ans("0.310001"))), d("-0.5"));
        let sum = d("0.1") + d("0.2");
        assert_eq!(score(&q, d("4"), Some(&ans(&sum.to_string()))), d("4"));
    }

    #[test]
    fn penalties_count_per_question_and_only_the_total_is_floored() {
        assert_eq!(total([d("1"), d("-0.25")]), Ok(d("0.75")));
        assert_eq!(total([d("-1"), d("-0.25")]), Ok(Decimal::ZERO));
    }

    #[test]
    fn a_total_that_overflows_is_an_error_not_a_panic() {
        // Marks an admin could enter before the API bounded them: their sum overflows Decimal.
        let huge = d("79000000000000000000000000000");
        assert_eq!(total([huge, huge]), Err(ScoreOverflow));
        assert_eq!(total([-huge, -huge]), Err(ScoreOverflow));
        // Representable, but not in a NUMERIC(18,6) score column.
        assert_eq!(total([d("999999999999"), d("1")]), Err(ScoreOverflow));
        assert_eq!(total([d("999999999999")]), Ok(d("999999999999")));
    }

    #[test]
    fn a_question_whose_marks_overflow_is_an_error_not_a_panic() {
        let mut q = choice(QuestionType::Numerical, &[], "0", false);
        q.numerical = Some(NumericalKey {
            value: d("-79000000000000000000000000000"),
            tolerance: d("0"),
        });
        let answer = Answer {
            selected: vec![],
            numerical: Some(d("79000000000000000000000000000")),
        };
        assert_eq!(
            score_question(&q, d("1"), Some(&answer)),
            Err(ScoreOverflow)
        );
        let mut p = choice(QuestionType::MultipleCorrect, &[true, true], "0", true);
        p.marks = d("79000000000000000000000000000");
        assert_eq!(
            score_question(&p, p.marks, Some(&picks(&p, &[0]))),
            Err(ScoreOverflow),
            "half of the marks is still more than a score column holds"
        );
    }

    #[test]
    fn display_totals_and_percentages_never_panic_on_huge_marks() {
        let huge = Decimal::MAX;
        assert_eq!(saturating_sum([huge, huge]), Decimal::MAX);
        assert_eq!(percentage(huge, Decimal::ONE), Decimal::ZERO);
        assert_eq!(percentage(Decimal::ONE, Decimal::ZERO), Decimal::ZERO);
        assert_eq!(
            percentage(Decimal::from(3), Decimal::from(8)),
            Decimal::from_str("37.5").expect("decimal")
        );
    }
}

/// Serializes decimals as JSON numbers (the original API's shape); reading accepts numbers and
/// strings alike. Exactness lives in the database and in the arithmetic, not in the display.
pub mod as_number {
    use rust_decimal::Decimal;
    use rust_decimal::prelude::ToPrimitive;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.to_f64().unwrap_or(0.0))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        serde::Deserialize::deserialize(d)
    }

    pub mod option {
        use rust_decimal::Decimal;
        use serde::Serializer;

        pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Decimal>, D::Error> {
            serde::Deserialize::deserialize(d)
        }
    }
}
