//! `oes seed`: demo data through the service layer — an admin, verified students, a question
//! bank and a published exam made of it. Safe to run twice: accounts that exist are skipped,
//! and each run adds its own questions and exam.

use std::time::Duration;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use oes_app::db::now_ms;
use oes_app::domain::accounts::Role;
use oes_app::domain::exams::format_instant;
use oes_app::domain::questions::QuestionInput;
use oes_app::service::accounts::{AccountError, create_user};
use oes_app::service::exams::{self, AddQuestion, ExamInput};
use oes_app::service::questions;
use oes_app::{Config, Services};
use serde_json::json;

use crate::AnyError;

#[derive(clap::Args)]
pub struct SeedArgs {
    /// Verified student accounts `student1@demo.oes.test` ….
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Questions in the bank (single-correct, multiple-correct and numerical in turn).
    #[arg(long, default_value_t = 10)]
    pub questions: usize,
    /// Password of every demo account (admin included); demo data only.
    #[arg(
        long,
        env = "SEED_PASSWORD",
        default_value = "oes-demo-pass-1",
        hide_env_values = true
    )]
    pub password: String,
    /// Email domain of the demo accounts.
    #[arg(long, default_value = "demo.oes.test")]
    pub domain: String,
}

/// Accounts hashed at once: argon2 runs off the async threads, so this keeps the cores busy
/// without queueing hundreds of hashes.
const HASHING_AT_ONCE: usize = 4;

pub async fn run(mut config: Config, args: SeedArgs) -> Result<(), AnyError> {
    if args.questions == 0 {
        return Err("--questions must be at least 1 (the exam needs one)".into());
    }
    // A seed run only writes; the workers belong to `serve` and `worker`.
    config.queues.run_workers = false;
    let services = Services::start(config).await?;
    let result = seed(&services, &args).await;
    services.stop().await;
    result
}

async fn seed(services: &Services, args: &SeedArgs) -> Result<(), AnyError> {
    let state = &services.state;
    let admin_email = format!("admin@{}", args.domain);
    let policy = state.config.accounts.password_policy;
    let admin = match create_user(
        &state.db,
        policy,
        &admin_email,
        "Demo Admin",
        &args.password,
        Role::Admin,
        true,
    )
    .await
    {
        Ok(id) => id,
        Err(AccountError::EmailTaken) => admin_id(state, &admin_email).await?,
        Err(e) => return Err(e.into()),
    };

    let bar = progress_bar(args.users as u64, "students");
    let created = futures::stream::iter(1..=args.users)
        .map(|i| {
            let email = format!("student{i}@{}", args.domain);
            let name = format!("Demo Student {i}");
            let db = state.db.clone();
            let password = args.password.clone();
            async move { create_user(&db, policy, &email, &name, &password, Role::User, true).await }
        })
        .buffer_unordered(HASHING_AT_ONCE);
    futures::pin_mut!(created);
    let (mut new_users, mut existing) = (0, 0);
    while let Some(result) = created.next().await {
        match result {
            Ok(_) => new_users += 1,
            Err(AccountError::EmailTaken) => existing += 1,
            Err(e) => {
                bar.abandon();
                return Err(e.into());
            }
        }
        bar.inc(1);
    }
    bar.finish();

    let bar = progress_bar(args.questions as u64, "questions");
    let mut ids = Vec::with_capacity(args.questions);
    for i in 1..=args.questions {
        let input: QuestionInput = serde_json::from_value(question(i))?;
        let q = questions::create(state, admin, input)
            .await
            .map_err(|e| format!("question {i}: {e:?}"))?;
        ids.push(q.id);
        bar.inc(1);
    }
    bar.finish();

    let start = now_ms() + 5 * 60 * 1000;
    let exam = exams::create(
        state,
        admin,
        ExamInput {
            title: Some("Demo exam".into()),
            description: Some(format!("{} questions from the demo bank", ids.len())),
            duration_minutes: Some(30),
            start_time: Some(format_instant(start)),
            end_time: Some(format_instant(start + 7 * 24 * 3600 * 1000)),
            grace_seconds: Some(30),
            shuffle_options: Some(true),
        },
    )
    .await
    .map_err(|e| format!("exam: {e:?}"))?;
    let add = ids
        .iter()
        .map(|&question_id| AddQuestion {
            question_id,
            marks: None,
        })
        .collect();
    exams::set_questions(state, exam.id, add, Vec::new())
        .await
        .map_err(|e| format!("exam questions: {e:?}"))?;
    exams::publish(state, exam.id)
        .await
        .map_err(|e| format!("publish: {e:?}"))?;

    println!("admin: {admin_email}");
    println!(
        "students: {new_users} created, {existing} already there (student1@{} …)",
        args.domain
    );
    println!("questions: {} created", ids.len());
    println!(
        "exam: {} published, opens {}",
        exam.id,
        format_instant(start)
    );
    Ok(())
}

async fn admin_id(
    state: &oes_app::AppState,
    email: &str,
) -> Result<oes_app::domain::ids::UserId, AnyError> {
    let (id, role) = oes_app::service::accounts::find_user_by_email(&state.db, email)
        .await?
        .ok_or("the demo admin exists but cannot be read")?;
    if role != Role::Admin {
        return Err(format!("{email} exists and is not an admin").into());
    }
    Ok(id)
}

/// A progress bar on a terminal; nothing when the output is piped (scripts, tests).
fn progress_bar(len: u64, what: &'static str) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn question(i: usize) -> serde_json::Value {
    match i % 3 {
        1 => json!({
            "statement": format!("Demo question {i}: which of these is a prime number?"),
            "questionType": "SINGLE_CORRECT",
            "domain": "Mathematics",
            "marks": 2,
            "negativeMarks": 0.5,
            "difficulty": "EASY",
            "options": [
                { "text": "4", "isCorrect": false },
                { "text": "7", "isCorrect": true },
                { "text": "9", "isCorrect": false },
                { "text": "15", "isCorrect": false },
            ],
        }),
        2 => json!({
            "statement": format!("Demo question {i}: which of these are even?"),
            "questionType": "MULTIPLE_CORRECT",
            "domain": "Mathematics",
            "marks": 3,
            "negativeMarks": 1,
            "difficulty": "MEDIUM",
            "partialCredit": true,
            "options": [
                { "text": "2", "isCorrect": true },
                { "text": "3", "isCorrect": false },
                { "text": "8", "isCorrect": true },
                { "text": "11", "isCorrect": false },
            ],
        }),
        _ => json!({
            "statement": format!("Demo question {i}: what is 1.5 times 4?"),
            "questionType": "NUMERICAL",
            "domain": "Arithmetic",
            "marks": 4,
            "negativeMarks": 0,
            "difficulty": "HARD",
            "numericalAnswer": 6,
            "tolerance": 0.01,
        }),
    }
}
