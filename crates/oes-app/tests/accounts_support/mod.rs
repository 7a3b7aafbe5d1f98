//! Helpers for the accounts tests: a real server on a fresh database with an SMTP sink, a tiny
//! JSON client, and the steps every flow starts with (sign up, verify, log in).
#![allow(dead_code)]

use std::time::Duration;

use oes_app::RunningServer;
use oes_app::db::Backend;
use oes_mail::sink::SmtpSink;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::{self, TestDb};

pub const PASSWORD: &str = "correct horse 42";

pub struct App {
    pub server: RunningServer,
    pub sink: SmtpSink,
    pub db: TestDb,
    pub http: reqwest::Client,
    pub base: String,
    /// Removes this app's cache and queue keys from the shared Redis when the app goes.
    pub redis_keys: support::RedisCleanup,
}

/// An answer: status, headers and JSON body (`Null` when the body is not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The `accessToken` value the server set as a cookie.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("accessToken="))
            .map(|c| c.split(';').next().unwrap_or_default().to_owned())
    }
}

/// How a request is authenticated.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// The session cookie, with an Origin header (or none).
    Cookie(&'a str, Option<&'a str>),
}

/// Fast hashing and quick emails; the rest as given.
pub fn vars<'a>(sink: &SmtpSink, extra: &[(&'a str, &'a str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = vec![
        ("SMTP_URL".into(), sink.url()),
        ("EMAIL_BACKOFF_MS".into(), "50".into()),
        ("PASSWORD_HASH_MEMORY_KIB".into(), "64".into()),
        ("PASSWORD_HASH_ITERATIONS".into(), "1".into()),
        ("APP_BASE_URL".into(), "http://app.oes.test".into()),
        (
            "CACHE_NAMESPACE".into(),
            format!("oes-test-{}:", uuid::Uuid::new_v4()),
        ),
        (
            "QUEUE_PREFIX".into(),
            format!("oes-test-{}", uuid::Uuid::new_v4()),
        ),
    ];
    for (k, v) in extra {
        vars.retain(|(key, _)| key != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    vars
}

impl App {
    pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> App {
        let db = TestDb::new(backend).await;
        let sink = SmtpSink::start().await.expect("smtp sink starts");
        let vars = vars(&sink, extra);
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = RunningServer::start(support::config(&db.url, &refs), axum::Router::new())
            .await
            .expect("server starts");
        let base = format!("http://{}", server.local_addr());
        let prefixes = vars
            .iter()
            .filter(|(k, _)| k == "CACHE_NAMESPACE" || k == "QUEUE_PREFIX")
            .map(|(_, v)| v.clone());
        App {
            redis_keys: support::RedisCleanup::new(prefixes),
            server,
            sink,
            db,
            http: reqwest::Client::new(),
            base,
        }
    }

    pub async fn stop(self) {
        let App { server, db, .. } = self;
        server
            .run_until(async {})
            .await
            .expect("server stops cleanly");
        drop(db);
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        auth: Auth<'_>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::None => {}
            Auth::Bearer(token) => req = req.bearer_auth(token),
            Auth::Cookie(token, origin) => {
                req = req.header("cookie", format!("accessToken={token}"));
                if let Some(origin) = origin {
                    req = req.header("origin", origin);
                }
            }
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(body), Auth::None).await
    }

    /// Waits until the sink holds `n` messages in all, and returns the newest one to `to`.
    pub async fn email_to(&self, to: &str, n: usize) -> oes_mail::sink::ParsedMessage {
        let messages = self.sink.wait_for(n, Duration::from_secs(15)).await;
        assert!(
            messages.len() >= n,
            "expected {n} emails, got {}",
            messages.len()
        );
        messages
            .iter()
            .rev()
            .find(|m| m.rcpt_to.iter().any(|r| r == to))
            .unwrap_or_else(|| panic!("no email to {to}"))
            .parse()
    }

    pub async fn signup(&self, email: &str) -> Answer {
        self.post(
            "/api/auth/signup",
            json!({ "fullName": "Asha Rao", "email": email, "password": PASSWORD }),
        )
        .await
    }

    /// Signs up, follows the emailed link and logs in; returns the session token. `n` is the
    /// count of emails the sink will hold once the verification email arrives.
    pub async fn verified_user(&self, email: &str, n: usize) -> String {
        assert_eq!(self.signup(email).await.status, 201);
        let mail = self.email_to(email, n).await;
        let token = link_token(&mail, "/verify-email?token=");
        let verified = self
            .post(&format!("/api/auth/verify-email/{token}"), json!({}))
            .await;
        assert_eq!(verified.status, 200, "{}", verified.body);
        self.login(email, PASSWORD).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let answer = self
            .post(
                "/api/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned()
    }

    /// Runs SQL on the test database (to move a token's expiry into the past, for example).
    pub async fn sql(&self, statement: &str) {
        sqlx::query(statement)
            .execute(self.server.state().db.pool())
            .await
            .expect("sql runs");
    }
}

/// The token in the email's link whose path and query start with `marker`.
pub fn link_token(mail: &oes_mail::sink::ParsedMessage, marker: &str) -> String {
    let text = mail.text().expect("a text part");
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no link with {marker} in: {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The six-digit code in a reset email.
pub fn reset_code(mail: &oes_mail::sink::ParsedMessage) -> String {
    let text = mail.text().expect("a text part");
    text.split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in: {text}"))
        .to_owned()
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.org", uuid::Uuid::new_v4().simple())
}
