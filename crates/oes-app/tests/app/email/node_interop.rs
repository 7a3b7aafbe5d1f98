//! Node BullMQ (pinned in crates/oes-jobs/tests/node) adds `send-email` jobs shaped like the
//! seed's `{to, subject, html}`; the app's email worker delivers them over SMTP.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support::{self, TestDb};
use oes_app::RunningServer;
use oes_app::db::Backend;
use oes_mail::sink::SmtpSink;

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../oes-jobs/tests/node")
}

fn node(script: &str, args: &[&str]) -> serde_json::Value {
    let dir = node_dir();
    if !dir.join("node_modules/bullmq").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm runs (install Node and npm, or run scripts/test)");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .env("REDIS_URL", support::redis_url())
        .current_dir(&dir)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "node {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

#[tokio::test]
async fn jobs_from_node_bullmq_are_delivered_by_the_rust_email_worker() {
    let db = TestDb::new(Backend::Sqlite).await;
    let sink = SmtpSink::start().await.expect("sink");
    let prefix = format!("oes-test-{}", uuid::Uuid::new_v4().simple());
    let _cleanup = support::RedisCleanup::new([prefix.clone()]);
    let redis = support::redis_url();
    let smtp = sink.url();
    let server = RunningServer::start(
        support::config(
            &db.url,
            &[
                ("REDIS_URL", &redis),
                ("QUEUE_PREFIX", &prefix),
                ("SMTP_URL", &smtp),
            ],
        ),
        axum::Router::new(),
    )
    .await
    .expect("server starts");

    let produced = node("producer.mjs", &[&prefix, "3"]);
    let ids = produced["ids"].as_array().expect("ids").len();
    assert_eq!(ids, 3);

    let received = sink.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(
        received.len(),
        3,
        "the Rust worker did not deliver Node's jobs"
    );
    let mut subjects: Vec<String> = received
        .iter()
        .map(|m| m.parse().subject().unwrap_or_default())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        ["Exam result 0", "Exam result 1", "Exam result 2"]
    );
    let first = received
        .iter()
        .find(|m| m.rcpt_to == ["student0@example.com"])
        .expect("student0's email");
    assert!(first.parse().html().expect("html").contains("Score 0"));

    // Node reads the outcome back: all three completed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = node("inspect.mjs", &[&prefix, "email"]);
        if seen["counts"]["completed"] == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Node does not see 3 completed jobs: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.run_until(async {}).await.expect("stops");
}
