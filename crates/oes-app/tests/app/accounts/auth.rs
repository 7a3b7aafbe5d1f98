//! `/api/auth` over HTTP on SQLite and PostgreSQL: signup, verification, login, sessions,
//! CSRF, password change, and the answers that must not reveal who is registered.

use crate::support::{self, Auth, PASSWORD, TestApp, link_token, unique_email};
use oes_app::domain::accounts::Role;
use oes_app::service::accounts::create_user;
use serde_json::json;

#[tokio::test]
async fn signup_emails_a_link_that_verifies_and_then_login_sets_an_http_only_cookie() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("asha");
        // Upper case and spaces: stored normalised.
        let answer = app.signup(&format!("  {}  ", email.to_uppercase())).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert!(answer.body["message"].is_string());

        // Before verification: the right password still does not open a session.
        let early = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(early.status, 403);
        assert_eq!(early.code(), "email_not_verified");

        let mail = app.email_to(&email, 1).await;
        assert!(
            mail.text()
                .expect("text")
                .contains("http://app.oes.test/verify-email?token="),
            "the link points at the frontend page"
        );
        let token = link_token(&mail, "/verify-email?token=");
        let verified = app
            .post_anonymously(&format!("/api/auth/verify-email/{token}"), json!({}))
            .await;
        assert_eq!(verified.status, 200);
        assert_eq!(verified.body["message"], "Email verified successfully");

        let login = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email.to_uppercase(), "password": PASSWORD }),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.body);
        assert_eq!(login.body["user"]["email"], email);
        assert_eq!(login.body["user"]["fullName"], "Asha Rao");
        assert_eq!(login.body["user"]["role"], "USER");
        let token = login.body["accessToken"]
            .as_str()
            .expect("token")
            .to_owned();
        let cookie = login
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("accessToken="))
            .expect("a session cookie")
            .to_owned();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(
            !cookie.contains("Secure"),
            "no Secure flag in development: {cookie}"
        );
        assert_eq!(login.session_cookie().as_deref(), Some(token.as_str()));

        // The session works as a cookie (browsers) and as a Bearer token (other clients).
        let me = app
            .call("GET", "/api/profile/me", None, Auth::Cookie(&token, None))
            .await;
        assert_eq!(me.status, 200, "{}", me.body);
        let me = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["data"]["email"], email);

        // Only a keyed hash of the token is stored.
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_hash = $1")
            .bind(&token)
            .fetch_one(app.server.state().db.pool())
            .await
            .expect("query");
        assert_eq!(stored, 0, "the raw token is not in the sessions table");
        app.stop().await;
    }
}

