//! A notification to 10,000 addresses on Redis (BullMQ) and PostgreSQL, delivered to a local
//! SMTP sink: every address gets exactly one email, the test process's memory stays bounded,
//! and a password reset requested in the middle of the fan-out overtakes the bulk mail.
//!
//! In a process of its own: the bound is on the peak memory of the process, which the other
//! tests of this binary would share.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::notifying::start;
use crate::support::{self, Answer, Auth, user};
use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use serde_json::json;

const RECIPIENTS: usize = 10_000;
const RESET_USER: &str = "forgetful@oes.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_addresses_are_all_delivered_and_a_reset_overtakes_them() {
    if !support::in_own_process(
        module_path!(),
        "ten_thousand_addresses_are_all_delivered_and_a_reset_overtakes_them",
    ) {
        return;
    }
    let redis = support::redis_url();
    let app = start(
        Backend::Postgres,
        &[
            ("REDIS_URL", redis.as_str()),
            ("EMAIL_CONCURRENCY", "50"),
            ("DATABASE_MAX_CONNECTIONS", "20"),
        ],
    )
    .await;
    user(&app.db, RESET_USER, Role::User, true).await;
    let rss_before = peak_rss_kib();

    let addresses: Vec<String> = (0..RECIPIENTS)
        .map(|i| format!("bulk{i:05}@load.oes.test"))
        .collect();
    let started = Instant::now();
    let id = app
        .notify(json!({
            "subject": "Results are out",
            "body": "The results of the autumn exams are published.",
            "audience": "ADDRESSES",
            "addresses": addresses,
        }))
        .await;
    let accepted_in = started.elapsed();
    drop(addresses);

    // Mid fan-out: some notifications are out, most are not.
    let early = app.sink.wait_for(500, Duration::from_secs(60)).await;
    assert!(early.len() >= 500, "the fan-out did not start");
    let Answer {
        status,
        body: answer,
        ..
    } = app
        .call(
            "POST",
            "/api/auth/forgot-password",
            Some(json!({ "email": RESET_USER })),
            Auth::None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let reset_asked_after = app.sink.messages().len();

    let progress = app.wait_done(&id, Duration::from_secs(240)).await;
    let took = started.elapsed();
    assert_eq!(progress["enqueued"], RECIPIENTS, "{progress}");
    assert_eq!(progress["sent"], RECIPIENTS, "{progress}");
    assert_eq!(progress["failed"], 0, "{progress}");

    let messages = app
        .sink
        .wait_for(RECIPIENTS + 1, Duration::from_secs(30))
        .await;
    assert_eq!(messages.len(), RECIPIENTS + 1);
    let reset_at = messages
        .iter()
        .position(|m| m.rcpt_to.iter().any(|r| r == RESET_USER))
        .expect("the reset email was delivered");
    let bulk: HashSet<&str> = messages
        .iter()
        .filter_map(|m| m.rcpt_to.first().map(String::as_str))
        .filter(|r| *r != RESET_USER)
        .collect();
    assert_eq!(
        bulk.len(),
        RECIPIENTS,
        "every address got exactly one email"
    );
    let bulk_after_reset = messages.len() - 1 - reset_at;
    assert!(
        bulk_after_reset > 0,
        "the reset email came after the whole fan-out (position {reset_at})"
    );
    let rss_after = peak_rss_kib();
    eprintln!(
        "notification to {RECIPIENTS} addresses: accepted in {accepted_in:?}, all delivered in {took:?}; \
         reset requested when {reset_asked_after} were delivered, delivered at position {reset_at} \
         with {bulk_after_reset} notification emails still behind it; \
         peak RSS (VmHWM) of the test process: {rss_before:?} KiB before, {rss_after:?} KiB after"
    );
    // Generous: the whole test process (server, sink holding 10,001 messages, client).
    if let Some(kib) = rss_after {
        assert!(kib < 1024 * 1024, "peak RSS {kib} KiB");
    }
    app.stop().await;
}

/// Peak resident set of this process, from /proc (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
