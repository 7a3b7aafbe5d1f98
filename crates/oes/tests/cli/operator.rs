//! The operator commands, run as the real binary: `oes seed`, `oes queue …` against BullMQ
//! queues on the local Redis (a unique prefix per test), `oes cache …` on a unique namespace.

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oes_jobs::{
    HandlerError, JobContext, JobHandler, JobOptions, JobQueue, RedisJobs, async_trait,
};

use crate::support::redis_url;

/// Runs `oes` in an empty directory (no `.env`) with only the given variables.
fn oes(dir: &std::path::Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = crate::support::oes(dir);
    cmd.args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn count(db: &str, sql: &str) -> i64 {
    use sqlx::{ConnectOptions, Row};
    use std::str::FromStr;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::any::AnyConnectOptions::from_str(db)
        .expect("url")
        .connect()
        .await
        .expect("open the seeded database");
    sqlx::query(sql)
        .fetch_one(&mut conn)
        .await
        .expect("query")
        .try_get::<i64, _>(0)
        .expect("count")
}

#[tokio::test]
async fn seed_creates_accounts_questions_and_a_published_exam_and_can_run_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}/oes.db", dir.path().display());
    let vars = [("DATABASE_URL", db.as_str())];
    let first = stdout(&oes(
        dir.path(),
        &vars,
        &["seed", "--users", "3", "--questions", "5"],
    ));
    assert!(
        first.contains("students: 3 created, 0 already there"),
        "{first}"
    );
    assert!(first.contains("questions: 5 created"), "{first}");
    assert!(first.contains("published"), "{first}");
    let second = stdout(&oes(
        dir.path(),
        &vars,
        &["seed", "--users", "4", "--questions", "1"],
    ));
    assert!(
        second.contains("students: 1 created, 3 already there"),
        "{second}"
    );

    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM users WHERE role = 'ADMIN'").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM users WHERE role = 'USER' AND email_verified = 1"
        )
        .await,
        4
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM questions").await, 6);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM exams WHERE state = 'PUBLISHED'").await,
        2
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM exam_questions").await, 6);

    let bad = oes(dir.path(), &vars, &["seed", "--questions", "0"]);
    assert!(!bad.status.success());
}

struct AlwaysFails;

#[async_trait]
impl JobHandler for AlwaysFails {
    async fn handle(&self, _job: &JobContext) -> Result<(), HandlerError> {
        Err(HandlerError::Fatal("the relay refused the sender".into()))
    }
}

async fn remove_keys(pattern: &str) {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)): Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
        else {
            return;
        };
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("UNLINK").arg(&keys).query_async(&mut conn).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

