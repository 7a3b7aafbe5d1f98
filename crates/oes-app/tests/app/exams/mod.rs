//! The exam area over HTTP on SQLite and PostgreSQL: the question bank, exams, attempts,
//! scoring and results, caching, and the OpenAPI document; with small builders for questions
//! and exams, an administrator signed in through the real login route, and students with
//! sessions created directly (argon2 at production cost for hundreds of students would dominate
//! the suite).

mod attempts;
mod cache;
mod exam;
mod headers;
mod openapi;
mod paper;
mod questions;
mod results;

use std::time::Duration;

use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use oes_app::domain::ids::UserId;
use serde_json::{Value, json};

use crate::support::{self, Answer, TestApp, unique_email};

/// An app for the exam area: no rate limits (storms of requests from one address are the
/// point of some tests) and an administrator signed in as `app.admin`.
pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let admin = unique_email("admin");
    TestApp::builder(backend)
        .without_rate_limits()
        .vars(extra)
        .user(&admin, Role::Admin)
        .signed_in_admin(&admin)
        .start()
        .await
}

impl TestApp {
    /// A verified student with a live session; returns (user id, bearer token).
    pub async fn student(&self, name: &str) -> (UserId, String) {
        let state = self.server.state();
        let id = oes_app::service::accounts::create_passwordless_user(
            &state.db,
            &unique_email("student"),
            name,
            Role::User,
        )
        .await
        .expect("student created");
        let mut conn = state.db.pool().acquire().await.expect("connection");
        let (_, token) = oes_app::service::accounts::start_session(
            &mut conn,
            state.config.secret.expose(),
            Duration::from_secs(3600),
            id,
            None,
            None,
        )
        .await
        .expect("session");
        (id, token)
    }

    /// Creates a question as admin and returns its JSON (`data`).
    pub async fn question(&self, body: Value) -> Value {
        let a = self.post("/api/question/create", body, &self.admin).await;
        assert_eq!(a.status, 201, "{a:?}");
        a.body["data"].clone()
    }

    pub async fn single(&self, marks: &str, negative: &str) -> Value {
        self.question(json!({
            "statement": "Capital of France?",
            "questionType": "SINGLE_CORRECT",
            "domain": "Geography",
            "marks": marks,
            "negativeMarks": negative,
            "options": [
                { "text": "Paris", "isCorrect": true },
                { "text": "Lyon", "isCorrect": false },
                { "text": "Nice", "isCorrect": false }
            ]
        }))
        .await
    }

    pub async fn multiple(&self, marks: &str, negative: &str) -> Value {
        self.question(json!({
            "statement": "Prime numbers?",
            "questionType": "MULTIPLE_CORRECT",
            "domain": "maths",
            "marks": marks,
            "negativeMarks": negative,
            "options": [
                { "text": "2", "isCorrect": true },
                { "text": "3", "isCorrect": true },
                { "text": "4", "isCorrect": false }
            ]
        }))
        .await
    }

    pub async fn numerical(
        &self,
        value: &str,
        tolerance: &str,
        marks: &str,
        negative: &str,
    ) -> Value {
        self.question(json!({
            "statement": "Value?",
            "questionType": "NUMERICAL",
            "domain": "physics",
            "marks": marks,
            "negativeMarks": negative,
            "numericalAnswer": value,
            "tolerance": tolerance
        }))
        .await
    }

    /// Creates a draft exam whose window runs from `start_s` to `end_s` seconds from now.
    pub async fn exam(&self, start_s: i64, end_s: i64, duration_minutes: i64) -> String {
        let a = self
            .post(
                "/api/exam/create",
                json!({
                    "title": "Midterm",
                    "description": "Chapters 1-3",
                    "durationMinutes": duration_minutes,
                    "startTime": rfc3339(start_s),
                    "endTime": rfc3339(end_s),
                }),
                &self.admin,
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        a.body["exam"]["id"].as_str().expect("exam id").to_owned()
    }

    pub async fn add(&self, exam: &str, questions: &[&Value]) {
        let add: Vec<Value> = questions
            .iter()
            .map(|q| json!({ "questionId": q["id"] }))
            .collect();
        let a = self
            .post(
                &format!("/api/exam/{exam}/questions"),
                json!({ "addQuestionIds": add }),
                &self.admin,
            )
            .await;
        assert_eq!(a.status, 200, "{a:?}");
    }

    pub async fn publish(&self, exam: &str) {
        let a = self
            .post(&format!("/api/exam/{exam}/publish"), json!({}), &self.admin)
            .await;
        assert_eq!(a.status, 200, "{a:?}");
    }

    /// A published exam with the given questions, open from a minute ago until `end_s`.
    pub async fn live_exam(
        &self,
        questions: &[&Value],
        end_s: i64,
        duration_minutes: i64,
    ) -> String {
        let exam = self.exam(-60, end_s, duration_minutes).await;
        self.add(&exam, questions).await;
        self.publish(&exam).await;
        exam
    }

    /// Polls `path` until it answers `status` (bounded; the bound is a safety net, not a
    /// timing assertion).
    pub async fn wait_for_status(&self, path: &str, token: &str, status: u16) -> Answer {
        let give_up = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let a = self.get(path, token).await;
            if a.status == status || std::time::Instant::now() > give_up {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Moves a published exam's end to `end_ms` (the clock cannot be moved) and drops the cached
    /// exam rows, as an admin write would.
    pub async fn set_exam_end(&self, exam: &str, end_ms: i64) {
        sqlx::query("UPDATE exams SET end_time = $2 WHERE id = $1")
            .bind(exam)
            .bind(end_ms)
            .execute(self.server.state().db.pool())
            .await
            .expect("exam end moved");
        self.server
            .state()
            .cache
            .delete_many(&[oes_cache::keys::exam(exam), oes_cache::keys::exams_all()])
            .await
            .expect("cache entries dropped");
    }

    pub async fn scalar_i64(&self, sql: &str, bind: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_one(self.server.state().db.pool())
            .await
            .expect("query")
    }

    pub async fn scalar_text(&self, sql: &str, bind: &str) -> Option<String> {
        sqlx::query_scalar(sql)
            .bind(bind)
            .fetch_one(self.server.state().db.pool())
            .await
            .expect("query")
    }
}

pub fn rfc3339(offset_s: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_s))
        .with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).expect("IST"))
        .to_rfc3339()
}

/// Runs `test` once per backend, each with a fresh app.
pub async fn on_each_backend<F, Fut>(extra: &[(&str, &str)], test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = TestApp>,
{
    for backend in support::BACKENDS {
        let app = start(backend, extra).await;
        let app = test(app).await;
        app.stop().await;
    }
}

pub fn option_id(q: &Value, i: usize) -> String {
    q["options"][i]["id"]
        .as_str()
        .expect("option id")
        .to_owned()
}
