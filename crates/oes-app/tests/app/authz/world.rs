//! The world the matrix runs in: one app, one published exam that travels through the phases
//! (its instants and its attempts' instants moved back together, as if the clock ran forward),
//! a draft beside it, students who own attempts at it, and the resources the rows name.
//!
//! Every principal is an account of its own with a session started directly and [`PASSWORD`]
//! stored at the app's cheap test cost, so that the rows which check a password (login, the
//! password and email changes) succeed without a signup and a verification email per account.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use oes_app::db::now_ms;
use oes_app::domain::accounts::Role;
use serde_json::{Value, json};

use super::matrix::{Ctx, Id, Needs, On, ROWS, Row};
use super::{Caller, Column, Mismatch, Phase};
use crate::support::{Answer, Auth, PASSWORD, TestApp, unique_email};

/// The exam's grace period: long enough that the grace stage cannot run out on a slow machine.
const GRACE_MS: i64 = 600_000;

/// A path token of the right shape that no link ever carried.
const UNKNOWN_TOKEN: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The one row whose body may carry `isCorrect`: the OpenAPI document.
const DOCUMENT: &str = "/api/openapi.json";

/// The queue `{queue}` names; the fixture's notification puts a job in it.
const QUEUE: &str = "notifications";

#[derive(Clone)]
pub struct Principal {
    pub email: String,
    pub token: String,
}

pub struct World {
    pub app: TestApp,
    phase: Phase,
    /// The published exam that moves through the phases.
    exam: String,
    /// A draft with the same question.
    draft: String,
    /// The question on both papers, and one of its options.
    question: String,
    option: String,
    /// A bank question in no exam.
    bank_question: String,
    notification: String,
    job: String,
    /// [`PASSWORD`] hashed at the app's cost.
    password_hash: String,
    main: HashMap<Caller, Principal>,
    /// Owners for the cells that use one up, by kind and phase: their attempts were started
    /// (and for `OwnerDone` submitted) while the exam was live, like the main owners'.
    spares: HashMap<(Caller, Phase), Vec<Principal>>,
    /// The attempt ids of the main owners, which no other caller may ever be shown.
    owner_attempts: Vec<(Caller, String)>,
}