#[tokio::test]
async fn queue_commands_list_retry_and_clean_failed_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}/oes.db", dir.path().display());
    let prefix = format!("oes-test-{}", uuid::Uuid::new_v4());
    let redis = redis_url();
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("QUEUE_PREFIX", prefix.as_str()),
    ];

    let jobs = RedisJobs::connect(&redis, &prefix).await.expect("redis");
    for id in ["email-first", "email-second"] {
        let opts = JobOptions {
            attempts: 1,
            ..JobOptions::with_id(id)
        };
        jobs.add(
            "email",
            "send-email",
            serde_json::json!({ "outboxId": id }),
            &opts,
        )
        .await
        .expect("add");
    }
    let worker = jobs
        .start_worker("email", Arc::new(AlwaysFails), Default::default())
        .await
        .expect("worker");
    let started = Instant::now();
    while jobs.counts("email").await.expect("counts").failed < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "jobs did not fail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker
        .shutdown(Duration::from_secs(5))
        .await
        .expect("worker stops");

    let stats = stdout(&oes(dir.path(), &vars, &["queue", "stats"]));
    assert!(stats.contains("email outbox: empty"), "{stats}");
    let email_line = stats
        .lines()
        .find(|l| l.starts_with("  email "))
        .unwrap_or_else(|| panic!("no email line: {stats}"));
    let fields: Vec<&str> = email_line.split_whitespace().collect();
    assert_eq!(fields, ["email", "0", "0", "0", "0", "0", "2"], "{stats}");
    assert!(stats.contains("notifications"), "{stats}");

    let failed = stdout(&oes(dir.path(), &vars, &["queue", "failed"]));
    assert_eq!(failed.lines().count(), 2, "{failed}");
    assert!(failed.contains("email-first") && failed.contains("email-second"));
    assert!(failed.contains("the relay refused the sender"), "{failed}");
    assert!(
        !failed.contains("outboxId"),
        "job data is not printed: {failed}"
    );

    let retried = stdout(&oes(dir.path(), &vars, &["queue", "retry", "email-second"]));
    assert!(retried.contains("1 job(s)"), "{retried}");
    let cleaned = stdout(&oes(
        dir.path(),
        &vars,
        &[
            "queue",
            "clean",
            "--state",
            "failed",
            "--older-than-secs",
            "0",
        ],
    ));
    assert!(cleaned.contains("1 failed job(s) removed"), "{cleaned}");
    let counts = jobs.counts("email").await.expect("counts");
    assert_eq!(counts.failed, 0);
    assert_eq!(counts.waiting + counts.prioritized, 1);
    assert!(
        jobs.job("email", "email-second")
            .await
            .expect("job")
            .is_some()
    );
    assert!(
        jobs.job("email", "email-first")
            .await
            .expect("job")
            .is_none()
    );

    let neither = oes(dir.path(), &vars, &["queue", "retry"]);
    assert!(!neither.status.success(), "retry needs an id or --all");
    remove_keys(&format!("{prefix}:*")).await;
}

#[tokio::test]
async fn queue_commands_other_than_stats_need_redis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}/oes.db", dir.path().display());
    let vars = [("DATABASE_URL", db.as_str())];
    let stats = stdout(&oes(dir.path(), &vars, &["queue", "stats"]));
    assert!(stats.contains("embedded mode"), "{stats}");
    let retry = oes(dir.path(), &vars, &["queue", "retry", "--all"]);
    assert!(!retry.status.success());
    assert!(String::from_utf8_lossy(&retry.stderr).contains("REDIS_URL is not set"));
}

#[tokio::test]
async fn cache_clear_removes_the_namespace_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}/oes.db", dir.path().display());
    let id = uuid::Uuid::new_v4();
    let namespace = format!("oes-test-{id}:cache:");
    let neighbour = format!("oes-test-{id}:other");
    let redis = redis_url();
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("CACHE_NAMESPACE", namespace.as_str()),
    ];
    let client = redis::Client::open(redis.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for key in ["exam:1", "exam:1:questions", "user:2:profile"] {
        let _: () = redis::cmd("SET")
            .arg(format!("{namespace}{key}"))
            .arg("{}")
            .query_async(&mut conn)
            .await
            .expect("set");
    }
    let _: () = redis::cmd("SET")
        .arg(&neighbour)
        .arg("keep me")
        .query_async(&mut conn)
        .await
        .expect("set");

    let stats = stdout(&oes(dir.path(), &vars, &["cache", "stats"]));
    assert!(stats.contains(": 3 keys"), "{stats}");
    assert!(stats.contains("policy"), "{stats}");
    let cleared = stdout(&oes(dir.path(), &vars, &["cache", "clear"]));
    assert!(cleared.contains("3 keys removed"), "{cleared}");
    let stats = stdout(&oes(dir.path(), &vars, &["cache", "stats"]));
    assert!(stats.contains(": 0 keys"), "{stats}");
    let kept: Option<String> = redis::cmd("GET")
        .arg(&neighbour)
        .query_async(&mut conn)
        .await
        .expect("get");
    assert_eq!(kept.as_deref(), Some("keep me"));
    remove_keys(&format!("oes-test-{id}:*")).await;
}
