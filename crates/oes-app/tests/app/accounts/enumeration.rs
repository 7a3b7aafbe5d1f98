//! Forgot-password and resend-verification do not tell registered addresses from others, by
//! their answer or by their work: the request runs the same database statements, with the same
//! row counts, whatever the address, and never reads the accounts; the email worker then sends
//! the code or link to a registered address and nothing to any other. Shown by the statements
//! themselves, as sqlx reports them, not by timing.

use std::sync::{Arc, Mutex};

use oes_app::domain::accounts::Role;
use oes_app::telemetry::REQUEST_SPAN_TARGET;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use super::reset_code;
use crate::support::{self, PASSWORD, TestApp, link_token, unique_email};

/// The statements sqlx ran inside request spans since the last `take`, one line each: the
/// statement and the rows it affected and returned.
#[derive(Clone, Default)]
struct RequestStatements(Arc<Mutex<Vec<String>>>);

impl RequestStatements {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("statement log"))
    }
}

#[derive(Default)]
struct StatementFields {
    summary: String,
    statement: String,
    rows_affected: String,
    rows_returned: String,
}

impl StatementFields {
    fn slot(&mut self, field: &Field) -> Option<&mut String> {
        match field.name() {
            "summary" => Some(&mut self.summary),
            "db.statement" => Some(&mut self.statement),
            "rows_affected" => Some(&mut self.rows_affected),
            "rows_returned" => Some(&mut self.rows_returned),
            _ => None,
        }
    }
}

impl Visit for StatementFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(slot) = self.slot(field) {
            *slot = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if let Some(slot) = self.slot(field) {
            *slot = format!("{value:?}");
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for RequestStatements
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        // Only the request's own statements: workers and sweeps run outside request spans.
        let in_request = ctx.event_scope(event).is_some_and(|mut scope| {
            scope.any(|span| span.metadata().target() == REQUEST_SPAN_TARGET)
        });
        if !in_request {
            return;
        }
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        // Short statements come as their summary alone.
        let text = if fields.statement.trim().is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        self.0.lock().expect("statement log").push(format!(
            "{} | affected {} | returned {}",
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            fields.rows_affected,
            fields.rows_returned
        ));
    }
}

/// The statements one anonymous POST of `{email}` to `path` ran, once it has answered 200.
async fn statements_of(
    app: &TestApp,
    log: &RequestStatements,
    path: &str,
    email: &str,
) -> Vec<String> {
    log.take();
    let answer = app.post_anonymously(path, json!({ "email": email })).await;
    assert_eq!(answer.status, 200, "{path} {email}: {}", answer.body);
    log.take()
}

