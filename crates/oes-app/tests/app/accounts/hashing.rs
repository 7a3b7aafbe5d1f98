//! Password hashing under load: a bounded number of argon2 runs at once, a bounded queue behind
//! them, and a prompt 503 with Retry-After past it.

use futures::future::join_all;
use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use serde_json::json;

use crate::support::{self, PASSWORD, unique_email};

#[tokio::test]
async fn logins_beyond_the_hashing_queue_answer_503_with_retry_after_and_leave_no_permit_behind() {
    let app = super::start(
        Backend::Sqlite,
        &[
            ("PASSWORD_HASH_CONCURRENCY", "1"),
            ("PASSWORD_HASH_QUEUE", "1"),
            ("RATE_LIMIT_PER_IP", "1000"),
            ("RATE_LIMIT_PER_ACCOUNT", "1000"),
        ],
    )
    .await;
    let email = unique_email("busy");
    // At the production cost, so that one verification is still running when the others arrive.
    support::user(&app.server.state().db, &email, Role::User, true).await;
    let body = json!({ "email": email, "password": PASSWORD });

    let burst = (0..12).map(|_| app.post_anonymously("/api/auth/login", body.clone()));
    let answers = join_all(burst).await;
    let busy: Vec<_> = answers.iter().filter(|a| a.status == 503).collect();
    let served = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(
        busy.len() + served,
        answers.len(),
        "only 200 or 503: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert!(served >= 1, "the running and the queued login are served");
    assert!(
        !busy.is_empty(),
        "past one running and one waiting, logins are refused"
    );
    for answer in busy {
        assert_eq!(answer.code(), "busy", "{}", answer.body);
        let retry: u64 = answer
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!(retry >= 1, "{retry}");
    }

    // Every permit and queue place came back: one running and one waiting fit again.
    let again =
        join_all((0..2).map(|_| app.post_anonymously("/api/auth/login", body.clone()))).await;
    for answer in again {
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn every_route_that_checks_a_password_documents_its_busy_answer() {
    let app = super::start(Backend::Sqlite, &[]).await;
    let doc = app
        .call("GET", "/api/openapi.json", None, support::Auth::None)
        .await;
    assert_eq!(doc.status, 200);
    for path in [
        "/api/auth/signup",
        "/api/auth/login",
        "/api/auth/reset-password",
        "/api/auth/change-password",
        "/api/profile/email",
    ] {
        let busy = &doc.body["paths"][path]["post"]["responses"]["503"];
        assert!(busy.is_object(), "POST {path} documents 503");
        assert!(
            busy["description"]
                .as_str()
                .is_some_and(|d| d.contains("Retry-After")),
            "POST {path}: {busy}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_bcrypt_password_kept_from_the_node_system_logs_in_and_is_argon2id_from_then_on() {
    let app = super::start(Backend::Sqlite, &[]).await;
    let email = unique_email("node");
    support::user(&app.server.state().db, &email, Role::User, true).await;
    // Node's policy took six characters; the kept password is shorter than OES's policy.
    let bcrypt = bcrypt::hash("abc123", 4).expect("bcrypt hash");
    app.sql(&format!(
        "UPDATE users SET password_hash = '{bcrypt}' WHERE email = '{email}'"
    ))
    .await;
    let stored = || async {
        sqlx::query_scalar::<_, String>("SELECT password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_one(app.server.state().db.pool())
            .await
            .expect("the user's hash")
    };

    let wrong = app
        .post_anonymously(
            "/api/auth/login",
            json!({ "email": email, "password": "abc124" }),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(stored().await, bcrypt, "a failed login changes nothing");

    app.login(&email, "abc123").await;
    let upgraded = stored().await;
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    app.login(&email, "abc123").await;
    assert_eq!(
        stored().await,
        upgraded,
        "an argon2id hash is left as it is"
    );
    app.stop().await;
}
