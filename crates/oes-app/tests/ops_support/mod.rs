//! Helpers for the monitoring tests: a real server with an SMTP sink, an admin and a student
//! signed in, a tiny JSON client, and a Node-shaped email job that fails on demand. (A private
//! Redis server is `support::OwnRedis`.)
#![allow(dead_code)]

use std::time::Duration;

use oes_app::RunningServer;
use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use oes_jobs::JobOptions;
use oes_mail::sink::SmtpSink;
use serde_json::{Value, json};

use crate::support::{self, TestDb};

pub const PASSWORD: &str = "monitoring password 42";
pub const ADMIN_EMAIL: &str = "ops-admin@example.com";
pub const STUDENT_EMAIL: &str = "ops-student@example.com";

/// How long a test waits for asynchronous work (a job to fail or complete) before giving up.
const PATIENCE: Duration = Duration::from_secs(20);

pub struct App {
    pub server: RunningServer,
    pub sink: SmtpSink,
    pub db: TestDb,
    pub http: reqwest::Client,
    pub base: String,
}

/// A unique prefix for the Redis keys of one test.
pub fn unique(tag: &str) -> String {
    format!("oes-test-{tag}-{}", uuid::Uuid::new_v4().simple())
}

impl App {
    /// A server on `backend` with emails going to a fresh sink, plus an admin and a student.
    pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> App {
        let sink = SmtpSink::start().await.expect("smtp sink starts");
        let db = TestDb::new(backend).await;
        let smtp = sink.url();
        let mut vars: Vec<(&str, &str)> = vec![
            ("SMTP_URL", &smtp),
            ("EMAIL_BACKOFF_MS", "50"),
            ("EMAIL_ATTEMPTS", "1"),
        ];
        vars.extend_from_slice(extra);
        let server = RunningServer::start(support::config(&db.url, &vars), axum::Router::new())
            .await
            .expect("server starts");
        let base = format!("http://{}", server.local_addr());
        let state = server.state();
        for (email, role) in [(ADMIN_EMAIL, Role::Admin), (STUDENT_EMAIL, Role::User)] {
            oes_app::service::accounts::create_user(
                &state.db,
                email,
                "Ops Tester",
                PASSWORD,
                role,
                true,
            )
            .await
            .expect("user created");
        }
        App {
            server,
            sink,
            db,
            http: reqwest::Client::new(),
            base,
        }
    }

    pub async fn stop(self) {
        let App { server, db, .. } = self;
        server
            .run_until(async {})
            .await
            .expect("server stops cleanly");
        drop(db);
    }

    /// Signs in and returns the session token.
    pub async fn login(&self, email: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 200, "login of {email}: {body}");
        body["accessToken"]
            .as_str()
            .expect("login returns a token")
            .to_owned()
    }

    /// One request; answers the status and the JSON body (`Null` when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request answered");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None).await
    }

    /// Adds a Node-shaped email job (`{to, subject, html}`) with one try.
    pub async fn add_email_job(&self, id: &str, to: &str) {
        let opts = JobOptions {
            attempts: 1,
            ..JobOptions::with_id(id)
        };
        let data = json!({"to": to, "subject": "Queue test", "html": "<p>secret code 314159</p>"});
        self.server
            .state()
            .jobs
            .add("email", "send-email", data, &opts)
            .await
            .expect("job added");
    }

    /// Polls a job through the API until it reaches `state`; returns the job view.
    pub async fn wait_for_job(&self, token: &str, queue: &str, id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, body) = self
                .get(&format!("/api/admin/queues/{queue}/jobs/{id}"), token)
                .await;
            // A job's hash and its state are two reads: a finished state is trusted once the
            // hash read agrees (it carries the finish time).
            let settled = !matches!(state, "failed" | "completed") || body["finishedOn"].is_u64();
            if status == 200 && body["state"] == state && settled {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} never reached {state}; last answer {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
