//! Node rows to OES rows, without I/O: each function either gives the row OES stores or says,
//! in a sentence for the report, why the row cannot come across. Nothing is invented: a value
//! OES cannot hold is a refusal, and the only defaults filled in are the ones Node's own code
//! applied to the same NULL (scoring read a NULL `negativeMarks` or `tolerance` as 0, a NULL
//! `isCorrect` as false).

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::accounts::{
    Course, Department, Email, Profile, ProfileEnum, Role, Semester, Year, check_enrollment_number,
    check_full_name,
};
use crate::domain::attempts::{AttemptStatus, deadline};
use crate::domain::exams::ExamState;
use crate::domain::ids::{OptionId, QuestionId};
use crate::domain::questions::{
    DECIMAL_PLACES, MAX_MARKS, MAX_NUMBER, OptionInput, Question, QuestionInput, QuestionType,
};
use crate::store::attempts::AttemptRow;
use crate::store::exams::ExamRow;
use crate::store::node_import::ImportedSlot;
use crate::store::node_source::{
    NodeAnswer, NodeAttempt, NodeExam, NodeExamQuestion, NodeNumericalAnswer, NodeOption,
    NodeProfile, NodeQuestion, NodeUser,
};

/// A Node `double precision` in its printed form, as an exact decimal OES can store, or why not.
pub fn number(field: &str, text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("nan") {
        return Err(format!(
            "{field} is NaN: the Node API stored a value it could not parse as a number; \
             set a number in the Node database and run the import again"
        ));
    }
    if text.to_ascii_lowercase().contains("infinity") {
        return Err(format!(
            "{field} is {text}, which is no number OES can store"
        ));
    }
    let value = Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| format!("{field} {text} is out of the range OES stores"))?
        .normalize();
    if value.scale() > DECIMAL_PLACES {
        return Err(format!(
            "{field} {text} has more than {DECIMAL_PLACES} decimal places, which OES does not store"
        ));
    }
    if value.abs() > MAX_NUMBER {
        return Err(format!(
            "{field} {text} is beyond ±{MAX_NUMBER}, the range OES stores"
        ));
    }
    Ok(value)
}

/// The accounts among `users` whose addresses normalise alike (trimmed, lower-cased): the one
/// created first is imported, the others are reported, never merged (which of two accounts is
/// the student's is a person's decision). Also returns the users whose address OES cannot read.
pub struct Accounts<'a> {
    /// Importable users with their normalised address, in Node id order.
    pub importable: Vec<(&'a NodeUser, Email)>,
    pub duplicates: Vec<(Email, &'a NodeUser, Vec<&'a NodeUser>)>,
    pub unreadable: Vec<&'a NodeUser>,
}

pub fn accounts(users: &[NodeUser]) -> Accounts<'_> {
    let mut by_email: BTreeMap<String, (Email, Vec<&NodeUser>)> = BTreeMap::new();
    let mut unreadable = Vec::new();
    for u in users {
        match Email::parse(&u.email) {
            Ok(email) => {
                by_email
                    .entry(email.as_str().to_owned())
                    .or_insert_with(|| (email, Vec::new()))
                    .1
                    .push(u);
            }
            Err(_) => unreadable.push(u),
        }
    }
    let mut importable = Vec::new();
    let mut duplicates = Vec::new();
    for (_, (email, mut group)) in by_email {
        // Creation time never changes, so every run keeps the same account.
        group.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let kept = group[0];
        importable.push((kept, email.clone()));
        if group.len() > 1 {
            duplicates.push((email, kept, group[1..].to_vec()));
        }
    }
    importable.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Accounts {
        importable,
        duplicates,
        unreadable,
    }
}

/// The OES form of an account; the bcrypt hash is kept as Node stored it.
pub struct MappedUser {
    pub full_name: String,
    pub role: Role,
}

pub fn user(u: &NodeUser) -> Result<MappedUser, String> {
    let full_name = check_full_name(&u.full_name).map_err(|e| {
        format!(
            "fullName {:?} is not a name OES accepts: {}",
            u.full_name, e.message
        )
    })?;
    let role = Role::parse(&u.role).ok_or_else(|| format!("role {} is unknown", u.role))?;
    Ok(MappedUser { full_name, role })
}

