//! How long `forgot-password` and `resend-verification` take for a registered address against
//! an unknown one, over HTTP on loopback, and how well one request's time tells them apart.
//!
//! Run: `cargo run -p oes-app --example account_timing [-- REQUESTS [no-workers]]` (default
//! 1,000 per path; `no-workers` measures the request path with nothing acting on what it queues).
//!
//! It starts the app as `oes serve` runs by default (SQLite, in-process queue and workers) with
//! emails going to a local SMTP sink and the rate limits raised, creates one verified and one
//! unverified account, then sends the requests one at a time with the known and the unknown
//! address in random order, pausing between them so that a worker's email does not land on the
//! next request's clock. It prints, per endpoint, the median and 90th percentile of each path
//! and the accuracy of the best single threshold on one request's time (50 % is a coin toss).
//! A figure, not a test: timing assertions have no place in the test suite.

use std::time::{Duration, Instant};

use oes_app::RunningServer;
use oes_app::domain::accounts::Role;
use oes_mail::sink::SmtpSink;
use rand::Rng;

const PAUSE: Duration = Duration::from_millis(3);

fn config(dir: &std::path::Path, smtp: &str, workers: bool) -> oes_app::Config {
    let db = format!("sqlite://{}/timing.db", dir.display());
    let workers = if workers { "true" } else { "false" };
    let vars: std::collections::HashMap<&str, String> = [
        ("RUN_WORKERS", workers),
        ("PORT", "0"),
        ("HOST", "127.0.0.1"),
        ("DATABASE_URL", db.as_str()),
        ("SMTP_URL", smtp),
        ("APP_BASE_URL", "http://app.oes.test"),
        ("RATE_LIMIT_PER_IP", "1000000000"),
        ("RATE_LIMIT_PER_ACCOUNT", "1000000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    oes_app::Config::from_lookup(|k| vars.get(k).cloned()).expect("configuration")
}

/// One request's time, from sending to the whole answer read.
async fn time_one(client: &reqwest::Client, url: &str, email: &str) -> Duration {
    let started = Instant::now();
    let answer = client
        .post(url)
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await
        .expect("the server answers");
    let status = answer.status();
    let _ = answer.bytes().await;
    let took = started.elapsed();
    assert_eq!(status.as_u16(), 200, "{url} for {email}");
    took
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn p90(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() * 9 / 10]
}

/// The accuracy of the best rule "slower than t means registered" (or its reverse) over both
/// samples: what an attacker who knows the two distributions gets from one request.
fn best_threshold_accuracy(known: &[Duration], unknown: &[Duration]) -> f64 {
    let mut all: Vec<(Duration, bool)> = known
        .iter()
        .map(|d| (*d, true))
        .chain(unknown.iter().map(|d| (*d, false)))
        .collect();
    all.sort();
    let total = all.len() as f64;
    // Threshold below everything: every request is called "registered".
    let mut known_above = known.len();
    let mut unknown_above = unknown.len();
    let mut best = 0.0f64;
    for (_, is_known) in &all {
        let right = (known_above + (unknown.len() - unknown_above)) as f64 / total;
        best = best.max(right).max(1.0 - right);
        if *is_known {
            known_above -= 1;
        } else {
            unknown_above -= 1;
        }
    }
    best
}

async fn measure(
    client: &reqwest::Client,
    url: &str,
    known: &str,
    requests: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let mut known_times = Vec::with_capacity(requests);
    let mut unknown_times = Vec::with_capacity(requests);
    for i in 0..requests {
        let unknown = format!("nobody-{i}-{}@example.org", std::process::id());
        let known_first = rand::rng().random_bool(0.5);
        for known_turn in [known_first, !known_first] {
            if known_turn {
                known_times.push(time_one(client, url, known).await);
            } else {
                unknown_times.push(time_one(client, url, &unknown).await);
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    known_times.sort();
    unknown_times.sort();
    (known_times, unknown_times)
}

fn report(label: &str, known: &[Duration], unknown: &[Duration]) {
    println!(
        "{label}: known median {:.3} ms (p90 {:.3}), unknown median {:.3} ms (p90 {:.3}), \
         best single-request accuracy {:.1} % over {} + {} requests",
        median(known).as_secs_f64() * 1e3,
        p90(known).as_secs_f64() * 1e3,
        median(unknown).as_secs_f64() * 1e3,
        p90(unknown).as_secs_f64() * 1e3,
        best_threshold_accuracy(known, unknown) * 100.0,
        known.len(),
        unknown.len(),
    );
}

fn main() {
    let requests: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("REQUESTS is a number"))
        .unwrap_or(1000);
    // `no-workers`: the request path alone, with nothing acting on what it queued.
    let workers = std::env::args().nth(2).as_deref() != Some("no-workers");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sink = SmtpSink::start().await.expect("smtp sink");
        let server = RunningServer::start(
            config(dir.path(), &sink.url(), workers),
            axum::Router::new(),
        )
        .await
        .expect("server starts");
        let db = server.state().db.clone();
        let verified = "verified@example.org";
        let unverified = "unverified@example.org";
        for (email, is_verified) in [(verified, true), (unverified, false)] {
            oes_app::service::accounts::create_user(
                &db,
                oes_app::domain::accounts::PasswordPolicy::default(),
                email,
                "Asha Rao",
                "correct horse 42",
                Role::User,
                is_verified,
            )
            .await
            .expect("account created");
        }
        let base = format!("http://{}", server.local_addr());
        let client = reqwest::Client::new();
        let forgot = format!("{base}/api/auth/forgot-password");
        let resend = format!("{base}/api/auth/resend-verification");
        // Warm-up: connections, prepared statements, the first pages of the database.
        measure(&client, &forgot, verified, 50).await;
        measure(&client, &resend, unverified, 50).await;

        let (known, unknown) = measure(&client, &forgot, verified, requests).await;
        report("forgot-password (verified vs unknown)", &known, &unknown);
        let (known, unknown) = measure(&client, &resend, unverified, requests).await;
        report(
            "resend-verification (unverified vs unknown)",
            &known,
            &unknown,
        );
        server.run_until(async {}).await.expect("server stops");
    });
}
