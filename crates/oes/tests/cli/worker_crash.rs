//! A worker process killed in the middle of sending an email: the job comes back to another
//! worker through BullMQ's stalled-job check and the email is delivered once.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use oes_app::Services;
use oes_app::email::{EmailMessage, OutboxStatus};
use oes_mail::sink::{Refusal, SmtpSink, Stage};

fn env_vars(db_url: &str, smtp: &str, prefix: &str) -> Vec<(String, String)> {
    let redis = crate::support::redis_url();
    [
        ("DATABASE_URL", db_url),
        ("REDIS_URL", redis.as_str()),
        ("QUEUE_PREFIX", prefix),
        ("SMTP_URL", smtp),
        ("MAIL_FROM", "exams@oes.test"),
        ("JOB_LOCK_MS", "1000"),
        ("JOB_STALLED_INTERVAL_MS", "500"),
        ("EMAIL_BACKOFF_MS", "50"),
        ("RUST_LOG", "warn"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn spawn_worker(dir: &std::path::Path, vars: &[(String, String)]) -> Child {
    crate::support::oes(dir)
        .arg("worker")
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .spawn()
        .expect("oes worker starts")
}

#[tokio::test]
async fn a_worker_killed_mid_send_loses_its_email_to_another_worker_which_delivers_it_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = format!("sqlite://{}/oes.db", dir.path().display());
    let sink = SmtpSink::start().await.expect("sink");
    // The first worker's send hangs at DATA, so it is killed mid-job.
    sink.refuse(Refusal::Stall { stage: Stage::Data });
    let prefix = format!("oes-test-{}", uuid::Uuid::new_v4().simple());
    let vars = env_vars(&db_url, &sink.url(), &prefix);

    // The producer side: this process writes the outbox row and enqueues it, running no workers.
    let map: HashMap<String, String> = vars
        .iter()
        .cloned()
        .chain([("RUN_WORKERS".to_owned(), "false".to_owned())])
        .collect();
    let config = oes_app::Config::from_lookup(|k| map.get(k).cloned()).expect("config");
    let services = Services::start(config).await.expect("services");
    let state = services.state.clone();
    while state.jobs.backend().await.is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut tx = state.begin().await.expect("begin");
    let id = tx
        .send_email(
            "student@example.com",
            &EmailMessage::PasswordChanged {
                name: "Asha".into(),
                at_ms: 0,
                ip: "127.0.0.1".into(),
                user_agent: "test".into(),
            },
        )
        .await
        .expect("queued");
    tx.commit().await.expect("commit and queue");

    let mut first = spawn_worker(dir.path(), &vars);
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.connections() == 0 {
        assert!(
            Instant::now() < deadline,
            "the first worker never started sending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.kill().expect("SIGKILL the worker");
    let _ = first.wait();
    let killed_at = Instant::now();
    assert_eq!(
        state
            .emails
            .outbox_row(id)
            .await
            .expect("row")
            .expect("exists")
            .status,
        OutboxStatus::Queued
    );

    sink.accept_all();
    let mut second = spawn_worker(dir.path(), &vars);
    let received = sink.wait_for(1, Duration::from_secs(30)).await;
    eprintln!(
        "the killed worker's email was delivered {:?} after the kill",
        killed_at.elapsed()
    );
    assert_eq!(received.len(), 1, "the email was not recovered");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = state
            .emails
            .outbox_row(id)
            .await
            .expect("row")
            .expect("exists");
        if row.status == OutboxStatus::Sent {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox row was not marked sent: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 1, "delivered more than once");

    let _ = second.kill();
    let _ = second.wait();
    services.stop().await;
    let redis_url = crate::support::redis_url();
    if let Ok(client) = redis::Client::open(redis_url)
        && let Ok(mut conn) = client.get_multiplexed_async_connection().await
    {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
        }
    }
}
