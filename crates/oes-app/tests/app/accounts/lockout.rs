//! Login limits fit for an exam hall: a campus behind one address signs in its students, a
//! guesser elsewhere cannot lock a student out, and a guesser with many addresses is stopped at
//! the account's ceiling while the student's own device still signs in.

use std::time::Instant;

use futures::StreamExt;
use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use oes_app::service::accounts::{self, HashCost};
use serde_json::{Value, json};

use crate::support::{self, Answer, PASSWORD, TestApp, unique_email};

/// A POST from the client address `ip` (the app trusts the loopback proxy's X-Forwarded-For),
/// with the device cookie when given.
async fn post_from(
    app: &TestApp,
    ip: &str,
    path: &str,
    body: Value,
    device: Option<&str>,
) -> Answer {
    let mut request = app
        .http
        .post(format!("{}{path}", app.base))
        .header("x-forwarded-for", ip)
        .json(&body);
    if let Some(device) = device {
        request = request.header("cookie", format!("oesDevice={device}"));
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn login_from(
    app: &TestApp,
    ip: &str,
    email: &str,
    password: &str,
    device: Option<&str>,
) -> Answer {
    post_from(
        app,
        ip,
        "/api/auth/login",
        json!({ "email": email, "password": password }),
        device,
    )
    .await
}

/// The device cookie a login answer set, with its attributes.
fn device_cookie(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("oesDevice="))
        .map(str::to_owned)
}

fn device_value(answer: &Answer) -> String {
    let cookie = device_cookie(answer).expect("a device cookie");
    cookie["oesDevice=".len()..]
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn behind_a_proxy(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![("TRUST_PROXY_HEADERS", "true")];
    vars.extend_from_slice(extra);
    super::start(backend, &vars).await
}

#[tokio::test]
async fn failures_from_an_attacker_elsewhere_do_not_lock_the_student_out_of_login_or_reset() {
    for backend in support::BACKENDS {
        let app = behind_a_proxy(backend, &[]).await;
        let email = unique_email("victim");
        support::user(&app.server.state().db, &email, Role::User, true).await;
        let attacker = "203.0.113.66";

        for i in 0..5 {
            let answer = login_from(&app, attacker, &email, &format!("guess {i} x"), None).await;
            assert_eq!(answer.status, 401, "guess {i}");
        }
        let refused = login_from(&app, attacker, &email, PASSWORD, None).await;
        assert_eq!(refused.status, 429, "the attacker's address is locked");
        for _ in 0..5 {
            let forgot = post_from(
                &app,
                attacker,
                "/api/auth/forgot-password",
                json!({ "email": email }),
                None,
            )
            .await;
            assert_eq!(forgot.status, 200);
        }

        // The student, from the hall's address, with no history on this server.
        let student = "198.51.100.7";
        let own_reset = post_from(
            &app,
            student,
            "/api/auth/forgot-password",
            json!({ "email": email }),
            None,
        )
        .await;
        assert_eq!(own_reset.status, 200, "{}", own_reset.body);
        let signed_in = login_from(&app, student, &email, PASSWORD, None).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.body);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_guesser_with_a_thousand_addresses_is_stopped_at_the_ceiling_while_a_known_device_signs_in()
 {
    for backend in support::BACKENDS {
        let app = behind_a_proxy(backend, &[]).await;
        let email = unique_email("target");
        support::user(&app.server.state().db, &email, Role::User, true).await;
        let home = login_from(&app, "198.51.100.20", &email, PASSWORD, None).await;
        assert_eq!(home.status, 200);
        let cookie = device_cookie(&home).expect("login sets a device cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/api/auth/login"] {
            assert!(cookie.contains(attribute), "{attribute} in {cookie}");
        }
        let device = device_value(&home);

        let guesses = futures::stream::iter(0..1000u32)
            .map(|i| {
                let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
                let email = email.clone();
                let app = &app;
                async move { login_from(app, &ip, &email, &format!("guess {i} x"), None).await }
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        let evaluated = guesses.iter().filter(|a| a.status == 401).count();
        let refused = guesses.iter().filter(|a| a.status == 429).count();
        assert_eq!(
            (evaluated, refused),
            (20, 980),
            "the default ceiling is 20 failures per account per window"
        );
        assert!(
            guesses
                .iter()
                .all(|a| a.status != 429 || a.code() == "rate_limited")
        );

        let stranger = login_from(&app, "192.0.2.99", &email, PASSWORD, None).await;
        assert_eq!(
            stranger.status, 429,
            "the account is locked for new clients"
        );
        assert!(stranger.header("retry-after").is_some());
        let own = login_from(&app, "192.0.2.99", &email, PASSWORD, Some(&device)).await;
        assert_eq!(
            own.status, 200,
            "the device that signed in before: {}",
            own.body
        );
        assert_eq!(device_value(&own), device, "the device keeps its token");

        // A device token of this account is worth nothing for another one.
        let other = unique_email("other");
        support::user(&app.server.state().db, &other, Role::User, true).await;
        for i in 0..5 {
            let answer = login_from(&app, "192.0.2.50", &other, "guess x 1", Some(&device)).await;
            assert_eq!(answer.status, 401, "guess {i}");
        }
        let borrowed = login_from(&app, "192.0.2.50", &other, PASSWORD, Some(&device)).await;
        assert_eq!(
            borrowed.status, 429,
            "the foreign device token counts as none"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_known_device_has_its_own_small_budget_of_failures() {
    let app = behind_a_proxy(Backend::Sqlite, &[]).await;
    let email = unique_email("device");
    support::user(&app.server.state().db, &email, Role::User, true).await;
    let first = login_from(&app, "198.51.100.30", &email, PASSWORD, None).await;
    let device = device_value(&first);
    for i in 0..5 {
        let ip = format!("192.0.2.{i}");
        let answer = login_from(&app, &ip, &email, "wrong one 1", Some(&device)).await;
        assert_eq!(answer.status, 401, "guess {i}");
    }
    let locked = login_from(&app, "192.0.2.9", &email, PASSWORD, Some(&device)).await;
    assert_eq!(
        locked.status, 429,
        "a stolen device token guesses no faster"
    );
    // The device's failures are its own: a client without it still has its address's budget.
    let fresh = login_from(&app, "192.0.2.9", &email, PASSWORD, None).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    app.stop().await;
}

#[tokio::test]
async fn a_thousand_students_behind_one_address_all_sign_in() {
    for backend in support::BACKENDS {
        // The limits at their defaults; cheap hashes, as the students' are created below.
        let app = support::TestApp::builder(backend)
            .fast_password_hashing()
            .start()
            .await;
        let state = app.server.state();
        let hash = accounts::hash_password(
            &state.password_hashing,
            PASSWORD,
            HashCost {
                memory_kib: 64,
                iterations: 1,
            },
        )
        .await
        .expect("hash");
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let students: Vec<String> = (0..1000)
            .map(|i| format!("hall-{i}-{tag}@example.org"))
            .collect();
        for email in &students {
            accounts::create_passwordless_user(&state.db, email, "Hall Student", Role::User)
                .await
                .expect("student");
        }
        app.sql(&format!(
            "UPDATE users SET password_hash = '{hash}' WHERE email LIKE 'hall-%-{tag}@example.org'"
        ))
        .await;

        let started = Instant::now();
        // One in ten mistypes their password first, from the same address as everyone else.
        let answers = futures::stream::iter(students.iter().enumerate())
            .map(|(i, email)| {
                let app = &app;
                async move {
                    if i % 10 == 0 {
                        let typo = app
                            .post_anonymously(
                                "/api/auth/login",
                                json!({ "email": email, "password": "correct horse 24" }),
                            )
                            .await;
                        assert_eq!(typo.status, 401, "{}", typo.body);
                    }
                    app.post_anonymously(
                        "/api/auth/login",
                        json!({ "email": email, "password": PASSWORD }),
                    )
                    .await
                }
            })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await;
        let elapsed = started.elapsed();
        let failed: Vec<(u16, &Value)> = answers
            .iter()
            .filter(|a| a.status != 200)
            .map(|a| (a.status, &a.body))
            .collect();
        assert!(
            failed.is_empty(),
            "{} of 1000 failed: {:?}",
            failed.len(),
            &failed[..failed.len().min(5)]
        );
        // A figure for docs/PERFORMANCE.md, not an assertion.
        println!("{backend:?}: 1000 students and 100 typos from one address in {elapsed:?}");
        app.stop().await;
    }
}
