//! Emails whose one-time code or link has expired unsent (SMTP refusing for longer than the code
//! lives) leave no secret in the outbox and are never sent: the relay pass marks them FAILED,
//! saying why, and clears their parameters; emails without a secret, and codes still valid,
//! wait on. On SQLite and PostgreSQL, through the real account flows.

use std::time::Duration;

use oes_app::domain::accounts::Role;
use oes_app::domain::ids::OutboxId;
use oes_app::email::{EXPIRED_UNSENT, EmailError, OutboxStatus};
use oes_mail::sink::Refusal;
use serde_json::json;
use sqlx::Row;

use crate::support::{self, Auth, PASSWORD, TestApp, unique_email};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// The outbox row of one template, as stored.
struct Entry {
    id: OutboxId,
    status: String,
    params: Option<String>,
    last_error: Option<String>,
    attempts: i64,
}

/// The row of `template`, if it was written yet (an account request's email comes later).
async fn find(app: &TestApp, template: &str) -> Option<Entry> {
    let row = sqlx::query(
        "SELECT id, status, params, last_error, attempts FROM email_outbox WHERE template = $1",
    )
    .bind(template)
    .fetch_optional(app.server.state().db.pool())
    .await
    .unwrap_or_else(|e| panic!("reading the {template} row: {e}"))?;
    let id: String = row.get("id");
    Some(Entry {
        id: id.parse().expect("an outbox id"),
        status: row.get("status"),
        params: row.get("params"),
        last_error: row.get("last_error"),
        attempts: row.get("attempts"),
    })
}

async fn row(app: &TestApp, template: &str) -> Entry {
    find(app, template)
        .await
        .unwrap_or_else(|| panic!("no {template} row"))
}

/// Waits until the row of `template` exists and satisfies `done`.
async fn wait_for(app: &TestApp, template: &str, done: impl Fn(&Entry) -> bool) -> Entry {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = find(app, template).await;
        if let Some(found) = found.filter(|f| done(f)) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the {template} row never got there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn codes_and_links_that_expire_unsent_are_cleared_from_the_outbox_and_never_sent() {
    for backend in support::BACKENDS {
        let student = unique_email("stuck");
        // The first refusal puts each email's next try an hour away: rows stay QUEUED, as
        // they do while an SMTP relay is down.
        let app = TestApp::builder(backend)
            .fast_password_hashing()
            .var("EMAIL_BACKOFF_MS", "3600000")
            .user(&student, Role::User)
            .start()
            .await;
        app.sink.refuse(Refusal::transient_data());

        assert_eq!(app.signup(&unique_email("pending")).await.status, 201);
        let asked = app
            .post_anonymously("/api/auth/forgot-password", json!({ "email": student }))
            .await;
        assert_eq!(asked.status, 200);
        let session = app.login(&student, PASSWORD).await;
        let change = app
            .call(
                "POST",
                "/api/profile/email",
                Some(json!({ "newEmail": unique_email("moved"), "password": PASSWORD })),
                Auth::Bearer(&session),
            )
            .await;
        assert_eq!(change.status, 200, "{}", change.body);
        let templates = [
            "verify_email",
            "password_reset",
            "email_change_confirm",
            "email_change_notice",
        ];
        for template in templates {
            let tried = wait_for(&app, template, |r| r.attempts >= 1).await;
            assert_eq!(tried.status, "QUEUED", "{backend:?}: {template}");
            assert!(tried.params.is_some(), "{backend:?}: {template}");
        }

        // Aged past their codes' lifetimes (reset code 15 min, links 24 h), except the
        // verification link, an hour short of its own.
        for (template, age_ms) in [
            ("verify_email", 23 * HOUR_MS),
            ("password_reset", 16 * MINUTE_MS),
            ("email_change_confirm", 25 * HOUR_MS),
            ("email_change_notice", 25 * HOUR_MS),
        ] {
            sqlx::query("UPDATE email_outbox SET created_at = created_at - $1 WHERE template = $2")
                .bind(age_ms)
                .bind(template)
                .execute(app.server.state().db.pool())
                .await
                .expect("aged");
        }

        // The relay pass (every 2 s) gives them up.
        for template in ["password_reset", "email_change_confirm"] {
            let expired = wait_for(&app, template, |r| r.status != "QUEUED").await;
            assert_eq!(expired.status, "FAILED", "{backend:?}: {template}");
            assert_eq!(
                expired.params, None,
                "{backend:?}: {template} keeps its secret"
            );
            assert_eq!(
                expired.last_error.as_deref(),
                Some(EXPIRED_UNSENT),
                "{backend:?}: {template}"
            );
        }
        // One statement expires every kind, so the others were looked at in the same pass.
        for template in ["verify_email", "email_change_notice"] {
            let waiting = row(&app, template).await;
            assert_eq!(waiting.status, "QUEUED", "{backend:?}: {template}");
            assert!(waiting.params.is_some(), "{backend:?}: {template}");
        }

        // SMTP is back: a job that reaches an expired email still sends nothing.
        app.sink.accept_all();
        let emails = &app.server.state().emails;
        let reset = row(&app, "password_reset").await;
        let retried = emails.deliver(reset.id, false).await;
        assert!(
            matches!(retried, Err(EmailError::Permanent(_))),
            "{backend:?}: {retried:?}"
        );
        assert!(app.sink.messages().is_empty(), "{backend:?}");
        let status = emails.status(reset.id).await.expect("status");
        assert_eq!(status.status, OutboxStatus::Failed);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_job_that_reaches_an_expired_link_does_not_send_it() {
    for backend in support::BACKENDS {
        // No workers: this test is the worker. It acts as soon as the row is aged, so mostly
        // before the next relay pass; either way the link must not go out.
        let app = TestApp::builder(backend)
            .fast_password_hashing()
            .var("RUN_WORKERS", "false")
            .start()
            .await;
        assert_eq!(app.signup(&unique_email("late")).await.status, 201);
        app.sql(&format!(
            "UPDATE email_outbox SET created_at = created_at - {}",
            25 * HOUR_MS
        ))
        .await;
        let link = row(&app, "verify_email").await;
        let delivered = app.server.state().emails.deliver(link.id, false).await;
        assert!(
            matches!(&delivered, Err(EmailError::Permanent(_))),
            "{backend:?}: {delivered:?}"
        );
        let after = row(&app, "verify_email").await;
        assert_eq!(after.status, "FAILED");
        assert_eq!(after.params, None);
        assert_eq!(after.last_error.as_deref(), Some(EXPIRED_UNSENT));
        assert!(app.sink.messages().is_empty());
        app.stop().await;
    }
}
