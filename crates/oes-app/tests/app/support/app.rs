//! [`TestApp`]: the real server on a fresh database of either backend, with emails going to an
//! SMTP sink of its own, embedded queues and cache unless a test passes `REDIS_URL` (then under a
//! Redis key prefix and cache namespace of its own, removed when the app goes), and the accounts
//! a test asks for.

use std::ops::Deref;
use std::time::Duration;

use oes_app::db::{Backend, Db};
use oes_app::domain::accounts::Role;
use oes_app::domain::ids::UserId;
use oes_app::{AppState, RunningServer};
use oes_mail::sink::SmtpSink;
use serde_json::json;

use super::{Answer, Client, RedisCleanup, TestDb};

/// The password of every account the harness creates.
pub const PASSWORD: &str = "correct horse 42";

pub struct TestApp {
    pub server: RunningServer,
    pub sink: SmtpSink,
    /// The app's database: the server's pool, or the one the test prepared before start-up.
    pub db: Db,
    pub test_db: TestDb,
    pub client: Client,
    /// The session token of the admin signed in at start (empty when nobody was).
    pub admin: String,
    /// The configuration variables the app started with (beyond `support::config`'s).
    pub vars: Vec<(String, String)>,
    /// Removes this app's queue and cache keys from the shared Redis when the app goes.
    redis_keys: RedisCleanup,
}

/// The app is driven over HTTP: `app.get(..)`, `app.call(..)`, `app.base` are its client's.
impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

/// What a test wants of its app before it starts.
pub struct TestAppBuilder {
    backend: Backend,
    vars: Vec<(String, String)>,
    users: Vec<(String, Role)>,
    admin: Option<String>,
    prepared: Option<(TestDb, Db)>,
    routes: axum::Router<AppState>,
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            vars: vec![
                // Retries of a refused email come quickly, so failures show within a test.
                ("EMAIL_BACKOFF_MS".into(), "50".into()),
                (
                    "CACHE_NAMESPACE".into(),
                    format!("{}:", unique_prefix("cache")),
                ),
                ("QUEUE_PREFIX".into(), unique_prefix("queue")),
            ],
            users: Vec::new(),
            admin: None,
            prepared: None,
            routes: axum::Router::new(),
        }
    }

    pub async fn stop(self) {
        let TestApp {
            server,
            db,
            test_db,
            redis_keys,
            ..
        } = self;
        server
            .run_until(async {})
            .await
            .expect("server stops cleanly");
        db.close().await;
        drop(redis_keys);
        drop(test_db);
    }

    /// The configuration of this app, for a second server that must share it.
    pub fn var_refs(&self) -> Vec<(&str, &str)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Runs SQL on the test database (to move a token's expiry into the past, for example).
    pub async fn sql(&self, statement: &str) {
        sqlx::query(statement)
            .execute(self.server.state().db.pool())
            .await
            .expect("sql runs");
    }

    /// Waits until the outbox holds no row still to be acted on (every email sent or failed,
    /// every account request settled), so that whatever will be sent is in the sink or on its way.
    pub async fn outbox_settled(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM email_outbox WHERE status IN ('PENDING', 'QUEUED')",
            )
            .fetch_one(self.server.state().db.pool())
            .await
            .expect("outbox query");
            if open == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{open} outbox rows never settled"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
        self.post_anonymously(
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
            .post_anonymously(&format!("/api/auth/verify-email/{token}"), json!({}))
            .await;
        assert_eq!(verified.status, 200, "{}", verified.body);
        self.login(email, PASSWORD).await
    }
}

impl TestAppBuilder {
    /// Sets a configuration variable (a later value for the same name wins).
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The test's own configuration, over everything set before.
    pub fn vars(self, extra: &[(&str, &str)]) -> Self {
        extra.iter().fold(self, |b, (k, v)| b.var(k, v))
    }

    /// Argon2 at a tiny cost: hundreds of signups and logins would otherwise dominate the run.
    pub fn fast_password_hashing(self) -> Self {
        self.var("PASSWORD_HASH_MEMORY_KIB", "64")
            .var("PASSWORD_HASH_ITERATIONS", "1")
    }

    /// No 429s: for tests that make many requests from one address and test something else.
    pub fn without_rate_limits(self) -> Self {
        self.var("RATE_LIMIT_PER_IP", "1000000")
            .var("RATE_LIMIT_PER_ACCOUNT", "1000000")
            .var("RATE_LIMIT_ACCOUNT_CEILING", "1000000")
            .var("LOGIN_FAILURES_PER_IP", "1000000")
    }

    /// A verified account with [`PASSWORD`], created through the service once the server runs.
    pub fn user(mut self, email: &str, role: Role) -> Self {
        self.users.push((email.to_owned(), role));
        self
    }

    /// Signs this admin in over HTTP at start; the token is [`TestApp::admin`].
    pub fn signed_in_admin(mut self, email: &str) -> Self {
        self.admin = Some(email.to_owned());
        self
    }

    /// Routes of the test's own, served beside the app's under `/api`.
    pub fn routes(mut self, routes: axum::Router<AppState>) -> Self {
        self.routes = routes;
        self
    }

    /// Starts on a database the test prepared (migrated, with rows) instead of a fresh one.
    pub fn on(mut self, test_db: TestDb, db: Db) -> Self {
        self.prepared = Some((test_db, db));
        self
    }

    pub async fn start(self) -> TestApp {
        let sink = SmtpSink::start().await.expect("smtp sink starts");
        let (test_db, prepared) = match self.prepared {
            Some((test_db, db)) => (test_db, Some(db)),
            None => (TestDb::new(self.backend).await, None),
        };
        let mut vars = vec![("SMTP_URL".to_owned(), sink.url())];
        vars.retain(|(k, _)| self.vars.iter().all(|(name, _)| name != k));
        vars.extend(self.vars);
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let server = RunningServer::start(super::config(&test_db.url, &refs), self.routes)
            .await
            .expect("server starts");
        let client = Client::new(format!("http://{}", server.local_addr()));
        let db = prepared.unwrap_or_else(|| server.state().db.clone());
        for (email, role) in &self.users {
            user(&server.state().db, email, *role, true).await;
        }
        let admin = match &self.admin {
            Some(email) => client.login(email, PASSWORD).await,
            None => String::new(),
        };
        let redis_keys = RedisCleanup::new(
            vars.iter()
                .filter(|(k, _)| k == "CACHE_NAMESPACE" || k == "QUEUE_PREFIX")
                .map(|(_, v)| v.clone()),
        );
        TestApp {
            server,
            sink,
            db,
            test_db,
            client,
            admin,
            vars,
            redis_keys,
        }
    }
}

/// Creates an account directly through the service layer, with [`PASSWORD`].
pub async fn user(db: &Db, email: &str, role: Role, verified: bool) -> UserId {
    let policy = oes_app::domain::accounts::PasswordPolicy::default();
    oes_app::service::accounts::create_user(db, policy, email, "Asha Rao", PASSWORD, role, verified)
        .await
        .expect("user created")
}

/// An address no other test uses.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.org", uuid::Uuid::new_v4().simple())
}

/// A Redis key prefix no other test uses.
pub fn unique_prefix(tag: &str) -> String {
    format!("oes-test-{tag}-{}", uuid::Uuid::new_v4().simple())
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