#[tokio::test]
async fn the_session_cookie_is_secure_in_production() {
    let sink = oes_mail::sink::SmtpSink::start().await.expect("sink");
    let vars = [
        ("SMTP_URL".to_owned(), sink.url()),
        ("APP_BASE_URL".to_owned(), "http://app.oes.test".to_owned()),
    ];
    let mut all: std::collections::HashMap<String, String> = vars.into_iter().collect();
    all.insert("APP_ENV".into(), "production".into());
    all.insert("APP_SECRET".into(), "p".repeat(40));
    let config = oes_app::Config::from_lookup(|k| all.get(k).cloned()).expect("valid");
    let cookie = oes_app::http::session::session_cookie("abc", &config.accounts);
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_in_development_when_the_base_url_is_https() {
    for (base, secure) in [
        ("https://app.oes.test", true),
        ("http://app.oes.test", false),
    ] {
        let email = unique_email("cookie");
        let app = TestApp::builder(oes_app::db::Backend::Sqlite)
            .fast_password_hashing()
            .var("APP_ENV", "development")
            .var("APP_BASE_URL", base)
            .user(&email, Role::User)
            .start()
            .await;
        let login = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.body);
        let cookie = login
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("accessToken="))
            .expect("a session cookie")
            .to_owned();
        assert_eq!(
            cookie.contains("; Secure"),
            secure,
            "APP_BASE_URL={base}: {cookie}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn signup_refuses_bad_input_with_400_and_states_the_password_policy() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let cases = [
            (
                json!({ "fullName": "A", "email": "not-an-email", "password": PASSWORD }),
                "email",
            ),
            (
                json!({ "fullName": "A", "email": unique_email("x"), "password": "short1" }),
                "password",
            ),
            (
                json!({ "fullName": "A", "email": unique_email("x"), "password": "password123" }),
                "password",
            ),
            (
                json!({ "fullName": "   ", "email": unique_email("x"), "password": PASSWORD }),
                "fullName",
            ),
            (
                json!({ "email": unique_email("x"), "password": PASSWORD }),
                "fullName",
            ),
        ];
        for (body, field) in cases {
            let answer = app.post_anonymously("/api/auth/signup", body.clone()).await;
            assert_eq!(answer.status, 400, "{body}: {}", answer.body);
            assert_eq!(answer.code(), "validation_failed");
            assert_eq!(answer.body["details"]["field"], field, "{body}");
            if field == "password" {
                let message = answer.body["message"].as_str().expect("message");
                assert!(
                    message.contains("at least 8") || message.contains("most commonly used"),
                    "{message}"
                );
            }
        }
        let malformed = app
            .http
            .post(format!("{}/api/auth/signup", app.base))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("answers");
        assert_eq!(malformed.status(), 400);
        assert!(
            app.sink.messages().is_empty(),
            "no email for refused signups"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn signup_with_a_bidirectional_override_in_the_name_is_refused_with_400_saying_why() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("bidi");
        let answer = app
            .post_anonymously(
                "/api/auth/signup",
                json!({ "fullName": "Asha \u{202E}oaR", "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(answer.code(), "validation_failed");
        assert_eq!(answer.body["details"]["field"], "fullName");
        let message = answer.body["message"].as_str().expect("message");
        assert!(message.contains("bidirectional"), "{message}");
        assert!(
            app.sink.messages().is_empty(),
            "no email for a refused signup"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn answers_do_not_reveal_whether_an_email_is_registered() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("known");
        let _token = app.verified_user(&email, 1).await;

        // Signup with a registered address: the same 201, and no second account.
        let again = app.signup(&email.to_uppercase()).await;
        let fresh = app.signup(&unique_email("fresh")).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.body, fresh.body);
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE lower(email) = $1")
            .bind(&email)
            .fetch_one(app.server.state().db.pool())
            .await
            .expect("query");
        assert_eq!(users, 1);

        // Login: one generic 401 for a wrong password and for an unknown address.
        let wrong = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": "wrong password 1" }),
            )
            .await;
        let unknown = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": unique_email("nobody"), "password": PASSWORD }),
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(wrong.code(), "invalid_credentials");

        // Resend and forgot: the same 200 for known, verified and unknown addresses.
        for path in ["/api/auth/resend-verification", "/api/auth/forgot-password"] {
            let known = app.post_anonymously(path, json!({ "email": email })).await;
            let nobody = app
                .post_anonymously(path, json!({ "email": unique_email("nobody") }))
                .await;
            assert_eq!(known.status, 200, "{path}");
            assert_eq!(known.body, nobody.body, "{path}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn the_first_emailed_link_still_verifies_after_the_resend_the_signup_page_asks_for() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("first-link");
        // The frontend's flow: signup, then at once `resend-verification` with `{email}`.
        assert_eq!(app.signup(&email).await.status, 201);
        let first = link_token(&app.email_to(&email, 1).await, "/verify-email?token=");
        let resent = app
            .post_anonymously("/api/auth/resend-verification", json!({ "email": email }))
            .await;
        assert_eq!(resent.status, 200);
        let second = link_token(&app.email_to(&email, 2).await, "/verify-email?token=");
        assert_ne!(first, second);

        // The student clicks the link in the first email.
        let verified = app
            .post_anonymously(&format!("/api/auth/verify-email/{first}"), json!({}))
            .await;
        assert_eq!(verified.status, 200, "{}", verified.body);
        assert_eq!(verified.body["message"], "Email verified successfully");
        app.login(&email, PASSWORD).await;

        // Once one link is used, every other is void: nothing is left to prove.
        for spent in [&first, &second] {
            let again = app
                .post_anonymously(&format!("/api/auth/verify-email/{spent}"), json!({}))
                .await;
            assert_eq!(again.status, 400, "{}", again.body);
            assert_eq!(again.code(), "invalid_token");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn verification_links_are_single_use_and_expire() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("links");
        assert_eq!(app.signup(&email).await.status, 201);
        let first = link_token(&app.email_to(&email, 1).await, "/verify-email?token=");

        // An expired link fails (expiry moved into the past in the database).
        app.sql("UPDATE account_tokens SET expires_at = 1 WHERE purpose = 'VERIFY_EMAIL' AND used_at IS NULL")
            .await;
        let expired = app
            .post_anonymously(&format!("/api/auth/verify-email/{first}"), json!({}))
            .await;
        assert_eq!(expired.status, 400);
        assert_eq!(expired.code(), "invalid_token");

        // A fresh one works once, then is spent.
        app.post_anonymously("/api/auth/resend-verification", json!({ "email": email }))
            .await;
        let fresh = link_token(&app.email_to(&email, 2).await, "/verify-email?token=");
        let ok = app
            .post_anonymously(&format!("/api/auth/verify-email/{fresh}"), json!({}))
            .await;
        assert_eq!(ok.status, 200);
        let reused = app
            .post_anonymously(&format!("/api/auth/verify-email/{fresh}"), json!({}))
            .await;
        assert_eq!(reused.status, 400);
        let garbage = app
            .post_anonymously("/api/auth/verify-email/nonsense", json!({}))
            .await;
        assert_eq!(garbage.status, 400);

        // Verified: resending sends nothing more, once the worker has acted on the request.
        app.post_anonymously("/api/auth/resend-verification", json!({ "email": email }))
            .await;
        app.outbox_settled().await;
        assert_eq!(app.sink.messages().len(), 2);
        app.stop().await;
    }
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("logout");
        let token = app.verified_user(&email, 1).await;
        let other = app.login(&email, PASSWORD).await;

        let out = app
            .call("POST", "/api/auth/logout", None, Auth::Cookie(&token, None))
            .await;
        assert_eq!(out.status, 200);
        assert_eq!(out.session_cookie().as_deref(), Some(""));
        assert!(
            out.header("set-cookie")
                .is_some_and(|c| c.contains("Max-Age=0"))
        );

        for auth in [Auth::Cookie(&token, None), Auth::Bearer(&token)] {
            let me = app.call("GET", "/api/profile/me", None, auth).await;
            assert_eq!(me.status, 401);
            assert_eq!(me.code(), "unauthorized");
        }
        // Another device's session lives on.
        let me = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&other))
            .await;
        assert_eq!(me.status, 200);

        // No token, or a made-up one: 401.
        assert_eq!(
            app.call("GET", "/api/profile/me", None, Auth::None)
                .await
                .status,
            401
        );
        assert_eq!(
            app.call("GET", "/api/profile/me", None, Auth::Bearer("made-up"))
                .await
                .status,
            401
        );
        // An expired session is refused too. Sessions already used are served from the cache
        // with the expiry they were read with (the app never moves an expiry), so the one
        // expired behind the app's back here is a fresh one.
        let fresh = app.login(&email, PASSWORD).await;
        app.sql("UPDATE sessions SET expires_at = 1").await;
        assert_eq!(
            app.call("GET", "/api/profile/me", None, Auth::Bearer(&fresh))
                .await
                .status,
            401
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn cookie_writes_from_a_foreign_origin_are_refused_but_bearer_writes_are_not() {
    for backend in support::BACKENDS {
        let app = super::start(
            backend,
            &[(
                "ALLOWED_ORIGINS",
                "https://admin.oes.test, http://localhost:5173",
            )],
        )
        .await;
        let email = unique_email("csrf");
        let token = app.verified_user(&email, 1).await;
        let body = json!({
            "fullName": "Asha Rao", "course": "BTECH", "department": "CST",
            "year": "TWO", "semester": "S3", "enrollmentNumber": format!("EN-{}", &email[5..15]),
        });
        // A look-alike host is foreign: matching is exact, not by suffix.
        for origin in [
            "https://evil.example",
            "https://attacker-admin.oes.test",
            "http://app.oes.test.evil.org",
        ] {
            let answer = app
                .call(
                    "PUT",
                    "/api/profile/me",
                    Some(body.clone()),
                    Auth::Cookie(&token, Some(origin)),
                )
                .await;
            assert_eq!(answer.status, 403, "{origin}");
            assert_eq!(answer.code(), "csrf_rejected");
        }
        // A foreign cookie-borne logout is refused as well, and the session survives it.
        let out = app
            .call(
                "POST",
                "/api/auth/logout",
                None,
                Auth::Cookie(&token, Some("https://evil.example")),
            )
            .await;
        assert_eq!(out.status, 403);
        // A foreign Referer counts when Origin is absent.
        let referer = app
            .http
            .put(format!("{}/api/profile/me", app.base))
            .header("cookie", format!("accessToken={token}"))
            .header("referer", "https://evil.example/page")
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(referer.status(), 403);

        for origin in [
            "http://app.oes.test",
            "https://admin.oes.test",
            "http://localhost:5173",
        ] {
            let answer = app
                .call(
                    "PUT",
                    "/api/profile/me",
                    Some(body.clone()),
                    Auth::Cookie(&token, Some(origin)),
                )
                .await;
            assert_eq!(answer.status, 200, "{origin}: {}", answer.body);
        }
        // Reads are not writes; Bearer requests are not sent by browsers on their own.
        let read = app
            .call(
                "GET",
                "/api/profile/me",
                None,
                Auth::Cookie(&token, Some("https://evil.example")),
            )
            .await;
        assert_eq!(read.status, 200);
        let bearer = app
            .http
            .put(format!("{}/api/profile/me", app.base))
            .bearer_auth(&token)
            .header("origin", "https://evil.example")
            .json(&body)
            .send()
            .await
            .expect("answers");
        assert_eq!(bearer.status(), 200);
        app.stop().await;
    }
}

#[tokio::test]
async fn change_password_ends_other_sessions_and_emails_a_notice() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("change");
        let here = app.verified_user(&email, 1).await;
        let elsewhere = app.login(&email, PASSWORD).await;
        let new_password = "brand new secret 7";

        let cases = [
            (
                json!({ "currentPassword": "wrong one 123", "newPassword": new_password }),
                "wrong_password",
            ),
            (
                json!({ "currentPassword": PASSWORD, "newPassword": "short" }),
                "validation_failed",
            ),
            (
                json!({ "currentPassword": PASSWORD, "newPassword": PASSWORD }),
                "same_password",
            ),
        ];
        for (body, code) in cases {
            let answer = app
                .call(
                    "POST",
                    "/api/auth/change-password",
                    Some(body),
                    Auth::Bearer(&here),
                )
                .await;
            assert_eq!(answer.status, 400);
            assert_eq!(answer.code(), code);
        }
        let unauthenticated = app
            .call(
                "POST",
                "/api/auth/change-password",
                Some(json!({ "currentPassword": PASSWORD, "newPassword": new_password })),
                Auth::None,
            )
            .await;
        assert_eq!(unauthenticated.status, 401);

        let changed = app
            .call(
                "POST",
                "/api/auth/change-password",
                Some(json!({ "currentPassword": PASSWORD, "newPassword": new_password })),
                Auth::Bearer(&here),
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.body);
        assert_eq!(changed.body["success"], true);

        assert_eq!(
            app.call("GET", "/api/profile/me", None, Auth::Bearer(&here))
                .await
                .status,
            200
        );
        let revoked = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&elsewhere))
            .await;
        assert_eq!(revoked.status, 401, "the other session ended");

        let notice = app.email_to(&email, 2).await;
        assert!(
            notice
                .subject()
                .unwrap_or_default()
                .to_lowercase()
                .contains("password")
        );

        let old = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(old.status, 401);
        app.login(&email, new_password).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn admin_routes_need_an_admin_made_outside_the_api() {
    use axum::routing::get;
    for backend in support::BACKENDS {
        let extra =
            axum::Router::new()
                .route(
                    "/test/admin",
                    get(
                        |oes_app::http::AdminUser(user): oes_app::http::AdminUser| async move {
                            user.email
                        },
                    ),
                )
                .route(
                    "/test/me",
                    get(|user: oes_app::http::CurrentUser| async move { user.role.as_str() }),
                );
        let app = TestApp::builder(backend)
            .fast_password_hashing()
            .routes(extra)
            .start()
            .await;
        let state = app.server.state().clone();
        let admin_email = unique_email("admin");
        let user_email = unique_email("user");
        create_user(
            &state.db,
            state.config.accounts.password_policy,
            &admin_email,
            "Admin",
            PASSWORD,
            Role::Admin,
            true,
        )
        .await
        .expect("admin created");
        create_user(
            &state.db,
            state.config.accounts.password_policy,
            &user_email,
            "User",
            PASSWORD,
            Role::User,
            true,
        )
        .await
        .expect("user created");
        let unverified = unique_email("unverified");
        create_user(
            &state.db,
            state.config.accounts.password_policy,
            &unverified,
            "Late",
            PASSWORD,
            Role::User,
            false,
        )
        .await
        .expect("created");
        let dup = create_user(
            &state.db,
            state.config.accounts.password_policy,
            &admin_email.to_uppercase(),
            "Again",
            PASSWORD,
            Role::User,
            true,
        )
        .await;
        assert!(dup.is_err(), "emails are unique case-insensitively");

        let admin = app.login(&admin_email, PASSWORD).await;
        let user = app.login(&user_email, PASSWORD).await;
        let as_admin = app
            .call("GET", "/api/test/admin", None, Auth::Bearer(&admin))
            .await;
        assert_eq!(as_admin.status, 200);
        let as_user = app
            .call("GET", "/api/test/admin", None, Auth::Bearer(&user))
            .await;
        assert_eq!(as_user.status, 403);
        assert_eq!(as_user.code(), "forbidden");
        assert_eq!(
            app.call("GET", "/api/test/admin", None, Auth::None)
                .await
                .status,
            401
        );

        // An unverified user holding a session (made directly here) is stopped with 403.
        let unverified_id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&unverified)
            .fetch_one(state.db.pool())
            .await
            .expect("id");
        let mut conn = state.db.pool().acquire().await.expect("conn");
        let (_, token) = oes_app::service::accounts::start_session(
            &mut conn,
            state.config.secret.expose(),
            std::time::Duration::from_secs(60),
            unverified_id.parse().expect("uuid"),
            None,
            None,
        )
        .await
        .expect("session");
        drop(conn);
        let refused = app
            .call("GET", "/api/test/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.code(), "email_not_verified");

        // Signup cannot ask for a role.
        let email = unique_email("sneaky");
        let answer = app
            .post_anonymously(
                "/api/auth/signup",
                json!({ "fullName": "S", "email": email, "password": PASSWORD, "role": "ADMIN" }),
            )
            .await;
        assert_eq!(answer.status, 201);
        let role: String = sqlx::query_scalar("SELECT role FROM users WHERE email = $1")
            .bind(&email)
            .fetch_one(state.db.pool())
            .await
            .expect("role");
        assert_eq!(role, "USER");
        app.stop().await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_account_route() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let doc = app.call("GET", "/api/openapi.json", None, Auth::None).await;
        assert_eq!(doc.status, 200);
        assert!(
            doc.body["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with('3'))
        );
        let paths = &doc.body["paths"];
        for (path, method) in [
            ("/api/auth/signup", "post"),
            ("/api/auth/login", "post"),
            ("/api/auth/logout", "post"),
            ("/api/auth/verify-email/{token}", "post"),
            ("/api/auth/resend-verification", "post"),
            ("/api/auth/forgot-password", "post"),
            ("/api/auth/reset-password", "post"),
            ("/api/auth/change-password", "post"),
            ("/api/profile/me", "get"),
            ("/api/profile/me", "put"),
            ("/api/profile/email", "post"),
            ("/api/profile/email/confirm/{token}", "post"),
        ] {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} is documented"
            );
        }
        let login = &paths["/api/auth/login"]["post"];
        assert!(login["responses"]["429"].is_object());
        let schemas = &doc.body["components"]["schemas"];
        assert!(schemas["SignupBody"]["properties"]["fullName"].is_object());
        assert!(schemas["ProfileView"]["properties"]["profileComplete"].is_object());
        app.stop().await;
    }
}

#[tokio::test]
async fn a_second_signup_for_an_unverified_address_replaces_the_first_password_and_link() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("squat");
        let first_password = "attacker chose 111";
        let second_password = "owner chose 2222";
        // Each link is read as it arrives: the sink answers with the newest email to an address.
        let mut links = Vec::new();
        for (n, name, password) in [
            (1, "Squatter", first_password),
            (2, "Real Owner", second_password),
        ] {
            let answer = app
                .post_anonymously(
                    "/api/auth/signup",
                    json!({ "fullName": name, "email": email, "password": password }),
                )
                .await;
            assert_eq!(answer.status, 201, "{}", answer.body);
            links.push(link_token(
                &app.email_to(&email, n).await,
                "/verify-email?token=",
            ));
        }
        let (first, newest) = (&links[0], &links[1]);
        assert_ne!(first, newest);

        let stale = app
            .post_anonymously(&format!("/api/auth/verify-email/{first}"), json!({}))
            .await;
        assert_eq!(stale.status, 400, "the first signup's link is void");
        let verified = app
            .post_anonymously(&format!("/api/auth/verify-email/{newest}"), json!({}))
            .await;
        assert_eq!(verified.status, 200, "{}", verified.body);

        let old = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": first_password }),
            )
            .await;
        assert_eq!(old.status, 401, "the first password no longer opens it");
        let login = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": second_password }),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.body);
        assert_eq!(login.body["user"]["fullName"], "Real Owner");
        app.stop().await;
    }
}