#[tokio::test]
async fn forgot_and_resend_run_the_same_statements_whatever_the_address() {
    // The statement log is a process-wide subscriber (SQLite runs statements on threads of its
    // own), so the test has a process of its own.
    if !support::in_own_process(
        module_path!(),
        "forgot_and_resend_run_the_same_statements_whatever_the_address",
    ) {
        return;
    }
    let log = RequestStatements::default();
    tracing_subscriber::registry().with(log.clone()).init();

    for backend in support::BACKENDS {
        // No workers: a worker acting on a request while the request still runs would race its
        // last statement (marking the row queued) and make two runs differ by chance.
        let app = TestApp::builder(backend)
            .fast_password_hashing()
            .var("RUN_WORKERS", "false")
            .start()
            .await;
        let verified = unique_email("verified");
        let unverified = unique_email("unverified");
        let db = &app.server.state().db;
        support::user(db, &verified, Role::User, true).await;
        support::user(db, &unverified, Role::User, false).await;

        let path = "/api/auth/forgot-password";
        let known = statements_of(&app, &log, path, &verified).await;
        let unknown = statements_of(&app, &log, path, &unique_email("nobody")).await;
        assert!(
            known.iter().any(|s| s.contains("INSERT INTO email_outbox")),
            "{backend:?}: the request records its intent: {known:#?}"
        );
        assert_eq!(known, unknown, "{backend:?}: {path}");

        let path = "/api/auth/resend-verification";
        let pending = statements_of(&app, &log, path, &unverified).await;
        let done = statements_of(&app, &log, path, &verified).await;
        let unknown = statements_of(&app, &log, path, &unique_email("nobody")).await;
        assert_eq!(pending, unknown, "{backend:?}: {path}, unverified");
        assert_eq!(done, unknown, "{backend:?}: {path}, verified");

        for statement in known.iter().chain(&pending) {
            assert!(
                !statement.contains("users") && !statement.contains("account_tokens"),
                "{backend:?}: the request reads or writes accounts: {statement}"
            );
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn a_reset_code_reaches_a_registered_address_and_nothing_goes_to_an_unknown_one() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let known = unique_email("known");
        app.verified_user(&known, 1).await;
        let nobody = unique_email("nobody");

        for email in [&nobody, &known] {
            let asked = app
                .post_anonymously("/api/auth/forgot-password", json!({ "email": email }))
                .await;
            assert_eq!(asked.status, 200);
        }
        let code = reset_code(&app.email_to(&known, 2).await);
        app.outbox_settled().await;
        let sent: Vec<Vec<String>> = app.sink.messages().into_iter().map(|m| m.rcpt_to).collect();
        assert_eq!(sent.len(), 2, "{backend:?}: {sent:?}");
        assert!(!sent.iter().flatten().any(|r| r == &nobody), "{backend:?}");

        // The code works, and is stored only as its keyed hash.
        let raw: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM account_tokens WHERE token_hash = $1")
                .bind(&code)
                .fetch_one(app.server.state().db.pool())
                .await
                .expect("query");
        assert_eq!(raw, 0);
        let reset = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": known, "otp": code, "newPassword": "a new one 2025" }),
            )
            .await;
        assert_eq!(reset.status, 200, "{}", reset.body);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_new_verification_link_goes_only_to_an_unverified_account() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let verified = unique_email("verified");
        let unverified = unique_email("unverified");
        app.verified_user(&verified, 1).await;
        assert_eq!(app.signup(&unverified).await.status, 201);
        app.email_to(&unverified, 2).await;

        for email in [verified.clone(), unique_email("nobody"), unverified.clone()] {
            let asked = app
                .post_anonymously("/api/auth/resend-verification", json!({ "email": email }))
                .await;
            assert_eq!(asked.status, 200);
        }
        let link = link_token(&app.email_to(&unverified, 3).await, "/verify-email?token=");
        app.outbox_settled().await;
        assert_eq!(
            app.sink.messages().len(),
            3,
            "{backend:?}: one link, no more"
        );
        let verify = app
            .post_anonymously(&format!("/api/auth/verify-email/{link}"), json!({}))
            .await;
        assert_eq!(verify.status, 200, "{}", verify.body);
        app.login(&unverified, PASSWORD).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn a_reset_asked_for_just_before_the_process_stops_is_sent_by_the_next_one() {
    for backend in support::BACKENDS {
        // The embedded default: the queue lives in the process and dies with it.
        let first = TestApp::builder(backend)
            .fast_password_hashing()
            .var("RUN_WORKERS", "false")
            .start()
            .await;
        let email = unique_email("durable");
        support::user(&first.server.state().db, &email, Role::User, true).await;
        let asked = first
            .post_anonymously("/api/auth/forgot-password", json!({ "email": email }))
            .await;
        assert_eq!(asked.status, 200);
        assert!(first.sink.messages().is_empty());
        let TestApp {
            server, test_db, ..
        } = first;
        server.run_until(async {}).await.expect("stops");

        let db = test_db.migrated().await;
        let second = TestApp::builder(backend)
            .fast_password_hashing()
            .on(test_db, db)
            .start()
            .await;
        let code = reset_code(&second.email_to(&email, 1).await);
        assert_eq!(code.len(), 6);
        second.stop().await;
    }
}
