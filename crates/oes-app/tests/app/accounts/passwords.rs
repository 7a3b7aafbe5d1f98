//! The password policy over HTTP on SQLite and PostgreSQL, with the frontend's own request
//! shapes: NIST SP 800-63B length rules (8 by default, down to the original's 6 when configured,
//! up to 128), no composition rules, and refusal of common passwords and of the account's own
//! email or name, alike at signup, reset and change.

use super::reset_code;
use crate::support::{self, Auth, PASSWORD, unique_email};
use serde_json::json;

/// What the signup page sends: `{fullName, email, password}`.
fn signup_body(name: &str, email: &str, password: &str) -> serde_json::Value {
    json!({ "fullName": name, "email": email, "password": password })
}

#[tokio::test]
async fn a_password_the_signup_page_accepts_makes_an_account_that_can_sign_in() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        // Letters only, as the page allows: the old policy wanted a digit and 10 characters.
        let email = unique_email("letters");
        let password = "tigerlily";
        let answer = app
            .post_anonymously(
                "/api/auth/signup",
                signup_body("Mira Sen", &email, password),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let token = support::link_token(&app.email_to(&email, 1).await, "/verify-email?token=");
        let verified = app
            .post_anonymously(&format!("/api/auth/verify-email/{token}"), json!({}))
            .await;
        assert_eq!(verified.status, 200, "{}", verified.body);
        app.login(&email, password).await;

        // Below the minimum: a 400 whose message the page shows says what is wanted.
        let short = app
            .post_anonymously(
                "/api/auth/signup",
                signup_body("Mira Sen", &unique_email("short"), "kx7#qzw"),
            )
            .await;
        assert_eq!(short.status, 400, "{}", short.body);
        assert_eq!(short.body["details"]["field"], "password");
        assert_eq!(
            short.body["message"],
            "a password must be at least 8 characters long"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn with_the_originals_minimum_configured_a_six_character_password_signs_up() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[("PASSWORD_MIN_LENGTH", "6")]).await;
        let email = unique_email("six");
        let answer = app
            .post_anonymously(
                "/api/auth/signup",
                signup_body("Mira Sen", &email, "kx7qzw"),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let token = support::link_token(&app.email_to(&email, 1).await, "/verify-email?token=");
        let verified = app
            .post_anonymously(&format!("/api/auth/verify-email/{token}"), json!({}))
            .await;
        assert_eq!(verified.status, 200);
        app.login(&email, "kx7qzw").await;
        let five = app
            .post_anonymously(
                "/api/auth/signup",
                signup_body("Mira Sen", &unique_email("five"), "kx7qz"),
            )
            .await;
        assert_eq!(five.status, 400);
        assert_eq!(
            five.body["message"],
            "a password must be at least 6 characters long"
        );

        // The served document states the minimum this deployment enforces.
        let doc = app.call("GET", "/api/openapi.json", None, Auth::None).await;
        let schemas = &doc.body["components"]["schemas"];
        for (schema, field) in [
            ("SignupBody", "password"),
            ("ResetBody", "newPassword"),
            ("ChangePasswordBody", "newPassword"),
        ] {
            assert_eq!(
                schemas[schema]["properties"][field]["minLength"], 6,
                "{schema}.{field}"
            );
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn long_passwords_are_accepted_up_to_128_characters() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let long = "the quick brown fox jumps over the lazy dog ".repeat(3);
        let long = &long[..128];
        let email = unique_email("long");
        let answer = app
            .post_anonymously("/api/auth/signup", signup_body("Mira Sen", &email, long))
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        let token = support::link_token(&app.email_to(&email, 1).await, "/verify-email?token=");
        app.post_anonymously(&format!("/api/auth/verify-email/{token}"), json!({}))
            .await;
        app.login(&email, long).await;

        let too_long = format!("{long}x");
        let refused = app
            .post_anonymously(
                "/api/auth/signup",
                signup_body("Mira Sen", &unique_email("too-long"), &too_long),
            )
            .await;
        assert_eq!(refused.status, 400);
        assert_eq!(
            refused.body["message"],
            "a password must be at most 128 characters long"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn signup_refuses_common_passwords_and_the_accounts_own_email_or_name() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("mira.sen");
        for (password, says) in [
            ("password123", "most commonly used"),
            ("Qwerty123", "most commonly used"),
            ("India@123", "most commonly used"),
            (email.as_str(), "email address or name"),
            ("Mira Sen Gupta", "email address or name"),
            ("mirasengupta", "email address or name"),
        ] {
            let answer = app
                .post_anonymously(
                    "/api/auth/signup",
                    signup_body("Mira Sen Gupta", &email, password),
                )
                .await;
            assert_eq!(answer.status, 400, "{password}: {}", answer.body);
            assert_eq!(answer.code(), "validation_failed");
            assert_eq!(answer.body["details"]["field"], "password");
            let message = answer.body["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{password}: {message}");
        }
        assert!(app.sink.messages().is_empty(), "no account, no email");
        app.stop().await;
    }
}

#[tokio::test]
async fn reset_and_change_follow_the_same_policy() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("policy");
        let session = app.verified_user(&email, 1).await;

        // Change: `{currentPassword, newPassword}`.
        for (new_password, says) in [
            ("sunshine1", "most commonly used"),
            ("Asha Rao", "email address or name"),
            (email.as_str(), "email address or name"),
            ("short", "at least 8"),
        ] {
            let refused = app
                .call(
                    "POST",
                    "/api/auth/change-password",
                    Some(json!({ "currentPassword": PASSWORD, "newPassword": new_password })),
                    Auth::Bearer(&session),
                )
                .await;
            assert_eq!(refused.status, 400, "{new_password}: {}", refused.body);
            assert_eq!(refused.body["details"]["field"], "newPassword");
            let message = refused.body["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{new_password}: {message}");
        }
        let changed = app
            .call(
                "POST",
                "/api/auth/change-password",
                Some(json!({ "currentPassword": PASSWORD, "newPassword": "marigolds" })),
                Auth::Bearer(&session),
            )
            .await;
        assert_eq!(
            changed.status, 200,
            "letters only are fine: {}",
            changed.body
        );

        // The change notice first, so that the next email to arrive is the reset code.
        app.email_to(&email, 2).await;

        // Reset: `{email, otp, newPassword}`, as the reset page sends it.
        app.post_anonymously("/api/auth/forgot-password", json!({ "email": email }))
            .await;
        let code = reset_code(&app.email_to(&email, 3).await);
        for (new_password, says) in [
            ("iloveyou", "most commonly used"),
            ("asharao", "at least 8"),
            ("Asha  Rao", "email address or name"),
        ] {
            let refused = app
                .post_anonymously(
                    "/api/auth/reset-password",
                    json!({ "email": email, "otp": code, "newPassword": new_password }),
                )
                .await;
            assert_eq!(refused.status, 400, "{new_password}: {}", refused.body);
            let message = refused.body["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{new_password}: {message}");
        }
        // The refusals spent neither the code nor its tries.
        let reset = app
            .post_anonymously(
                "/api/auth/reset-password",
                json!({ "email": email, "otp": code, "newPassword": "jacarandas" }),
            )
            .await;
        assert_eq!(reset.status, 200, "{}", reset.body);
        app.login(&email, "jacarandas").await;
        app.stop().await;
    }
}