pub fn profile(p: &NodeProfile) -> Result<Profile, String> {
    let enrollment_number = check_enrollment_number(&p.enrollment_number)
        .map_err(|e| format!("enrollment_number: {}", e.message))?;
    let choice = |e: crate::domain::accounts::InvalidChoice| {
        format!("{} must be one of {:?}", e.field, e.allowed)
    };
    Ok(Profile {
        enrollment_number,
        course: Course::parse(&p.course).map_err(choice)?,
        department: Department::parse(&p.department).map_err(choice)?,
        year: Year::parse(&p.year).map_err(choice)?,
        semester: Semester::parse(&p.semester).map_err(choice)?,
    })
}

/// Why a numerical key cannot come across, if it cannot.
pub fn key_problem(key: &NodeNumericalAnswer) -> Option<String> {
    let value = number("value", &key.value).err();
    let tolerance = key
        .tolerance
        .as_deref()
        .and_then(|t| number("tolerance", t).err());
    value.or(tolerance)
}

/// A question with the rows of it OES does not keep (options of a NUMERICAL question, the key of
/// a choice question: Node's scoring never read them either).
pub struct MappedQuestion {
    pub question: Question,
    pub left_out: Vec<(&'static str, String, String)>,
}

/// A question, its options (in Node's `order`) and its key, validated by the bank's own rules,
/// with Node's ids kept for the question and every option.
pub fn question(
    q: &NodeQuestion,
    options: &[&NodeOption],
    key: Option<&NodeNumericalAnswer>,
) -> Result<MappedQuestion, String> {
    let id: QuestionId =
        q.id.parse()
            .map_err(|_| format!("id {} is not a UUID", q.id))?;
    let kind = QuestionType::parse(&q.question_type)
        .ok_or_else(|| format!("questionType {} is unknown", q.question_type))?;
    let marks = q.marks.ok_or("marks is empty")?;
    let negative_marks = match &q.negative_marks {
        Some(text) => number("negativeMarks", text)?,
        None => Decimal::ZERO,
    };
    let mut left_out = Vec::new();
    let node_options = options;
    let (options, numerical_answer, tolerance) = if kind.is_choice() {
        if let Some(k) = key {
            left_out.push((
                "numerical_answers",
                k.id.clone(),
                format!(
                    "question {} is {}, which has no numerical answer",
                    q.id, q.question_type
                ),
            ));
        }
        let inputs = options
            .iter()
            .map(|o| OptionInput {
                id: None,
                text: Some(o.text.clone()),
                is_correct: o.is_correct.unwrap_or(false),
            })
            .collect();
        (Some(inputs), None, None)
    } else {
        for o in options {
            left_out.push((
                "options",
                o.id.clone(),
                format!("question {} is NUMERICAL, which has no options", q.id),
            ));
        }
        let key = key.ok_or("it is NUMERICAL and has no numerical answer")?;
        if let Some(problem) = key_problem(key) {
            return Err(format!("its numerical answer {}: {problem}", key.id));
        }
        let value = number("value", &key.value)?;
        let tolerance = match &key.tolerance {
            Some(t) => number("tolerance", t)?,
            None => Decimal::ZERO,
        };
        (None, Some(value), Some(tolerance))
    };
    let input = QuestionInput {
        statement: Some(q.statement.clone()),
        question_type: Some(q.question_type.clone()),
        domain: Some(q.domain.clone()),
        marks: Some(Decimal::from(marks)),
        negative_marks: Some(negative_marks),
        difficulty: q.difficulty.clone(),
        partial_credit: Some(false),
        options,
        numerical_answer,
        tolerance,
    };
    let mut question = input
        .into_new(id)
        .map_err(|errors| format!("OES cannot keep it as it is: {}", errors.join("; ")))?;
    // The bank's rules built the options in the order given, with fresh ids: put Node's back,
    // since the students' answers name them.
    for (option, node) in question.options.iter_mut().zip(options_ids(node_options)?) {
        option.id = node;
    }
    Ok(MappedQuestion { question, left_out })
}

fn options_ids(options: &[&NodeOption]) -> Result<Vec<OptionId>, String> {
    options
        .iter()
        .map(|o| {
            o.id.parse()
                .map_err(|_| format!("option id {} is not a UUID", o.id))
        })
        .collect()
}

/// What attempts need of their exam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExamWindow {
    pub duration_minutes: i64,
    pub end_time: i64,
}

