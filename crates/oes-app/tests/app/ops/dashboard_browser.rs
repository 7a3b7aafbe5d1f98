//! The queue dashboard end to end in headless Chromium (Debian's `chromium`, driven by the
//! pinned `playwright-core` in tests/browser): an admin signs in, sees a failed email job with
//! its reason, presses Retry, and sees it complete.
//!
//! Set `OES_DASHBOARD_SCREENSHOT=<path>` to keep the screenshot (docs/dashboard.png is made so).

use std::path::PathBuf;
use std::process::Command;

use super::ADMIN_EMAIL;
use crate::support::{PASSWORD, browser};
use oes_app::db::Backend;
use oes_mail::sink::Refusal;
use serde_json::Value;

#[tokio::test]
async fn an_admin_sees_a_failed_job_in_the_dashboard_and_retries_it_to_completion() {
    let dir = browser::prepared_dir();

    let app = super::start(Backend::Sqlite, &[]).await;
    let token = app.login(ADMIN_EMAIL, PASSWORD).await;
    app.sink.refuse(Refusal::permanent_rcpt());
    app.add_email_job("dashboard-job-1", "student@example.com")
        .await;
    app.wait_for_job(&token, "email", "dashboard-job-1", "failed")
        .await;
    // The SMTP server recovers; only the retry can now deliver the email.
    app.sink.accept_all();
    // Some cached reads, so that the cache panel has rates to show.
    for _ in 0..3 {
        assert_eq!(app.get("/api/profile/me", &token).await.status, 200);
    }

    let shots = tempfile::tempdir().expect("temporary directory");
    let screenshot = std::env::var_os("OES_DASHBOARD_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| shots.path().join("dashboard.png"));
    let base = app.base.clone();
    let shot = screenshot.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("dashboard.test.mjs")
            .arg(&base)
            .arg(ADMIN_EMAIL)
            .arg(PASSWORD)
            .arg(&shot)
            .current_dir(&dir)
            .output()
            .expect("node runs")
    })
    .await
    .expect("browser run finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = browser::report(&stdout, &stderr);
    assert_eq!(report["ok"], true, "{report:#}\nstderr: {stderr}");

    assert_eq!(report["loginShown"], true);
    assert!(
        report["wrongPasswordMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{report:#}"
    );
    assert_eq!(report["loggedIn"], true);
    assert_eq!(report["tokenInSessionStorage"], true);
    assert_eq!(report["failedJob"]["id"], "dashboard-job-1", "{report:#}");
    assert!(
        report["failedJob"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("550")),
        "the SMTP refusal is shown: {report:#}"
    );
    assert_eq!(report["failedJob"]["failedCount"], 1);
    let queues = report["queuesShown"].to_string();
    for name in ["email", "score-calculation", "auto-submit"] {
        assert!(queues.contains(name), "{name} shown: {queues}");
    }
    assert_eq!(report["redisMode"], "embedded");
    assert!(
        report["cacheHitRateShown"]
            .as_str()
            .is_some_and(|r| r.ends_with('%')),
        "{report:#}"
    );
    assert_eq!(report["afterRetry"]["failedCount"], 0, "{report:#}");
    assert_eq!(
        report["afterRetry"]["notice"],
        "Job dashboard-job-1 queued again"
    );
    assert!(report["afterRetry"]["completedCount"].as_u64() >= Some(1));
    assert_eq!(report["refreshesItself"], true);
    assert_eq!(report["loggedOut"], true);
    assert_eq!(report["consoleErrors"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["pageErrors"], serde_json::json!([]), "{report:#}");
    assert_eq!(
        report["errorResponses"],
        serde_json::json!(["POST /api/auth/login 401"]),
        "only the deliberately wrong password fails: {report:#}"
    );
    assert_eq!(
        report["externalRequests"],
        serde_json::json!([]),
        "nothing loads from elsewhere"
    );

    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");

    // The server agrees: the job completed and the email went out.
    app.wait_for_job(&token, "email", "dashboard-job-1", "completed")
        .await;
    let delivered = app
        .sink
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(delivered.len(), 1);
    app.stop().await;
}
