//! Password reset over HTTP on SQLite and PostgreSQL: emailed codes that work once, expire,
//! and die after five wrong tries; a reset ends every session.

use super::reset_code;
use crate::support::{self, Auth, PASSWORD, unique_email};
use serde_json::json;

const NEW_PASSWORD: &str = "fresh start 2024";

#[tokio::test]
async fn an_emailed_reset_code_sets_a_new_password_once_and_ends_every_session() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("reset");
        let session = app.verified_user(&email, 1).await;

        let asked = app
            .post_anonymously(
                "/api/auth/forgot-password",
                json!({ "email": email.to_uppercase() }),
            )
            .await;
        assert_eq!(asked.status, 200);
        let code = reset_code(&app.email_to(&email, 2).await);

        // The code is stored hashed.
        let raw: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM account_tokens WHERE token_hash = $1")
                .bind(&code)
                .fetch_one(app.server.state().db.pool())
                .await
                .expect("query");
        assert_eq!(raw, 0);

        let weak = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "otp": code, "newPassword": "weak" }),
            )
            .await;
        assert_eq!(weak.status, 400);
        assert_eq!(weak.code(), "validation_failed");
        assert_eq!(weak.body["details"]["field"], "newPassword");

        let reset = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "otp": code, "newPassword": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(reset.status, 200, "{}", reset.body);

        let me = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&session))
            .await;
        assert_eq!(me.status, 401, "sessions end with a reset");
        let notice = app.email_to(&email, 3).await;
        assert!(
            notice
                .subject()
                .unwrap_or_default()
                .to_lowercase()
                .contains("password")
        );

        let again = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "otp": code, "newPassword": "yet another 99" }),
            )
            .await;
        assert_eq!(again.status, 400, "a code works once");
        assert_eq!(again.code(), "invalid_token");

        let old = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(old.status, 401);
        app.login(&email, NEW_PASSWORD).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn a_reset_code_is_void_after_five_wrong_tries_even_for_the_right_code() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[("RATE_LIMIT_PER_ACCOUNT", "50")]).await;
        let email = unique_email("tries");
        app.verified_user(&email, 1).await;
        app.post_anonymously("/api/auth/forgot-password", json!({ "email": email }))
            .await;
        let code = reset_code(&app.email_to(&email, 2).await);
        let wrong = if code == "000000" { "000001" } else { "000000" };

        for _ in 0..5 {
            let answer = app
                .post_anonymously(
                    "/api/auth/reset-password",
                    json!({ "email": email, "otp": wrong, "newPassword": NEW_PASSWORD }),
                )
                .await;
            assert_eq!(answer.status, 400);
            assert_eq!(answer.code(), "invalid_token");
        }
        let right = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "otp": code, "newPassword": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(right.status, 400, "the code died after five wrong tries");
        app.login(&email, PASSWORD).await;

        // A new code can be asked for, and works.
        app.post_anonymously("/api/auth/forgot-password", json!({ "email": email }))
            .await;
        let fresh = reset_code(&app.email_to(&email, 3).await);
        let ok = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "otp": fresh, "newPassword": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        app.stop().await;
    }
}

#[tokio::test]
async fn expired_and_superseded_reset_codes_are_refused() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("expiry");
        app.verified_user(&email, 1).await;

        app.post_anonymously("/api/auth/forgot-password", json!({ "email": email }))
            .await;
        let first = reset_code(&app.email_to(&email, 2).await);
        app.post_anonymously("/api/auth/forgot-password", json!({ "email": email }))
            .await;
        let second = reset_code(&app.email_to(&email, 3).await);
        if first != second {
            let superseded = app
                .post_anonymously(
                    "/api/auth/reset-password",
                    json!({ "email": email, "otp": first, "newPassword": NEW_PASSWORD }),
                )
                .await;
            assert_eq!(superseded.status, 400, "only the newest code works");
        }

        app.sql(
            "UPDATE account_tokens SET expires_at = 1 WHERE purpose = 'RESET_PASSWORD' AND used_at IS NULL",
        )
        .await;
        let expired = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "otp": second, "newPassword": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(expired.status, 400);
        assert_eq!(expired.code(), "invalid_token");

        // Unknown address: the same refusal as a wrong code.
        let unknown = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": unique_email("nobody"), "otp": "123456", "newPassword": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(unknown.status, 400);
        assert_eq!(unknown.body, expired.body);

        let missing = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "newPassword": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(missing.status, 400);
        assert_eq!(missing.body["details"]["field"], "otp");
        app.stop().await;
    }
}