/// An exam with its slots. A published (or, never set by Node, closed) exam freezes each slot's
/// question as imported, which is the paper Node served; a draft keeps reading the bank.
pub fn exam(
    e: &NodeExam,
    slots: &[&NodeExamQuestion],
    questions: &HashMap<String, Question>,
) -> Result<(ExamRow, Vec<ImportedSlot>), String> {
    if e.duration_minutes <= 0 {
        return Err(format!(
            "duration_minutes is {}, and an exam lasts at least a minute",
            e.duration_minutes
        ));
    }
    if e.start_time >= e.end_time {
        return Err("start_time is not before end_time".to_owned());
    }
    let state = match e.state.as_str() {
        "DRAFT" => ExamState::Draft,
        // Node never set CLOSED (defect S7); were it set, the exam had been published.
        "PUBLISHED" | "CLOSED" => ExamState::Published,
        other => return Err(format!("state {other} is unknown")),
    };
    let published = state == ExamState::Published;
    let mut ordered = slots.to_vec();
    ordered.sort_by(|a, b| (a.question_order, &a.id).cmp(&(b.question_order, &b.id)));
    let mut out = Vec::with_capacity(ordered.len());
    for (i, s) in ordered.iter().enumerate() {
        let question = questions.get(&s.question_id).ok_or_else(|| {
            format!(
                "its question {} (exam_questions {}) was not imported",
                s.question_id, s.id
            )
        })?;
        let marks = Decimal::from(s.marks);
        if marks <= Decimal::ZERO || marks > MAX_MARKS {
            return Err(format!(
                "exam_questions {} gives {} marks; a slot is worth more than 0 and at most {MAX_MARKS}",
                s.id, s.marks
            ));
        }
        let snapshot = if published {
            Some(serde_json::to_string(question).map_err(|e| e.to_string())?)
        } else {
            None
        };
        out.push(ImportedSlot {
            id: s.id.clone(),
            question_id: s.question_id.clone(),
            // Node's numbers need not be unique; the order they give is kept, numbered 1…n.
            order: i as i64 + 1,
            marks,
            snapshot,
        });
    }
    if published && out.is_empty() {
        return Err("it is published and has no questions".to_owned());
    }
    let row = ExamRow {
        id: e
            .id
            .parse()
            .map_err(|_| format!("id {} is not a UUID", e.id))?,
        title: e.title.trim().to_owned(),
        description: e.description.clone(),
        duration_minutes: e.duration_minutes,
        start_time: e.start_time,
        end_time: e.end_time,
        state,
        grace_seconds: 0,
        shuffle_options: false,
        // Node kept no publish instant; its last change is the latest the publish can be.
        published_at: published.then_some(e.updated_at),
        created_at: e.created_at,
    };
    if row.title.is_empty() {
        return Err("title is empty".to_owned());
    }
    Ok((row, out))
}

/// An attempt with Node's score kept: an ended exam's results and ranks stay what they were.
/// The hard end is derived as OES derives it (Node's rule too, with no grace period).
pub fn attempt(a: &NodeAttempt, window: ExamWindow) -> Result<AttemptRow, String> {
    let status = match a.status.as_str() {
        "IN_PROGRESS" => AttemptStatus::InProgress,
        "SUBMITTED" => AttemptStatus::Submitted,
        "AUTO_SUBMITTED" => AttemptStatus::AutoSubmitted,
        other => return Err(format!("status {other} is unknown")),
    };
    let score = a.score.map(Decimal::from);
    Ok(AttemptRow {
        id: uuid("id", &a.id)?,
        exam_id: uuid("exam_id", &a.exam_id)?,
        user_id: uuid("user_id", &a.user_id)?,
        status,
        started_at: a.started_at,
        deadline_at: deadline(a.started_at, window.duration_minutes, window.end_time, 0),
        submitted_at: a.submitted_at,
        score,
        // Node kept no scoring instant: a scored attempt counts as scored when it was submitted.
        scored_at: score.map(|_| a.submitted_at.unwrap_or(a.started_at)),
        shuffle_seed: 0,
    })
}

fn uuid<T: FromStr>(what: &str, id: &str) -> Result<T, String> {
    id.parse().map_err(|_| format!("{what} {id} is not a UUID"))
}

/// When an imported answer counts as saved: Node kept no such instant, so the attempt's end.
pub fn saved_at(a: &NodeAttempt) -> i64 {
    a.submitted_at.unwrap_or(a.started_at)
}

/// An answer's selection (as OES's JSON array), numerical value and marks.
pub struct MappedAnswer {
    pub selected: String,
    pub numerical: Option<Decimal>,
    pub marks_obtained: Option<Decimal>,
}

