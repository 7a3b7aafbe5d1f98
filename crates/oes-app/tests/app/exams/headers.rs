//! Hardening headers on every answer: `X-Content-Type-Options: nosniff` everywhere, and
//! `Cache-Control: no-store` on JSON, whether the request was signed in or not, a success or an
//! error.

use super::on_each_backend;
use crate::support::{Answer, Auth, TestApp};
use serde_json::json;

fn assert_hardened_json(what: &str, answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{what}: {answer:?}");
    assert_eq!(
        answer.header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        answer.header("cache-control").as_deref(),
        Some("no-store"),
        "{what}"
    );
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{what}: {answer:?}"
    );
}

#[tokio::test]
async fn every_json_answer_is_neither_sniffed_nor_stored_and_other_answers_are_not_sniffed() {
    on_each_backend(&[], |app: TestApp| async move {
        let (_, student) = app.student("Asha").await;
        let signed_in = app.get("/api/profile/me", &student).await;
        assert_hardened_json("a signed-in 200", &signed_in, 200);
        let created = app
            .post("/api/question/create", json!({}), &app.admin)
            .await;
        assert_hardened_json("a validation error", &created, 400);
        let forbidden = app.get("/api/exam/all", &student).await;
        assert_hardened_json("a student on an admin route", &forbidden, 403);
        let anonymous = app.call("GET", "/api/result", None, Auth::None).await;
        assert_hardened_json("an unauthenticated request", &anonymous, 401);
        let missing = app
            .call("GET", "/api/no-such-route", None, Auth::None)
            .await;
        assert_hardened_json("an unknown route", &missing, 404);
        let no_exam = app
            .get(&format!("/api/exam/{}", uuid::Uuid::new_v4()), &app.admin)
            .await;
        assert_hardened_json("a missing exam", &no_exam, 404);
        let login = app
            .call(
                "POST",
                "/api/auth/login",
                Some(json!({ "email": "nobody@example.com", "password": "wrong password" })),
                Auth::None,
            )
            .await;
        assert_hardened_json("a refused login", &login, 401);
        let health = app.call("GET", "/api/health", None, Auth::None).await;
        assert_hardened_json("a public probe", &health, 200);

        // Not JSON: not sniffed either, and its own caching rule is kept.
        let page = app.call("GET", "/admin/queues", None, Auth::None).await;
        assert_eq!(page.status, 200, "{page:?}");
        assert_eq!(
            page.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_ne!(page.header("cache-control").as_deref(), Some("no-store"));
        app
    })
    .await;
}
