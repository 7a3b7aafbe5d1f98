//! The question bank's rules: question types, validation by type, and the snapshot frozen into a
//! published exam (what students see and how they are scored, whatever the bank does later).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::ids::{OptionId, QuestionId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuestionType {
    SingleCorrect,
    MultipleCorrect,
    Numerical,
}

impl QuestionType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleCorrect => "SINGLE_CORRECT",
            Self::MultipleCorrect => "MULTIPLE_CORRECT",
            Self::Numerical => "NUMERICAL",
        }
    }

    /// Case-insensitive, as the original upper-cased its input.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "SINGLE_CORRECT" => Some(Self::SingleCorrect),
            "MULTIPLE_CORRECT" => Some(Self::MultipleCorrect),
            "NUMERICAL" => Some(Self::Numerical),
            _ => None,
        }
    }

    pub fn is_choice(self) -> bool {
        self != Self::Numerical
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Easy => "EASY",
            Self::Medium => "MEDIUM",
            Self::Hard => "HARD",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "EASY" => Some(Self::Easy),
            "MEDIUM" => Some(Self::Medium),
            "HARD" => Some(Self::Hard),
            _ => None,
        }
    }
}

/// An option as the admin sends it. `id` keeps an existing option's id on update, so answers
/// and papers that refer to it stay meaningful.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionInput {
    pub id: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub is_correct: bool,
}

/// The body of create (every field) and update (the fields present replace the stored ones).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionInput {
    pub statement: Option<String>,
    pub question_type: Option<String>,
    pub domain: Option<String>,
    pub marks: Option<Decimal>,
    pub negative_marks: Option<Decimal>,
    pub difficulty: Option<String>,
    pub partial_credit: Option<bool>,
    pub options: Option<Vec<OptionInput>>,
    pub numerical_answer: Option<Decimal>,
    pub tolerance: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionOption {
    pub id: OptionId,
    pub text: String,
    pub is_correct: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumericalKey {
    pub value: Decimal,
    pub tolerance: Decimal,
}

/// A whole, valid question: what the bank stores and what a published exam freezes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub id: QuestionId,
    pub statement: String,
    pub question_type: QuestionType,
    pub domain: String,
    pub marks: Decimal,
    pub negative_marks: Decimal,
    pub difficulty: Difficulty,
    pub partial_credit: bool,
    /// In display order.
    pub options: Vec<QuestionOption>,
    pub numerical: Option<NumericalKey>,
    pub version: i64,
}

/// Decimal places the schema keeps for marks, answers and tolerances (NUMERIC(18,6)).
pub const DECIMAL_PLACES: u32 = 6;

fn too_precise(d: Decimal) -> bool {
    d.normalize().scale() > DECIMAL_PLACES
}

/// The most a question (or an exam slot) is worth, and the most it can cost. Far beyond any
/// real paper, and small enough that a total over any exam stays exact and storable
/// (NUMERIC(18,6) holds under 10^12).
pub const MAX_MARKS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// The largest magnitude of a numerical answer, key or tolerance: well inside NUMERIC(18,6),
/// so the database never sees a number it cannot hold.
pub const MAX_NUMBER: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Checks marks for a question or a slot: `0 < marks ≤ MAX_MARKS`, at most six decimals.
pub fn check_marks(field: &str, marks: Decimal) -> Result<(), String> {
    if marks <= Decimal::ZERO || marks > MAX_MARKS {
        Err(format!(
            "{field} must be greater than 0 and at most {MAX_MARKS}"
        ))
    } else if too_precise(marks) {
        Err(format!(
            "{field} takes at most {DECIMAL_PLACES} decimal places"
        ))
    } else {
        Ok(())
    }
}

/// Checks a numerical answer or key: `-MAX_NUMBER ≤ value ≤ MAX_NUMBER`.
pub fn check_number(field: &str, value: Decimal) -> Result<(), String> {
    if value.abs() > MAX_NUMBER {
        Err(format!(
            "{field} must be between -{MAX_NUMBER} and {MAX_NUMBER}"
        ))
    } else {
        Ok(())
    }
}

/// The most options a question may have; more is a data-entry mistake, not a question.
pub const MAX_OPTIONS: usize = 10;

impl QuestionInput {
    /// Validates a create request into a question with fresh ids; every problem is listed.
    pub fn into_new(self, id: QuestionId) -> Result<Question, Vec<String>> {
        validate(self, None, id)
    }

    /// Applies an update onto `current`: absent fields keep their value, then the result is
    /// validated as a whole (so changing the type alone cannot leave a half-valid question).
    pub fn apply_to(self, current: &Question) -> Result<Question, Vec<String>> {
        validate(self, Some(current), current.id)
    }
}

