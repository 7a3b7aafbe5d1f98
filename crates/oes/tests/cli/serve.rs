//! The `oes` binary as an operator runs it: from an empty directory, with environment variables.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::oes;

/// Starts `oes serve` and reads the port it announces on stdout.
pub(crate) fn serve(dir: &Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = oes(dir);
    cmd.arg("serve").env("PORT", "0").env("HOST", "127.0.0.1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("oes starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let base = line
        .trim()
        .strip_prefix("oes listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (child, base)
}

pub(crate) fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("oes did not exit within 10 s of SIGTERM");
}

#[test]
fn help_lists_the_subcommands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = oes(dir.path()).arg("--help").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "worker", "migrate"] {
        assert!(text.contains(sub), "--help does not mention {sub}:\n{text}");
    }
    let out = oes(dir.path())
        .args(["serve", "--help"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("SIGTERM"));
}

#[test]
fn a_bad_variable_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = oes(dir.path())
        .arg("serve")
        .env("PORT", "http")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PORT: "), "{stderr}");
}

#[test]
fn serve_with_no_configuration_creates_its_sqlite_database_and_answers_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, base) = serve(dir.path(), &[]);
    let resp = reqwest::blocking::get(format!("{base}/api/health")).expect("health answers");
    assert_eq!(resp.status(), 200);
    assert!(
        dir.path().join("data/oes.db").is_file(),
        "the SQLite file was not created"
    );
    let status = terminate(&mut child);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[test]
fn production_without_a_secret_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = oes(dir.path())
        .arg("serve")
        .env("APP_ENV", "production")
        .env("SMTP_URL", "smtp://127.0.0.1:25")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP_SECRET"));
}

#[test]
fn a_database_that_cannot_be_reached_fails_start_up_with_the_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = oes(dir.path())
        .arg("serve")
        .env(
            "DATABASE_URL",
            "postgres://postgres:topsecret@127.0.0.1:1/none",
        )
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database"), "{stderr}");
    assert!(
        !stderr.contains("topsecret"),
        "the password leaked: {stderr}"
    );
}

#[test]
fn migrate_then_serve_on_postgres_and_redis_reports_both_ready() {
    let admin = crate::support::postgres_admin_url();
    let redis = crate::support::redis_url();
    let name = format!("oes_cli_{}", std::process::id());
    let psql = |sql: &str| {
        Command::new("psql")
            .args([admin.as_str(), "-qAtc", sql])
            .status()
            .expect("psql runs")
    };
    assert!(psql(&format!("DROP DATABASE IF EXISTS {name}")).success());
    assert!(psql(&format!("CREATE DATABASE {name}")).success());
    let base_url = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let url = format!("{base_url}/{name}");

    let dir = tempfile::tempdir().expect("tempdir");
    let out = oes(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Queues and cache under this test's own prefixes, never the shared `bull:` queues.
    let prefix = format!("oes-test-cli-{}", std::process::id());
    let namespace = format!("{prefix}-cache:");
    let (mut child, base) = serve(
        dir.path(),
        &[
            ("DATABASE_URL", &url),
            ("REDIS_URL", &redis),
            ("QUEUE_PREFIX", &prefix),
            ("CACHE_NAMESPACE", &namespace),
        ],
    );
    let ready: serde_json::Value = reqwest::blocking::get(format!("{base}/api/ready"))
        .expect("ready answers")
        .json()
        .expect("json");
    let status = terminate(&mut child);
    psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    if let Ok(client) = redis::Client::open(redis.as_str())
        && let Ok(mut conn) = client.get_connection()
    {
        let keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .clone()
            .iter(&mut conn)
            .map(|iter| iter.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
        }
    }
    assert_eq!(ready["database"]["backend"], "postgres", "{ready}");
    assert_eq!(ready["database"]["status"], "up", "{ready}");
    assert_eq!(ready["redis"]["status"], "up", "{ready}");
    assert_eq!(ready["mode"], "redis");
    assert!(status.success());
}
