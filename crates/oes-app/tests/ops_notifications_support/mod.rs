//! Helpers for the notification tests: a server with an SMTP sink, an admin signed in over
//! HTTP, polling of a notification's progress, and Redis clean-up of a test's queue prefix.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use oes_app::RunningServer;
use oes_app::db::{Backend, Db};
use oes_app::domain::accounts::Role;
use oes_app::domain::ids::UserId;
use oes_mail::sink::SmtpSink;
use serde_json::{Value, json};

use crate::support::{self, TestDb};

pub const PASSWORD: &str = "correct horse 42";
pub const ADMIN: &str = "admin@oes.test";

pub struct App {
    pub server: RunningServer,
    pub sink: SmtpSink,
    pub db: Db,
    pub http: reqwest::Client,
    pub base: String,
    pub admin_token: String,
    pub queue_prefix: String,
    pub namespace: String,
    _test_db: TestDb,
    /// Removes this app's queue and cache keys from the shared Redis when the app goes.
    _redis: support::RedisCleanup,
}

/// Starts a server on a fresh database with an admin and `extra` configuration; the admin
/// is signed in.
pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> App {
    let (test_db, db) = prepare(backend).await;
    start_on(test_db, db, extra).await
}

/// A fresh migrated database with the admin account, before any server runs on it.
pub async fn prepare(backend: Backend) -> (TestDb, Db) {
    let test_db = TestDb::new(backend).await;
    let db = test_db.migrated().await;
    user(&db, ADMIN, Role::Admin, true).await;
    (test_db, db)
}

/// Starts the server on a database from [`prepare`].
pub async fn start_on(test_db: TestDb, db: Db, extra: &[(&str, &str)]) -> App {
    let sink = SmtpSink::start().await.expect("smtp sink starts");
    let queue_prefix = format!("oes-test-{}", uuid::Uuid::new_v4());
    let namespace = format!("oes-test-{}:", uuid::Uuid::new_v4());
    let mut vars: Vec<(String, String)> = vec![
        ("SMTP_URL".into(), sink.url()),
        ("EMAIL_BACKOFF_MS".into(), "50".into()),
        ("PASSWORD_HASH_MEMORY_KIB".into(), "64".into()),
        ("PASSWORD_HASH_ITERATIONS".into(), "1".into()),
        ("APP_BASE_URL".into(), "http://app.oes.test".into()),
        ("CACHE_NAMESPACE".into(), namespace.clone()),
        ("QUEUE_PREFIX".into(), queue_prefix.clone()),
    ];
    for (k, v) in extra {
        vars.retain(|(key, _)| key != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = RunningServer::start(support::config(&test_db.url, &refs), axum::Router::new())
        .await
        .expect("server starts");
    let base = format!("http://{}", server.local_addr());
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "email": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .expect("login answers");
    assert_eq!(login.status().as_u16(), 200);
    let body: Value = login.json().await.expect("login JSON");
    let admin_token = body["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_owned();
    App {
        _redis: support::RedisCleanup::new([format!("{queue_prefix}:"), namespace.clone()]),
        server,
        sink,
        db,
        http,
        base,
        admin_token,
        queue_prefix,
        namespace,
        _test_db: test_db,
    }
}

/// Creates an account directly through the service layer.
pub async fn user(db: &Db, email: &str, role: Role, verified: bool) -> UserId {
    oes_app::service::accounts::create_user(db, email, "Asha Rao", PASSWORD, role, verified)
        .await
        .expect("user created")
}

impl App {
    /// Calls the API with `token` (none: anonymous); returns the status and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Sends a notification as the admin and returns its id.
    pub async fn notify(&self, body: Value) -> String {
        let (status, answer) = self
            .call(
                "POST",
                "/api/admin/notifications",
                Some(body),
                Some(&self.admin_token),
            )
            .await;
        assert_eq!(status, 202, "{answer}");
        answer["id"].as_str().expect("id").to_owned()
    }

    pub async fn progress(&self, id: &str) -> Value {
        let (status, answer) = self
            .call(
                "GET",
                &format!("/api/admin/notifications/{id}"),
                None,
                Some(&self.admin_token),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// Polls the progress until every email is sent or failed.
    pub async fn wait_done(&self, id: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let progress = self.progress(id).await;
            if progress["done"] == json!(true) {
                return progress;
            }
            assert!(
                started.elapsed() < timeout,
                "notification not done in {timeout:?}: {progress}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(self) {
        let App {
            server,
            db,
            _test_db,
            _redis,
            ..
        } = self;
        server
            .run_until(async {})
            .await
            .expect("server stops cleanly");
        db.close().await;
        drop(_redis);
        drop(_test_db);
    }
}

/// Peak resident set of this process, from /proc (Linux), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
