//! The email pipeline end to end: outbox row on a transaction → `email` queue → worker → SMTP
//! over TCP into a local sink. Embedded mode and Redis (BullMQ) mode, and Redis dying on the way.

use std::time::{Duration, Instant};

use crate::support::{self, OwnRedis, TestDb};
use oes_app::db::Backend;
use oes_app::domain::ids::OutboxId;
use oes_app::email::{Delivery, EmailMessage, OutboxRow, OutboxStatus};
use oes_app::queue::{Job, SendEmail};
use oes_app::{AppState, RunningServer};
use oes_mail::sink::{Refusal, SmtpSink};

const WAIT: Duration = Duration::from_secs(20);

fn reset_message(code: &str) -> EmailMessage {
    EmailMessage::PasswordReset {
        name: "Asha <b>Rao</b>".into(),
        code: code.into(),
    }
}

/// What a service does: the email sent on its unit of work, queued when that commits.
async fn queue_email(state: &AppState, to: &str, message: &EmailMessage) -> OutboxId {
    let mut tx = state.begin().await.expect("begin");
    let id = tx.send_email(to, message).await.expect("outbox row");
    tx.commit().await.expect("commit and queue");
    id
}

async fn server(db: &TestDb, sink: &SmtpSink, extra: &[(&str, &str)]) -> RunningServer {
    let url = sink.url();
    let mut vars = vec![
        ("SMTP_URL", url.as_str()),
        ("MAIL_FROM", "OES <exams@oes.test>"),
        ("EMAIL_BACKOFF_MS", "50"),
    ];
    vars.extend_from_slice(extra);
    RunningServer::start(support::config(&db.url, &vars), axum::Router::new())
        .await
        .expect("server starts")
}

fn unique_prefix() -> String {
    format!("oes-test-{}", uuid::Uuid::new_v4().simple())
}