impl World {
    /// The app and everything the before-start stage needs; the owners' attempts come when the
    /// exam goes live.
    pub async fn build(backend: oes_app::db::Backend) -> World {
        let mut app = TestApp::builder(backend)
            .fast_password_hashing()
            .without_rate_limits()
            .var("METRICS_TOKEN", &uuid::Uuid::new_v4().simple().to_string())
            .start()
            .await;
        let state = app.server.state();
        let password_hash = oes_app::service::accounts::hash_password(
            &state.password_hashing,
            PASSWORD,
            state.config.accounts.hash,
        )
        .await
        .expect("the test password hashes");
        let admin = principal(&app, &password_hash, Role::Admin).await;
        // The exam helpers act as `app.admin`: the matrix's admin builds the fixture too.
        app.admin = admin.token.clone();
        let mut main = HashMap::from([(Caller::Admin, admin)]);
        for caller in [
            Caller::OwnerOpen,
            Caller::OwnerDone,
            Caller::Other,
            Caller::SignedOut,
            Caller::Unverified,
        ] {
            main.insert(caller, principal_of(&app, &password_hash, caller).await);
        }

        let paper_question = app.single("1", "0").await;
        let bank_question = app.single("1", "0").await;
        let created = app
            .post(
                "/api/exam/create",
                json!({
                    "title": "The matrix exam", "durationMinutes": 30,
                    "graceSeconds": GRACE_MS / 1000,
                    "startTime": crate::exams::rfc3339(3600),
                    "endTime": crate::exams::rfc3339(7200),
                }),
                &app.admin,
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        let exam = id_of(&created.body["exam"]);
        app.add(&exam, &[&paper_question]).await;
        app.publish(&exam).await;
        let draft = app.exam(3600, 7200, 30).await;
        app.add(&draft, &[&paper_question]).await;

        let sent = app
            .post(
                "/api/admin/notifications",
                json!({
                    "subject": "Welcome", "body": "The matrix begins.", "audience": "ADDRESSES",
                    "addresses": [unique_email("notified")]
                }),
                &app.admin,
            )
            .await;
        assert_eq!(sent.status, 202, "{sent:?}");
        let notification = id_of(&sent.body);
        let job = format!("notify-{notification}");
        let found = app
            .get(&format!("/api/admin/queues/{QUEUE}/jobs/{job}"), &app.admin)
            .await;
        assert_eq!(
            found.status, 200,
            "the notification's job is there: {found:?}"
        );

        World {
            app,
            phase: Phase::BeforeStart,
            exam,
            draft,
            question: id_of(&paper_question),
            option: crate::exams::option_id(&paper_question, 0),
            bank_question: id_of(&bank_question),
            notification,
            job,
            password_hash,
            main,
            spares: HashMap::new(),
            owner_attempts: Vec::new(),
        }
    }

    /// Moves the world into `phase` (the phases come in order).
    pub async fn enter(&mut self, phase: Phase) {
        let (_, end) = self.window().await;
        let now = now_ms();
        match phase {
            Phase::BeforeStart => {}
            // Late in a one-hour window, so that an attempt started now is cut short by the
            // window's end (min(start + 30 min, end) + grace): its hard end is the exam's end
            // plus grace, and it is still open in the grace stage.
            Phase::Live => {
                self.travel(end - (now + 15 * 60_000)).await;
                self.seat_owners().await;
            }
            Phase::Grace => self.travel(end - (now - 1000)).await,
            Phase::Ended => {
                self.travel(end + GRACE_MS - (now - 1000)).await;
                self.finish_attempts().await;
            }
        }
        // The cells' expectations hold only if the exam is where the stage says it is.
        let (start, end) = self.window().await;
        let now = now_ms();
        let reached = match phase {
            Phase::BeforeStart => now < start,
            Phase::Live => start <= now && now < end,
            Phase::Grace => end <= now && now < end + GRACE_MS,
            Phase::Ended => end + GRACE_MS <= now,
        };
        assert!(
            reached,
            "the exam is not {phase:?}: window {start}..{end}, now {now}"
        );
        self.phase = phase;
    }

    async fn window(&self) -> (i64, i64) {
        let start = self
            .app
            .scalar_i64("SELECT start_time FROM exams WHERE id = $1", &self.exam)
            .await;
        let end = self
            .app
            .scalar_i64("SELECT end_time FROM exams WHERE id = $1", &self.exam)
            .await;
        (start, end)
    }

    /// Runs the exam's clock forward by `ms`: every instant of the exam and of its attempts
    /// moves back by that much (the server's clock cannot be moved), and the cached exam rows
    /// are dropped, as an admin write would.
    async fn travel(&self, ms: i64) {
        let pool = self.app.server.state().db.pool();
        sqlx::query(
            "UPDATE exams SET start_time = start_time - $2, end_time = end_time - $2 WHERE id = $1",
        )
        .bind(&self.exam)
        .bind(ms)
        .execute(pool)
        .await
        .expect("the exam travels");
        sqlx::query(
            "UPDATE exam_attempts SET started_at = started_at - $2, deadline_at = deadline_at - $2, \
             submitted_at = submitted_at - $2, scored_at = scored_at - $2 WHERE exam_id = $1",
        )
        .bind(&self.exam)
        .bind(ms)
        .execute(pool)
        .await
        .expect("the attempts travel");
        self.app
            .server
            .state()
            .cache
            // The exam and its attempts changed behind the app's back: every cached copy
            // (exam rows, lists, the attempts) goes.
            .clear()
            .await
            .expect("cached exam rows and attempts dropped");
    }

    /// The main owners and the spares take their seats: an open attempt with one answer saved,
    /// or an attempt answered and submitted.
    async fn seat_owners(&mut self) {
        let spare_cells = ROWS
            .iter()
            .filter(|r| r.needs == Needs::FreshPrincipal)
            .count();
        for kind in [Caller::OwnerOpen, Caller::OwnerDone] {
            let owner = self.main[&kind].clone();
            let attempt = self.sit(&owner, kind).await;
            self.owner_attempts.push((kind, attempt));
            for phase in [Phase::Live, Phase::Grace, Phase::Ended] {
                for _ in 0..spare_cells {
                    let spare = principal_of(&self.app, &self.password_hash, kind).await;
                    self.sit(&spare, kind).await;
                    self.spares.entry((kind, phase)).or_default().push(spare);
                }
            }
        }
    }

    async fn sit(&self, student: &Principal, kind: Caller) -> String {
        let exam = &self.exam;
        let started = self
            .app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student.token,
            )
            .await;
        assert_eq!(started.status, 201, "{started:?}");
        let saved = self
            .app
            .post(
                &format!("/api/exam-attempt/{exam}/save"),
                json!({ "questionId": self.question, "selectedOptionIds": [self.option] }),
                &student.token,
            )
            .await;
        assert_eq!(saved.status, 200, "{saved:?}");
        if kind == Caller::OwnerDone {
            let submitted = self
                .app
                .post(
                    &format!("/api/exam-attempt/{exam}/submit"),
                    json!({}),
                    &student.token,
                )
                .await;
            assert_eq!(submitted.status, 200, "{submitted:?}");
        }
        id_of_attempt(&started)
    }

