//! Operations over HTTP: the monitoring API and `/metrics`, the queue dashboard in a browser,
//! request traces and what logs may show (no tokens from URL paths),
//! and admin notifications (their fan-out, and a load of 10,000 addresses).

mod dashboard_browser;
mod monitoring;
mod monitoring_metrics;
mod notifications;
mod notifications_load;
mod notifying;
mod redaction;
mod tracing;

use std::time::Duration;

use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use oes_app::queue::{Job, SendEmail};
use oes_jobs::JobOptions;
use serde_json::Value;

use crate::support::TestApp;

pub const ADMIN_EMAIL: &str = "ops-admin@example.com";
pub const STUDENT_EMAIL: &str = "ops-student@example.com";

/// How long a test waits for asynchronous work (a job to fail or complete) before giving up.
const PATIENCE: Duration = Duration::from_secs(20);

/// An app for the monitoring tests: an email fails at its first refusal (so a failed job shows
/// at once), and an admin and a student exist (not signed in).
pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    TestApp::builder(backend)
        .var("EMAIL_ATTEMPTS", "1")
        .vars(extra)
        .user(ADMIN_EMAIL, Role::Admin)
        .user(STUDENT_EMAIL, Role::User)
        .start()
        .await
}

impl TestApp {
    /// Adds a Node-shaped email job (`{to, subject, html}`) with one try.
    pub async fn add_email_job(&self, id: &str, to: &str) {
        let opts = JobOptions {
            attempts: 1,
            ..JobOptions::with_id(id)
        };
        let job = SendEmail::Node {
            to: to.to_owned(),
            subject: "Queue test".to_owned(),
            html: "<p>secret code 314159</p>".to_owned(),
        };
        // The job id is the test's own (as the Node system chooses its ids), not the typed one.
        let backend = self.server.state().jobs.backend().await.expect("connected");
        let data = serde_json::to_value(&job).expect("encode");
        backend
            .add(SendEmail::QUEUE.name(), SendEmail::NAME, data, &opts)
            .await
            .expect("job added");
    }

    /// Polls a job through the API until it reaches `state`; returns the job view.
    pub async fn wait_for_job(&self, token: &str, queue: &str, id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let answer = self
                .get(&format!("/api/admin/queues/{queue}/jobs/{id}"), token)
                .await;
            let (status, body) = (answer.status, answer.body);
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