async fn wait_for_status(state: &AppState, id: OutboxId, want: OutboxStatus) -> OutboxRow {
    let deadline = Instant::now() + WAIT;
    loop {
        let row = state
            .emails
            .outbox_row(id)
            .await
            .expect("read")
            .expect("row exists");
        if row.status == want || Instant::now() > deadline {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_queued_email_arrives_over_smtp_with_both_bodies_on_both_backends() {
    for backend in support::BACKENDS {
        let db = TestDb::new(backend).await;
        let sink = SmtpSink::start().await.expect("sink");
        let server = server(&db, &sink, &[]).await;
        let state = server.state().clone();

        let id = queue_email(&state, "student@example.com", &reset_message("482913")).await;

        let received = sink.wait_for(1, WAIT).await;
        assert_eq!(received.len(), 1, "{backend:?}: nothing arrived");
        let message = &received[0];
        assert_eq!(message.mail_from, "exams@oes.test");
        assert_eq!(message.rcpt_to, ["student@example.com"]);
        let parsed = message.parse();
        assert_eq!(parsed.subject().as_deref(), Some("Password Reset OTP"));
        let html = parsed.html().expect("an HTML part");
        let text = parsed.text().expect("a text part");
        assert!(html.contains("482913") && text.contains("482913"));
        assert!(
            html.contains("Rao") && !html.contains("<b>Rao"),
            "the name was not escaped: {html}"
        );

        let row = wait_for_status(&state, id, OutboxStatus::Sent).await;
        assert_eq!(row.status, OutboxStatus::Sent, "{backend:?}");
        assert!(
            row.params.is_none(),
            "the one-time code outlived its use in the outbox"
        );
        assert!(row.sent_at.is_some());
        server.run_until(async {}).await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn redis_mode_delivers_through_bullmq_and_keeps_no_secret_in_the_job() {
    let db = TestDb::new(Backend::Postgres).await;
    let sink = SmtpSink::start().await.expect("sink");
    let prefix = unique_prefix();
    let _cleanup = support::RedisCleanup::new([prefix.clone()]);
    let redis = support::redis_url();
    let server = server(
        &db,
        &sink,
        &[("REDIS_URL", &redis), ("QUEUE_PREFIX", &prefix)],
    )
    .await;
    let state = server.state().clone();

    let id = queue_email(&state, "student@example.com", &reset_message("111222")).await;
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
    wait_for_status(&state, id, OutboxStatus::Sent).await;

    let status = state.emails.status(id).await.expect("status");
    assert_eq!(status.status, OutboxStatus::Sent);
    // The job's data names the outbox row only: the code never sat in Redis.
    let backend = state.jobs.backend().await.expect("connected");
    if let Some(job) = backend
        .job(SendEmail::QUEUE.name(), &SendEmail::outbox_job_id(id))
        .await
        .expect("job lookup")
    {
        assert!(!job.data.to_string().contains("111222"), "{}", job.data);
    }
    server.run_until(async {}).await.expect("clean shutdown");
}

#[tokio::test]
async fn a_refusing_smtp_server_fails_the_email_after_three_tries_with_the_reason() {
    let db = TestDb::new(Backend::Sqlite).await;
    let sink = SmtpSink::start().await.expect("sink");
    sink.refuse(Refusal::transient_data());
    let prefix = unique_prefix();
    let _cleanup = support::RedisCleanup::new([prefix.clone()]);
    let redis = support::redis_url();
    let server = server(
        &db,
        &sink,
        &[("REDIS_URL", &redis), ("QUEUE_PREFIX", &prefix)],
    )
    .await;
    let state = server.state().clone();

    let id = queue_email(&state, "student@example.com", &reset_message("999000")).await;

    let row = wait_for_status(&state, id, OutboxStatus::Failed).await;
    assert_eq!(row.status, OutboxStatus::Failed);
    assert_eq!(row.attempts, 3);
    let reason = row.last_error.expect("a reason");
    assert!(reason.contains("451"), "{reason}");
    // The queue agrees: the job failed after three tries, and kept its reason.
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status = state.emails.status(id).await.expect("status");
        if status.queue_state.as_deref() == Some("failed") || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.queue_state.as_deref(), Some("failed"));
    assert_eq!(status.job_attempts_made, Some(3));
    assert!(sink.messages().is_empty());
    server.run_until(async {}).await.expect("clean shutdown");
}

#[tokio::test]
async fn a_permanent_refusal_is_not_retried() {
    let db = TestDb::new(Backend::Sqlite).await;
    let sink = SmtpSink::start().await.expect("sink");
    sink.refuse(Refusal::permanent_rcpt());
    let server = server(&db, &sink, &[]).await;
    let state = server.state().clone();
    let id = queue_email(&state, "nobody@example.com", &reset_message("000111")).await;
    let row = wait_for_status(&state, id, OutboxStatus::Failed).await;
    assert_eq!((row.status, row.attempts), (OutboxStatus::Failed, 1));
    assert!(row.last_error.unwrap_or_default().contains("550"));
}

#[tokio::test]
async fn an_email_that_fails_for_good_forgets_its_secret_and_a_retry_cannot_send_it() {
    for (refusal, tries) in [
        (Refusal::transient_data(), 3),
        (Refusal::permanent_rcpt(), 1),
    ] {
        let db = TestDb::new(Backend::Sqlite).await;
        let sink = SmtpSink::start().await.expect("sink");
        sink.refuse(refusal);
        let server = server(&db, &sink, &[]).await;
        let state = server.state().clone();
        let id = queue_email(&state, "student@example.com", &reset_message("271828")).await;

        let row = wait_for_status(&state, id, OutboxStatus::Failed).await;
        assert_eq!((row.status, row.attempts), (OutboxStatus::Failed, tries));
        assert_eq!(row.params, None, "the reset code outlived the email");
        assert!(!row.last_error.unwrap_or_default().contains("271828"));

        // A retried job (an operator's retry) cannot rebuild the email, even once SMTP accepts.
        sink.accept_all();
        let retried = state.emails.deliver(id, true).await;
        assert!(
            matches!(retried, Err(oes_app::email::EmailError::Permanent(_))),
            "{retried:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(sink.messages().is_empty());
        server.run_until(async {}).await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn a_redelivered_job_whose_row_was_sent_sends_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let sink = SmtpSink::start().await.expect("sink");
    // No worker: this test is the worker, delivering the row itself.
    let server = server(&db, &sink, &[("RUN_WORKERS", "false")]).await;
    let state = server.state().clone();
    let id = queue_email(&state, "student@example.com", &reset_message("123123")).await;
    // Delivered directly, as a worker does, twice (a redelivery after a crash).
    assert_eq!(
        state.emails.deliver(id, false).await.expect("first"),
        Delivery::Sent
    );
    assert_eq!(
        state.emails.deliver(id, false).await.expect("second"),
        Delivery::AlreadySent
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn node_shaped_jobs_are_delivered_with_a_text_alternative() {
    let db = TestDb::new(Backend::Sqlite).await;
    let sink = SmtpSink::start().await.expect("sink");
    let server = server(&db, &sink, &[]).await;
    let state = server.state().clone();
    // Added as the Node system adds it: `{to, subject, html}` under `email` / `send-email`.
    let backend = state.jobs.backend().await.expect("connected");
    backend
        .add(
            "email",
            "send-email",
            serde_json::json!({"to": "legacy@example.com", "subject": "From Node", "html": "<p>Hello <b>there</b></p>"}),
            &oes_jobs::JobOptions::default(),
        )
        .await
        .expect("added");
    let received = sink.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let parsed = received[0].parse();
    assert_eq!(parsed.subject().as_deref(), Some("From Node"));
    assert!(parsed.html().expect("html").contains("<b>there</b>"));
    assert_eq!(parsed.text().expect("text").trim(), "Hello there");
}

#[tokio::test]
async fn unsent_rows_are_resumed_after_a_restart_in_embedded_mode() {
    let db = TestDb::new(Backend::Sqlite).await;
    let sink = SmtpSink::start().await.expect("sink");
    let id = {
        // Workers off: the row is committed and queued in memory, then the process "dies".
        let first = server(&db, &sink, &[("RUN_WORKERS", "false")]).await;
        let state = first.state().clone();
        let id = queue_email(&state, "student@example.com", &reset_message("777888")).await;
        first.run_until(async {}).await.expect("stops");
        id
    };
    assert!(sink.messages().is_empty());
    let second = server(&db, &sink, &[]).await;
    assert_eq!(
        sink.wait_for(1, WAIT).await.len(),
        1,
        "the unsent email was not resumed"
    );
    assert_eq!(
        wait_for_status(second.state(), id, OutboxStatus::Sent)
            .await
            .status,
        OutboxStatus::Sent
    );
}

#[tokio::test]
async fn an_email_queued_while_redis_is_down_is_delivered_when_it_returns() {
    let db = TestDb::new(Backend::Sqlite).await;
    let sink = SmtpSink::start().await.expect("sink");
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let server = server(
        &db,
        &sink,
        &[("REDIS_URL", &url), ("QUEUE_PREFIX", "oes-test")],
    )
    .await;
    let state = server.state().clone();
    // Wait until the queue backend is connected, so this tests losing Redis, not starting without it.
    let deadline = Instant::now() + WAIT;
    while state.jobs.backend().await.is_none() {
        assert!(Instant::now() < deadline, "jobs never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    redis.stop();
    let started = Instant::now();
    let id = queue_email(&state, "student@example.com", &reset_message("555666")).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "queueing blocked on the dead Redis for {took:?}"
    );
    assert!(sink.messages().is_empty());

    redis.restart();
    let back = Instant::now();
    assert_eq!(
        sink.wait_for(1, Duration::from_secs(30)).await.len(),
        1,
        "never delivered after Redis returned"
    );
    eprintln!(
        "email queued during the outage delivered {:?} after Redis returned",
        back.elapsed()
    );
    assert_eq!(
        wait_for_status(&state, id, OutboxStatus::Sent).await.status,
        OutboxStatus::Sent
    );

    // And new jobs are picked up promptly after the restart.
    let picked = Instant::now();
    queue_email(&state, "second@example.com", &reset_message("101010")).await;
    assert_eq!(sink.wait_for(2, Duration::from_secs(30)).await.len(), 2);
    eprintln!(
        "a new email after the Redis restart was delivered in {:?}",
        picked.elapsed()
    );
    server.run_until(async {}).await.expect("clean shutdown");
}
