//! Email pipeline figures (run: `cargo bench -p oes-app --bench email_pipeline`; needs Redis at
//! OES_TEST_REDIS_URL, default 127.0.0.1:6379):
//! - time for `send_email` + commit (which queues it) to return, p50/p99 over 1,000 calls, in embedded
//!   and Redis (BullMQ) mode, workers off so only the request path is measured;
//! - delivery throughput into a local SMTP sink at email concurrency 5 and 50.

use std::time::{Duration, Instant};

use oes_app::RunningServer;
use oes_app::email::EmailMessage;
use oes_mail::sink::SmtpSink;

const CALLS: usize = 1000;

fn config(dir: &std::path::Path, smtp: &str, extra: &[(&str, &str)]) -> oes_app::Config {
    let db = format!("sqlite://{}/bench.db", dir.display());
    let mut vars: std::collections::HashMap<String, String> = [
        ("PORT", "0"),
        ("HOST", "127.0.0.1"),
        ("DATABASE_URL", db.as_str()),
        ("SMTP_URL", smtp),
        ("MAIL_FROM", "bench@oes.test"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    oes_app::Config::from_lookup(|k| vars.get(k).cloned()).expect("bench configuration")
}

fn message(i: usize) -> EmailMessage {
    EmailMessage::VerifyEmail {
        name: format!("Student {i}"),
        link: format!("https://oes.test/verify-email?token={i}"),
    }
}

async fn enqueue_latency(label: &str, extra: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start().await.expect("sink");
    let mut vars = vec![("RUN_WORKERS", "false")];
    vars.extend_from_slice(extra);
    let server = RunningServer::start(config(dir.path(), &sink.url(), &vars), axum::Router::new())
        .await
        .expect("server");
    let state = server.state().clone();
    while state.jobs.backend().await.is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut samples = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let started = Instant::now();
        let mut tx = state.begin().await.expect("begin");
        tx.send_email("student@example.com", &message(i))
            .await
            .expect("queued");
        tx.commit().await.expect("commit and queue");
        samples.push(started.elapsed());
    }
    samples.sort();
    println!(
        "send_email+commit (queued on commit) ({label}): p50 {:?}, p99 {:?}, max {:?} over {CALLS} calls",
        samples[CALLS / 2],
        samples[CALLS * 99 / 100],
        samples[CALLS - 1]
    );
    server.run_until(async {}).await.expect("stop");
}

async fn throughput(label: &str, concurrency: &str, count: usize, extra: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start().await.expect("sink");
    // Fill the outbox with workers off, then start a process with workers on and time delivery.
    let mut off = vec![("RUN_WORKERS", "false")];
    off.extend_from_slice(extra);
    let filler = RunningServer::start(config(dir.path(), &sink.url(), &off), axum::Router::new())
        .await
        .expect("server");
    let state = filler.state().clone();
    while state.jobs.backend().await.is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // In embedded mode the filler's queue dies with it; the next process's relay re-adds every
    // unsent row at start-up, which is what this measures there.
    for i in 0..count {
        let mut tx = state.begin().await.expect("begin");
        tx.send_email("student@example.com", &message(i))
            .await
            .expect("queued");
        tx.commit().await.expect("commit and queue");
    }
    filler.run_until(async {}).await.expect("stop");

    let mut on = vec![("EMAIL_CONCURRENCY", concurrency)];
    on.extend_from_slice(extra);
    let started = Instant::now();
    let worker = RunningServer::start(config(dir.path(), &sink.url(), &on), axum::Router::new())
        .await
        .expect("server");
    let got = sink.wait_for(count, Duration::from_secs(300)).await.len();
    let took = started.elapsed();
    println!(
        "delivery into a local SMTP sink ({label}, concurrency {concurrency}): {got}/{count} in {took:.2?} = {:.0} emails/s",
        got as f64 / took.as_secs_f64()
    );
    worker.run_until(async {}).await.expect("stop");
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let redis =
        std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("oes-bench-{}", std::process::id());
    rt.block_on(async {
        enqueue_latency("embedded, SQLite", &[]).await;
        enqueue_latency(
            "Redis/BullMQ, SQLite",
            &[("REDIS_URL", &redis), ("QUEUE_PREFIX", &prefix)],
        )
        .await;
        for concurrency in ["5", "50"] {
            let p = format!("{prefix}-{concurrency}");
            throughput(
                "Redis/BullMQ",
                concurrency,
                2000,
                &[("REDIS_URL", &redis), ("QUEUE_PREFIX", &p)],
            )
            .await;
        }
        for concurrency in ["5", "50"] {
            throughput("embedded", concurrency, 2000, &[]).await;
        }
    });
    remove_keys(&redis, &prefix);
}

/// Leaves the shared Redis as it was: every key under the benchmark's prefixes goes.
fn remove_keys(redis_url: &str, prefix: &str) {
    let Ok(mut conn) = redis::Client::open(redis_url).and_then(|c| c.get_connection()) else {
        return;
    };
    let keys: Vec<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("MATCH")
        .arg(format!("{prefix}*"))
        .arg("COUNT")
        .arg(1000)
        .clone()
        .iter(&mut conn)
        .map(|iter| iter.filter_map(Result::ok).collect())
        .unwrap_or_default();
    for chunk in keys.chunks(500) {
        let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(chunk).query(&mut conn);
    }
}