fn validate(
    input: QuestionInput,
    current: Option<&Question>,
    id: QuestionId,
) -> Result<Question, Vec<String>> {
    let mut errors = Vec::new();
    let statement = input
        .statement
        .map(|s| s.trim().to_owned())
        .or_else(|| current.map(|c| c.statement.clone()))
        .unwrap_or_default();
    if statement.is_empty() {
        errors.push("statement is required".to_owned());
    }
    let question_type = match (&input.question_type, current) {
        (Some(t), _) => QuestionType::parse(t).or_else(|| {
            errors.push(
                "questionType must be SINGLE_CORRECT, MULTIPLE_CORRECT or NUMERICAL".to_owned(),
            );
            None
        }),
        (None, Some(c)) => Some(c.question_type),
        (None, None) => {
            errors.push("questionType is required".to_owned());
            None
        }
    };
    let domain = input
        .domain
        .map(|d| d.trim().to_lowercase())
        .or_else(|| current.map(|c| c.domain.clone()))
        .unwrap_or_default();
    if domain.is_empty() {
        errors.push("domain is required".to_owned());
    }
    let marks = input
        .marks
        .or(current.map(|c| c.marks))
        .unwrap_or(Decimal::ONE);
    if marks <= Decimal::ZERO || marks > MAX_MARKS {
        errors.push(format!(
            "marks must be greater than 0 and at most {MAX_MARKS}"
        ));
    }
    let negative_marks = input
        .negative_marks
        .or(current.map(|c| c.negative_marks))
        .unwrap_or(Decimal::ZERO);
    if negative_marks < Decimal::ZERO || negative_marks > MAX_MARKS {
        errors.push(format!(
            "negativeMarks must be between 0 and {MAX_MARKS} (it is subtracted)"
        ));
    }
    let difficulty = match (&input.difficulty, current) {
        (Some(d), _) => Difficulty::parse(d).unwrap_or_else(|| {
            errors.push("difficulty must be EASY, MEDIUM or HARD".to_owned());
            Difficulty::Medium
        }),
        (None, Some(c)) => c.difficulty,
        (None, None) => Difficulty::Medium,
    };
    let partial_credit = input
        .partial_credit
        .or(current.map(|c| c.partial_credit))
        .unwrap_or(false);

    let mut options = Vec::new();
    let mut numerical = None;
    match question_type {
        Some(t) if t.is_choice() => {
            options = match input.options {
                Some(given) => build_options(given, current, &mut errors),
                None => current.map(|c| c.options.clone()).unwrap_or_default(),
            };
            let correct = options.iter().filter(|o| o.is_correct).count();
            if options.len() < 2 {
                errors.push("a choice question needs at least two options".to_owned());
            }
            if options.len() > MAX_OPTIONS {
                errors.push(format!("at most {MAX_OPTIONS} options"));
            }
            if t == QuestionType::SingleCorrect && correct != 1 {
                errors.push("SINGLE_CORRECT needs exactly one correct option".to_owned());
            }
            if t == QuestionType::MultipleCorrect && correct == 0 {
                errors.push("MULTIPLE_CORRECT needs at least one correct option".to_owned());
            }
            if input.numerical_answer.is_some() {
                errors.push("numericalAnswer is only for NUMERICAL questions".to_owned());
            }
            if partial_credit && t != QuestionType::MultipleCorrect {
                errors.push("partialCredit is only for MULTIPLE_CORRECT questions".to_owned());
            }
        }
        Some(_) => {
            if input.options.as_ref().is_some_and(|o| !o.is_empty()) {
                errors.push("NUMERICAL questions have no options".to_owned());
            }
            let previous = current.and_then(|c| c.numerical);
            let value = input.numerical_answer.or(previous.map(|n| n.value));
            let tolerance = input
                .tolerance
                .or(previous.map(|n| n.tolerance))
                .unwrap_or(Decimal::ZERO);
            match value {
                None => errors.push("NUMERICAL needs numericalAnswer".to_owned()),
                Some(value) => {
                    if let Err(e) = check_number("numericalAnswer", value) {
                        errors.push(e);
                    }
                    numerical = Some(NumericalKey { value, tolerance });
                }
            }
            if tolerance < Decimal::ZERO || tolerance > MAX_NUMBER {
                errors.push(format!("tolerance must be between 0 and {MAX_NUMBER}"));
            }
            if partial_credit {
                errors.push("partialCredit is only for MULTIPLE_CORRECT questions".to_owned());
            }
        }
        None => {}
    }
    let numbers = [Some(marks), Some(negative_marks)].into_iter().chain(
        numerical
            .map(|n| [Some(n.value), Some(n.tolerance)])
            .into_iter()
            .flatten(),
    );
    if numbers.flatten().any(too_precise) {
        errors.push(format!(
            "numbers take at most {DECIMAL_PLACES} decimal places"
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Question {
        id,
        statement,
        question_type: question_type.unwrap_or(QuestionType::SingleCorrect),
        domain,
        marks,
        negative_marks,
        difficulty,
        partial_credit,
        options,
        numerical,
        version: current.map_or(1, |c| c.version + 1),
    })
}

fn build_options(
    given: Vec<OptionInput>,
    current: Option<&Question>,
    errors: &mut Vec<String>,
) -> Vec<QuestionOption> {
    let mut out: Vec<QuestionOption> = Vec::with_capacity(given.len());
    for (i, o) in given.into_iter().enumerate() {
        let text = o.text.map(|t| t.trim().to_owned()).unwrap_or_default();
        if text.is_empty() {
            errors.push(format!("options[{i}].text is required"));
        }
        let id = match o.id {
            None => OptionId::new(),
            Some(raw) => match raw.parse::<OptionId>() {
                Ok(id) if current.is_some_and(|c| c.options.iter().any(|x| x.id == id)) => id,
                _ => {
                    errors.push(format!("options[{i}].id is not an option of this question"));
                    OptionId::new()
                }
            },
        };
        if out.iter().any(|x| x.id == id) {
            errors.push(format!("options[{i}].id appears twice"));
        }
        if out.iter().any(|x| x.text.eq_ignore_ascii_case(&text)) && !text.is_empty() {
            errors.push(format!("options[{i}].text duplicates another option"));
        }
        out.push(QuestionOption {
            id,
            text,
            is_correct: o.is_correct,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(text: &str, ok: bool) -> OptionInput {
        OptionInput {
            id: None,
            text: Some(text.into()),
            is_correct: ok,
        }
    }

    fn single() -> QuestionInput {
        QuestionInput {
            statement: Some("2+2?".into()),
            question_type: Some("single_correct".into()),
            domain: Some(" Maths ".into()),
            options: Some(vec![opt("4", true), opt("5", false)]),
            ..QuestionInput::default()
        }
    }

    #[test]
    fn a_single_correct_question_is_normalised_with_defaults() {
        let q = single().into_new(QuestionId::new()).expect("valid");
        assert_eq!(q.question_type, QuestionType::SingleCorrect);
        assert_eq!(q.domain, "maths");
        assert_eq!(q.marks, Decimal::ONE);
        assert_eq!(q.negative_marks, Decimal::ZERO);
        assert_eq!(q.difficulty, Difficulty::Medium);
        assert_eq!(q.version, 1);
    }

    #[test]
    fn single_correct_needs_exactly_one_correct_and_two_options() {
        let mut two_correct = single();
        two_correct.options = Some(vec![opt("a", true), opt("b", true)]);
        let errors = two_correct
            .into_new(QuestionId::new())
            .expect_err("invalid");
        assert!(
            errors.iter().any(|e| e.contains("exactly one")),
            "{errors:?}"
        );

        let mut lonely = single();
        lonely.options = Some(vec![opt("a", true)]);
        let errors = lonely.into_new(QuestionId::new()).expect_err("invalid");
        assert!(
            errors.iter().any(|e| e.contains("two options")),
            "{errors:?}"
        );
    }

    #[test]
    fn foreign_or_duplicate_option_ids_are_refused_on_update() {
        let q = single().into_new(QuestionId::new()).expect("valid");
        let keep = q.options[0].id.to_string();
        let update = QuestionInput {
            options: Some(vec![
                OptionInput {
                    id: Some(keep.clone()),
                    text: Some("4".into()),
                    is_correct: true,
                },
                OptionInput {
                    id: Some(keep),
                    text: Some("6".into()),
                    is_correct: false,
                },
                OptionInput {
                    id: Some(OptionId::new().to_string()),
                    text: Some("7".into()),
                    is_correct: false,
                },
            ]),
            ..QuestionInput::default()
        };
        let errors = update.apply_to(&q).expect_err("invalid");
        assert!(errors.iter().any(|e| e.contains("twice")), "{errors:?}");
        assert!(
            errors.iter().any(|e| e.contains("not an option")),
            "{errors:?}"
        );
    }

    #[test]
    fn an_update_keeps_option_ids_and_bumps_the_version() {
        let q = single().into_new(QuestionId::new()).expect("valid");
        let update = QuestionInput {
            statement: Some("2+2=?".into()),
            ..QuestionInput::default()
        };
        let q2 = update.apply_to(&q).expect("valid");
        assert_eq!(q2.options, q.options);
        assert_eq!(q2.version, 2);
    }

    #[test]
    fn numerical_needs_an_answer_and_no_options() {
        let input = QuestionInput {
            statement: Some("pi?".into()),
            question_type: Some("NUMERICAL".into()),
            domain: Some("maths".into()),
            options: Some(vec![opt("3", true)]),
            ..QuestionInput::default()
        };
        let errors = input.into_new(QuestionId::new()).expect_err("invalid");
        assert!(
            errors.iter().any(|e| e.contains("no options")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("numericalAnswer")),
            "{errors:?}"
        );
    }

    #[test]
    fn unknown_types_are_validation_errors_not_crashes() {
        let mut input = single();
        input.question_type = Some("ESSAY".into());
        assert!(input.into_new(QuestionId::new()).is_err());
    }
}