    /// Past the hard end: the attempts left open are auto-submitted (by the sweep, run now
    /// rather than waited for) and every attempt is scored before the ended stage's cells run,
    /// so that no cell sees the 202 of a score still being calculated.
    async fn finish_attempts(&self) {
        let state = self.app.server.state();
        oes_app::service::attempts::sweep_once(&state.db, &state.cache, &state.jobs)
            .await
            .expect("the sweep runs");
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            let unscored = self
                .app
                .scalar_i64(
                    "SELECT COUNT(*) FROM exam_attempts WHERE exam_id = $1 AND scored_at IS NULL",
                    &self.exam,
                )
                .await;
            if unscored == 0 {
                return;
            }
            assert!(
                Instant::now() < give_up,
                "{unscored} attempts still unscored"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Asks one cell and judges its answer.
    pub async fn check(&mut self, row: &Row, caller: Caller, column: Column) -> Option<Mismatch> {
        let principal = match (caller, row.needs) {
            (Caller::Anonymous, _) => None,
            (_, Needs::FreshPrincipal) => Some(self.fresh_principal(caller, column).await),
            _ => Some(self.main[&caller].clone()),
        };
        let exam = match (column, row.needs) {
            (Column::Phase(_), _) => self.exam.clone(),
            (Column::Draft, Needs::FreshDraft) => self.fresh_draft().await,
            (Column::Draft, _) => self.draft.clone(),
            (Column::Unknown, _) => uuid::Uuid::new_v4().to_string(),
        };
        let id = match (row.needs, row.id) {
            (Needs::FreshQuestion, _) => id_of(&self.app.single("1", "0").await),
            (_, Id::BankQuestion) => self.bank_question.clone(),
            (_, Id::Notification) => self.notification.clone(),
            (_, Id::Job) => self.job.clone(),
            (_, Id::None) => String::new(),
        };
        let path = row
            .path
            .replace("{examId}", &exam)
            .replace("{id}", &id)
            .replace("{token}", UNKNOWN_TOKEN)
            .replace("{queue}", QUEUE);
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let login = &self.main[&Caller::Other].email;
        let body = (row.body)(&Ctx {
            question: &self.question,
            option: &self.option,
            bank_question: &self.bank_question,
            login_email: login,
            unique: &unique,
        });
        let auth = match &principal {
            Some(p) => Auth::Bearer(&p.token),
            None => Auth::None,
        };
        let answer = self.app.call(row.method, &path, body, auth).await;
        let expected = row.expect.status(caller, column);
        let problem = if answer.status >= 500 {
            Some("a server error".to_owned())
        } else if answer.status != expected {
            Some(String::new())
        } else if row.path == DOCUMENT {
            // Its examples are made-up questions, answer keys included.
            None
        } else {
            self.leak(caller, column, &answer)
        };
        problem.map(|note| Mismatch {
            route: format!("{} {}", row.method, row.path),
            caller,
            column,
            expected,
            got: answer.status,
            note,
            body: answer.body.to_string(),
        })
    }

    /// What a cell must never show whatever its status, to anyone but an admin: another owner's
    /// attempt id, the draft (which students cannot know of), and before the results are
    /// released an answer key (`isCorrect` with its value) or a score; an answer key only ever
    /// to the owner of the attempt it marks.
    fn leak(&self, caller: Caller, column: Column, answer: &Answer) -> Option<String> {
        if caller == Caller::Admin {
            return None;
        }
        let text = answer.body.to_string();
        if text.contains(self.draft.as_str()) {
            return Some("shows the draft".to_owned());
        }
        if let Some((owner, _)) = self
            .owner_attempts
            .iter()
            .find(|(owner, attempt)| *owner != caller && text.contains(attempt.as_str()))
        {
            return Some(format!("shows the attempt id of {}", owner.name()));
        }
        let released = column == Column::Phase(Phase::Ended)
            && matches!(caller, Caller::OwnerOpen | Caller::OwnerDone);
        if released {
            return None;
        }
        let key = text.contains("\"isCorrect\":true") || text.contains("\"isCorrect\":false");
        if key {
            return Some("shows an answer key".to_owned());
        }
        // Scores are released with the answer keys, to everyone at once (the leaderboard).
        (column != Column::Phase(Phase::Ended) && has_score(&answer.body))
            .then(|| "shows a score before the results are released".to_owned())
    }

    /// A principal of the caller's kind that no other cell uses: an owner whose attempt is in
    /// the same state as the main owner's (none before the start, or at a draft), a student
    /// without an attempt, an admin.
    async fn fresh_principal(&mut self, caller: Caller, column: Column) -> Principal {
        if let (Caller::OwnerOpen | Caller::OwnerDone, Column::Phase(phase)) = (caller, column)
            && phase != Phase::BeforeStart
        {
            return self
                .spares
                .get_mut(&(caller, phase))
                .and_then(Vec::pop)
                .unwrap_or_else(|| panic!("no spare {} left for {phase:?}", caller.name()));
        }
        principal_of(&self.app, &self.password_hash, caller).await
    }

    async fn fresh_draft(&self) -> String {
        let draft = self.app.exam(3600, 7200, 30).await;
        let question = self.app.single("1", "0").await;
        self.app.add(&draft, &[&question]).await;
        draft
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The columns asked in this stage: the phase's; and before the start, for a route on an
    /// exam, the draft and no exam too.
    pub fn columns(&self, row: &Row) -> Vec<Column> {
        let mut columns = vec![Column::Phase(self.phase)];
        if row.on == On::Exam && self.phase == Phase::BeforeStart {
            columns.extend([Column::Draft, Column::Unknown]);
        }
        columns
    }
}

/// A principal of the caller's kind, without an attempt.
async fn principal_of(app: &TestApp, password_hash: &str, caller: Caller) -> Principal {
    let role = if caller == Caller::Admin {
        Role::Admin
    } else {
        Role::User
    };
    let p = principal(app, password_hash, role).await;
    match caller {
        Caller::SignedOut => {
            let out = app
                .call("POST", "/api/auth/logout", None, Auth::Bearer(&p.token))
                .await;
            assert_eq!(out.status, 200, "{out:?}");
        }
        Caller::Unverified => {
            sqlx::query("UPDATE users SET email_verified = FALSE WHERE lower(email) = lower($1)")
                .bind(&p.email)
                .execute(app.server.state().db.pool())
                .await
                .expect("verification withdrawn");
        }
        _ => {}
    }
    p
}

/// A verified account of `role` with a live session, opened by [`PASSWORD`].
async fn principal(app: &TestApp, password_hash: &str, role: Role) -> Principal {
    let state = app.server.state();
    let email = unique_email("authz");
    let user =
        oes_app::service::accounts::create_passwordless_user(&state.db, &email, "Asha Rao", role)
            .await
            .expect("account created");
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(user.to_string())
        .bind(password_hash)
        .execute(state.db.pool())
        .await
        .expect("password set");
    let mut conn = state.db.pool().acquire().await.expect("connection");
    let (_, token) = oes_app::service::accounts::start_session(
        &mut conn,
        state.config.secret.expose(),
        Duration::from_secs(3600),
        user,
        None,
        None,
    )
    .await
    .expect("session");
    Principal { email, token }
}

/// Whether any object in `v` has a `score` that is not null.
fn has_score(v: &Value) -> bool {
    match v {
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| (k == "score" && !v.is_null()) || has_score(v)),
        Value::Array(items) => items.iter().any(has_score),
        _ => false,
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

fn id_of_attempt(a: &Answer) -> String {
    a.body["attemptId"]
        .as_str()
        .expect("an attempt id")
        .to_owned()
}
