//! The app of the notification tests: an admin that exists before the server starts (so a test
//! can leave a half-done fan-out in the database first) and is signed in as `app.admin`, cheap
//! password hashing, and polling of a notification's progress.

use std::time::{Duration, Instant};

use oes_app::db::{Backend, Db};
use oes_app::domain::accounts::Role;
use serde_json::{Value, json};

use crate::support::{Answer, Auth, TestApp, TestDb, user};

pub const ADMIN: &str = "admin@oes.test";

/// Starts a server on a fresh database with an admin and `extra` configuration; the admin
/// is signed in.
pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
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
pub async fn start_on(test_db: TestDb, db: Db, extra: &[(&str, &str)]) -> TestApp {
    let backend = test_db.backend();
    TestApp::builder(backend)
        .fast_password_hashing()
        .var("APP_BASE_URL", "http://app.oes.test")
        .vars(extra)
        .on(test_db, db)
        .signed_in_admin(ADMIN)
        .start()
        .await
}

impl TestApp {
    /// Sends a notification as the admin and returns its id.
    pub async fn notify(&self, body: Value) -> String {
        let Answer {
            status,
            body: answer,
            ..
        } = self
            .call(
                "POST",
                "/api/admin/notifications",
                Some(body),
                Auth::Bearer(&self.admin),
            )
            .await;
        assert_eq!(status, 202, "{answer}");
        answer["id"].as_str().expect("id").to_owned()
    }

    pub async fn progress(&self, id: &str) -> Value {
        let Answer {
            status,
            body: answer,
            ..
        } = self
            .get(&format!("/api/admin/notifications/{id}"), &self.admin)
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
}