pub fn answer(a: &NodeAnswer) -> Result<MappedAnswer, String> {
    let selected: Vec<OptionId> = match &a.selected_option_ids {
        None => Vec::new(),
        Some(json) => {
            let ids: Vec<Option<String>> = serde_json::from_str(json)
                .map_err(|_| format!("selected_option_ids {json} is not a list of ids"))?;
            ids.into_iter()
                .map(|id| {
                    id.and_then(|id| id.parse().ok())
                        .ok_or_else(|| format!("selected_option_ids {json} holds an empty id"))
                })
                .collect::<Result<_, _>>()?
        }
    };
    let numerical = a
        .numerical_answer
        .as_deref()
        .map(|n| number("numerical_answer", n))
        .transpose()?;
    Ok(MappedAnswer {
        selected: serde_json::to_string(&selected).map_err(|e| e.to_string())?,
        numerical,
        marks_obtained: a.marks_obtained.map(Decimal::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_user(id: &str, email: &str, created_at: i64) -> NodeUser {
        NodeUser {
            id: id.to_owned(),
            full_name: "Asha Rao".to_owned(),
            email: email.to_owned(),
            hashed_password: "$2b$10$x".to_owned(),
            role: "USER".to_owned(),
            email_verified: true,
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn numbers_come_across_exactly_and_nan_infinity_or_excess_precision_are_refused_with_a_reason()
    {
        assert_eq!(number("v", "0.25"), Ok(Decimal::new(25, 2)));
        assert_eq!(number("v", "3"), Ok(Decimal::from(3)));
        assert_eq!(number("v", "1e-06"), Ok(Decimal::new(1, 6)));
        assert_eq!(number("v", "-2.5e+3"), Ok(Decimal::from(-2500)));
        let nan = number("value", "NaN").expect_err("NaN");
        assert!(
            nan.contains("NaN") && nan.contains("could not parse"),
            "{nan}"
        );
        assert!(number("v", "Infinity").is_err());
        assert!(number("v", "-Infinity").is_err());
        assert!(
            number("v", "0.1234567")
                .expect_err("7 places")
                .contains("decimal places")
        );
        assert!(number("v", "1e+20").is_err());
    }

    #[test]
    fn addresses_differing_only_by_case_keep_the_first_created_account_and_report_the_others() {
        let users = [
            node_user("b", "Asha@Example.org", 2),
            node_user("a", "asha@example.org ", 1),
            node_user("c", "ravi@example.org", 3),
            node_user("d", "not an address", 4),
        ];
        let accounts = accounts(&users);
        let kept: Vec<_> = accounts
            .importable
            .iter()
            .map(|(u, e)| (u.id.as_str(), e.as_str()))
            .collect();
        assert_eq!(kept, [("a", "asha@example.org"), ("c", "ravi@example.org")]);
        assert_eq!(accounts.duplicates.len(), 1);
        let (email, first, others) = &accounts.duplicates[0];
        assert_eq!(
            (email.as_str(), first.id.as_str()),
            ("asha@example.org", "a")
        );
        assert_eq!(
            others.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        assert_eq!(accounts.unreadable.len(), 1);
    }

    fn node_question(kind: &str) -> NodeQuestion {
        NodeQuestion {
            id: "ce80ed51-42dd-48fc-9412-af6fc5c400de".to_owned(),
            statement: " V = IR? ".to_owned(),
            question_type: kind.to_owned(),
            domain: "Circuits".to_owned(),
            marks: Some(2),
            negative_marks: None,
            difficulty: None,
            created_at: 1,
            updated_at: 1,
        }
    }

    fn node_option(id: &str, text: &str, correct: Option<bool>) -> NodeOption {
        NodeOption {
            id: id.to_owned(),
            text: text.to_owned(),
            is_correct: correct,
            order: 1,
            question_id: Some("ce80ed51-42dd-48fc-9412-af6fc5c400de".to_owned()),
        }
    }

    fn key(value: &str) -> NodeNumericalAnswer {
        NodeNumericalAnswer {
            id: "2bd43642-dfa8-422f-b903-9e621e123963".to_owned(),
            question_id: "ce80ed51-42dd-48fc-9412-af6fc5c400de".to_owned(),
            value: value.to_owned(),
            tolerance: None,
        }
    }

    #[test]
    fn a_choice_question_keeps_node_option_ids_and_order_and_reads_nulls_as_node_scoring_did() {
        let a = node_option("b4121aae-f77a-4d42-864a-f26c0e52185d", "o0", Some(true));
        let b = node_option("7664a07f-6eaf-428b-ab9e-0a56771035ab", "o1", None);
        let mapped = question(&node_question("SINGLE_CORRECT"), &[&a, &b], None).expect("mapped");
        let q = mapped.question;
        assert_eq!(
            q.options
                .iter()
                .map(|o| o.id.to_string())
                .collect::<Vec<_>>(),
            [a.id.as_str(), b.id.as_str()]
        );
        assert!(q.options[0].is_correct && !q.options[1].is_correct);
        assert_eq!(q.negative_marks, Decimal::ZERO);
        assert_eq!(q.statement, "V = IR?");
        assert!(mapped.left_out.is_empty());
    }

    #[test]
    fn a_numerical_question_whose_key_is_nan_is_refused_naming_the_key() {
        let refused = question(&node_question("NUMERICAL"), &[], Some(&key("NaN")))
            .err()
            .expect("refused");
        assert!(
            refused.contains("NaN") && refused.contains("2bd43642"),
            "{refused}"
        );
        let fine = question(&node_question("NUMERICAL"), &[], Some(&key("3"))).expect("mapped");
        assert_eq!(
            fine.question.numerical.map(|n| n.value),
            Some(Decimal::from(3))
        );
        assert!(question(&node_question("NUMERICAL"), &[], None).is_err());
    }

    #[test]
    fn rows_node_never_scored_with_are_left_out_and_reported_while_the_question_comes_across() {
        let stray = node_option("7664a07f-6eaf-428b-ab9e-0a56771035ab", "o1", Some(true));
        let mapped =
            question(&node_question("NUMERICAL"), &[&stray], Some(&key("3"))).expect("mapped");
        assert_eq!(mapped.left_out.len(), 1);
        assert_eq!(mapped.left_out[0].0, "options");
    }

    #[test]
    fn attempts_keep_node_scores_and_get_the_oes_hard_end() {
        let a = NodeAttempt {
            id: "33fb8c83-9987-4db6-9807-392ecc1d7975".to_owned(),
            exam_id: "576ee0e2-cdb1-4d53-9494-be2665cc64b1".to_owned(),
            user_id: "502cc6ea-a738-4188-8b78-7c2c43103a2b".to_owned(),
            started_at: 1_000,
            submitted_at: Some(5_000),
            status: "SUBMITTED".to_owned(),
            score: Some(2),
        };
        let window = ExamWindow {
            duration_minutes: 1,
            end_time: 30_000,
        };
        let row = attempt(&a, window).expect("mapped");
        assert_eq!(row.score, Some(Decimal::from(2)));
        assert_eq!(row.scored_at, Some(5_000));
        assert_eq!(row.deadline_at, 30_000, "capped by the exam's end");
        let unscored = attempt(&NodeAttempt { score: None, ..a }, window).expect("mapped");
        assert_eq!((unscored.score, unscored.scored_at), (None, None));
    }

    #[test]
    fn answers_keep_their_selection_and_refuse_a_nan_numerical_answer() {
        let a = NodeAnswer {
            id: "932dc5de-ad8e-45ba-a8dc-92dd03ae4446".to_owned(),
            attempt_id: "33fb8c83-9987-4db6-9807-392ecc1d7975".to_owned(),
            question_id: "acc60d6c-da71-42ef-a6a3-1f8e69fc82b7".to_owned(),
            selected_option_ids: Some("[\"b4121aae-f77a-4d42-864a-f26c0e52185d\"]".to_owned()),
            numerical_answer: None,
            marks_obtained: Some(1),
        };
        let mapped = answer(&a).expect("mapped");
        assert_eq!(
            mapped.selected,
            "[\"b4121aae-f77a-4d42-864a-f26c0e52185d\"]"
        );
        assert_eq!(mapped.marks_obtained, Some(Decimal::ONE));
        let nan = NodeAnswer {
            selected_option_ids: None,
            numerical_answer: Some("NaN".to_owned()),
            ..a.clone()
        };
        assert!(answer(&nan).is_err());
        let holes = NodeAnswer {
            selected_option_ids: Some("[null]".to_owned()),
            ..a
        };
        assert!(answer(&holes).is_err());
    }
}
