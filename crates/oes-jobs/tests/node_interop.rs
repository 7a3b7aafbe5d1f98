//! Interoperability with Node BullMQ itself, both directions (tests/node: bullmq and ioredis
//! pinned in package-lock.json, installed with `npm ci` when missing).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{Act, PrefixGuard, Recorder, redis_url, steady_worker, unique_prefix, wait_until};
use oes_jobs::{JobOptions, JobQueue, JobState, RedisJobs};
use serde_json::{Value, json};

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Installs the pinned Node packages once per test binary.
fn ensure_node_modules() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let dir = node_dir();
        if ["bullmq", "ioredis"]
            .iter()
            .all(|p| dir.join("node_modules").join(p).exists())
        {
            return;
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `npm ci` in {}: {e} (is npm installed?)",
                    dir.display()
                )
            });
        assert!(
            out.status.success(),
            "`npm ci` failed in {}:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

fn run_node(script: &str, args: &[&str]) -> Value {
    ensure_node_modules();
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .env("REDIS_URL", redis_url())
        .current_dir(node_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node {script}: {e}"));
    assert!(
        out.status.success(),
        "node {script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "node {script} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

async fn backend() -> (Arc<dyn JobQueue>, PrefixGuard) {
    let prefix = unique_prefix();
    let jobs = RedisJobs::connect(&redis_url(), &prefix).await.unwrap();
    (
        Arc::new(jobs),
        PrefixGuard {
            url: redis_url(),
            prefix,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_email_jobs_from_a_node_producer_are_processed_by_the_rust_worker() {
    let (jobs, guard) = backend().await;
    let rec = Recorder::ok();
    let worker = jobs
        .start_worker("email", rec.clone(), steady_worker(5))
        .await
        .unwrap();

    let produced = tokio::task::spawn_blocking({
        let prefix = guard.prefix.clone();
        move || run_node("producer.mjs", &[&prefix, "3"])
    })
    .await
    .unwrap();
    let ids: Vec<String> = produced["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("string id").to_string())
        .collect();
    assert_eq!(ids.len(), 3);

    wait_until(
        "all Node jobs ran in Rust",
        Duration::from_secs(20),
        || async { rec.succeeded().len() == 3 },
    )
    .await;
    for (i, id) in ids.iter().enumerate() {
        let call = rec.calls_for(id).pop().expect("job handled");
        assert_eq!(call.name, "send-email");
        assert_eq!(
            call.data,
            json!({"to": format!("student{i}@example.com"), "subject": format!("Exam result {i}"), "html": format!("<p>Score {i}</p>")})
        );
        let info = jobs.job("email", id).await.unwrap().unwrap();
        assert_eq!(info.state, JobState::Completed);
    }
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_added_by_rust_are_counted_and_read_by_node() {
    let (jobs, guard) = backend().await;
    let data = json!({"to": "a@example.com", "subject": "Welcome", "html": "<p>Hi</p>"});
    jobs.add(
        "email",
        "send-email",
        data.clone(),
        &JobOptions::with_id("outbox-1"),
    )
    .await
    .unwrap();
    jobs.add("email", "send-email", data.clone(), &JobOptions::default())
        .await
        .unwrap();
    let urgent = JobOptions {
        priority: Some(1),
        ..JobOptions::with_id("outbox-urgent")
    };
    jobs.add("email", "send-email", data.clone(), &urgent)
        .await
        .unwrap();
    let later = JobOptions {
        delay: Some(Duration::from_secs(3600)),
        ..JobOptions::with_id("outbox-later")
    };
    jobs.add("email", "send-email", data.clone(), &later)
        .await
        .unwrap();

    // One failed job, failed by the Rust worker, on a separate queue so the others stay put.
    let failing = Recorder::new(|_, _| Act::Fatal("mailbox unavailable".into()));
    let worker = jobs
        .start_worker("bounce", failing, steady_worker(1))
        .await
        .unwrap();
    jobs.add(
        "bounce",
        "send-email",
        data.clone(),
        &JobOptions::with_id("outbox-bad"),
    )
    .await
    .unwrap();
    wait_until("job failed", Duration::from_secs(20), || async {
        jobs.job("bounce", "outbox-bad")
            .await
            .unwrap()
            .map(|j| j.state)
            == Some(JobState::Failed)
    })
    .await;
    worker.shutdown(Duration::from_secs(5)).await.unwrap();

    let prefix = guard.prefix.clone();
    let email = tokio::task::spawn_blocking(move || {
        run_node(
            "inspect.mjs",
            &[
                &prefix,
                "email",
                "outbox-1",
                "outbox-urgent",
                "outbox-later",
            ],
        )
    })
    .await
    .unwrap();
    let rust_counts = jobs.counts("email").await.unwrap();
    let counts = &email["counts"];
    assert_eq!(counts["waiting"], json!(rust_counts.waiting));
    assert_eq!(counts["prioritized"], json!(rust_counts.prioritized));
    assert_eq!(counts["delayed"], json!(rust_counts.delayed));
    assert_eq!(
        (
            rust_counts.waiting,
            rust_counts.prioritized,
            rust_counts.delayed
        ),
        (2, 1, 1)
    );

    let first = &email["jobs"]["outbox-1"];
    assert_eq!(first["name"], "send-email");
    assert_eq!(first["data"], data);
    assert_eq!(first["state"], "waiting");
    assert_eq!(first["opts"]["attempts"], 3);
    assert_eq!(
        first["opts"]["backoff"],
        json!({"type": "exponential", "delay": 2000})
    );
    assert_eq!(first["opts"]["removeOnComplete"]["age"], 3600);
    assert_eq!(email["jobs"]["outbox-urgent"]["priority"], 1);
    assert_eq!(email["jobs"]["outbox-urgent"]["state"], "prioritized");
    assert_eq!(email["jobs"]["outbox-later"]["delay"], 3_600_000);
    assert_eq!(email["jobs"]["outbox-later"]["state"], "delayed");

    let prefix = guard.prefix.clone();
    let bounce = tokio::task::spawn_blocking(move || {
        run_node("inspect.mjs", &[&prefix, "bounce", "outbox-bad"])
    })
    .await
    .unwrap();
    assert_eq!(bounce["counts"]["failed"], 1);
    let bad = &bounce["jobs"]["outbox-bad"];
    assert_eq!(bad["state"], "failed");
    assert_eq!(bad["failedReason"], "mailbox unavailable");
    assert_eq!(bad["attemptsMade"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_worker_runs_rust_jobs_with_their_retry_options() {
    let (jobs, guard) = backend().await;
    let data = json!({"attemptId": 41});
    let opts = JobOptions {
        attempts: 2,
        backoff: oes_jobs::Backoff::Fixed {
            delay: Duration::from_millis(100),
        },
        ..JobOptions::with_id("attempt-41")
    };
    jobs.add("score-calculation", "calculate-score", data.clone(), &opts)
        .await
        .unwrap();

    let prefix = guard.prefix.clone();
    let seen = tokio::task::spawn_blocking(move || {
        run_node("worker.mjs", &[&prefix, "score-calculation", "1"])
    })
    .await
    .unwrap();
    let calls = seen["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 2, "first try failed, the retry succeeded");
    for (i, call) in calls.iter().enumerate() {
        assert_eq!(call["id"], "attempt-41");
        assert_eq!(call["name"], "calculate-score");
        assert_eq!(call["data"], data);
        assert_eq!(call["attemptsMade"], i);
    }
    let info = jobs
        .job("score-calculation", "attempt-41")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.state, JobState::Completed);
    assert_eq!(info.attempts_made, 2);
}
