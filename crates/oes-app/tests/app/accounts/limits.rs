//! Rate limits and brute-force lockout over HTTP: 429 with Retry-After, per client address and
//! per account, shared through Redis between server processes, counted in process without it.

use crate::support::{self, PASSWORD, unique_email};
use oes_app::RunningServer;
use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use serde_json::json;

#[tokio::test]
async fn login_locks_an_account_after_repeated_failures_even_for_the_right_password() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[("RATE_LIMIT_PER_ACCOUNT", "3")]).await;
        let email = unique_email("lock");
        let other = unique_email("other");
        app.verified_user(&email, 1).await;
        app.verified_user(&other, 2).await;

        for _ in 0..3 {
            let answer = app
                .post_anonymously(
                    "/api/auth/login",
                    json!({ "email": email, "password": "guess guess 1" }),
                )
                .await;
            assert_eq!(answer.status, 401);
        }
        let locked = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email.to_uppercase(), "password": PASSWORD }),
            )
            .await;
        assert_eq!(locked.status, 429, "{}", locked.body);
        assert_eq!(locked.code(), "rate_limited");
        let retry: u64 = locked
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=900).contains(&retry), "{retry}");

        // Other accounts are not locked by it.
        app.login(&other, PASSWORD).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn a_successful_login_clears_earlier_failures() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[("RATE_LIMIT_PER_ACCOUNT", "3")]).await;
        let email = unique_email("clear");
        app.verified_user(&email, 1).await;
        for _ in 0..2 {
            let answer = app
                .post_anonymously(
                    "/api/auth/login",
                    json!({ "email": email, "password": "guess guess 1" }),
                )
                .await;
            assert_eq!(answer.status, 401);
        }
        app.login(&email, PASSWORD).await;
        for _ in 0..2 {
            let answer = app
                .post_anonymously(
                    "/api/auth/login",
                    json!({ "email": email, "password": "guess guess 1" }),
                )
                .await;
            assert_eq!(answer.status, 401, "the count started again");
        }
        app.login(&email, PASSWORD).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn each_public_auth_route_answers_429_once_a_client_address_exceeds_its_limit() {
    for backend in support::BACKENDS {
        let app = super::start(
            backend,
            &[
                ("RATE_LIMIT_PER_IP", "2"),
                // Login counts an address's failures, not its requests.
                ("LOGIN_FAILURES_PER_IP", "2"),
                ("RATE_LIMIT_PER_ACCOUNT", "100"),
            ],
        )
        .await;
        let routes = [
            (
                "/api/auth/login",
                json!({ "email": unique_email("a"), "password": PASSWORD }),
            ),
            (
                "/api/auth/signup",
                json!({ "fullName": "A", "email": unique_email("a"), "password": PASSWORD }),
            ),
            (
                "/api/auth/resend-verification",
                json!({ "email": unique_email("a") }),
            ),
            (
                "/api/auth/forgot-password",
                json!({ "email": unique_email("a") }),
            ),
            (
                "/api/auth/reset-password",
                json!({ "email": unique_email("a"), "otp": "123456", "newPassword": "fresh start 2024" }),
            ),
        ];
        for (path, body) in routes {
            for _ in 0..2 {
                let answer = app.post_anonymously(path, body.clone()).await;
                assert_ne!(answer.status, 429, "{path} limited too early");
            }
            let limited = app.post_anonymously(path, body.clone()).await;
            assert_eq!(limited.status, 429, "{path}: {}", limited.body);
            assert_eq!(limited.code(), "rate_limited");
            assert!(limited.header("retry-after").is_some(), "{path}");
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn forgot_password_limits_an_account_per_address_and_under_a_ceiling_for_all_addresses() {
    for backend in support::BACKENDS {
        let app = super::start(
            backend,
            &[
                ("RATE_LIMIT_PER_ACCOUNT", "2"),
                ("RATE_LIMIT_ACCOUNT_CEILING", "3"),
                ("TRUST_PROXY_HEADERS", "true"),
            ],
        )
        .await;
        let email = unique_email("target");
        let forgot = |ip: &'static str| {
            app.http
                .post(format!("{}/api/auth/forgot-password", app.base))
                .header("x-forwarded-for", ip)
                .json(&json!({ "email": email }))
                .send()
        };
        let mut statuses = Vec::new();
        for ip in [
            "203.0.113.1",
            "203.0.113.1",
            "203.0.113.1",
            "203.0.113.2",
            "203.0.113.3",
        ] {
            statuses.push(forgot(ip).await.expect("answers").status().as_u16());
        }
        // Two from the first address, its third refused without using the account's budget,
        // one more from the second, and the ceiling of three then holds for the third.
        assert_eq!(statuses, [200, 200, 429, 200, 429]);
        app.stop().await;
    }
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_trusted() {
    let app = super::start(Backend::Sqlite, &[("RATE_LIMIT_PER_IP", "2")]).await;
    for i in 0..3 {
        let answer = app
            .http
            .post(format!("{}/api/auth/forgot-password", app.base))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({ "email": unique_email("spoof") }))
            .send()
            .await
            .expect("answers");
        let expected = if i < 2 { 200 } else { 429 };
        assert_eq!(
            answer.status().as_u16(),
            expected,
            "a spoofed header does not buy a new budget"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_a_spoofed_leftmost_forwarded_address_buys_no_new_budget() {
    for backend in support::BACKENDS {
        let app = super::start(
            backend,
            &[
                ("RATE_LIMIT_PER_IP", "2"),
                ("TRUST_PROXY_HEADERS", "true"),
                ("TRUSTED_PROXIES", "127.0.0.1/32, ::1/128"),
            ],
        )
        .await;
        for i in 0..3 {
            // The client wrote the first entry; the trusted proxy (the loopback peer) appended
            // the address it saw.
            let answer = app
                .http
                .post(format!("{}/api/auth/forgot-password", app.base))
                .header("x-forwarded-for", format!("198.51.100.{i}, 203.0.113.7"))
                .json(&json!({ "email": unique_email("spoof") }))
                .send()
                .await
                .expect("answers");
            let expected = if i < 2 { 200 } else { 429 };
            assert_eq!(answer.status().as_u16(), expected, "request {i}");
        }
        // Another client behind the same proxy has its own budget.
        let other = app
            .http
            .post(format!("{}/api/auth/forgot-password", app.base))
            .header("x-forwarded-for", "203.0.113.8")
            .json(&json!({ "email": unique_email("other") }))
            .send()
            .await
            .expect("answers");
        assert_eq!(other.status().as_u16(), 200);
        app.stop().await;
    }
}

#[tokio::test]
async fn two_servers_sharing_redis_share_their_counters() {
    for backend in support::BACKENDS {
        let namespace = format!("oes-test-{}:", uuid::Uuid::new_v4());
        let redis = support::redis_url();
        let shared = [
            ("REDIS_URL", redis.as_str()),
            ("CACHE_NAMESPACE", namespace.as_str()),
            ("RATE_LIMIT_PER_ACCOUNT", "3"),
        ];
        let app = super::start(backend, &shared).await;
        let second = RunningServer::start(
            support::config(&app.test_db.url, &app.var_refs()),
            axum::Router::new(),
        )
        .await
        .expect("second server starts");
        let second_base = format!("http://{}", second.local_addr());

        let email = unique_email("shared");
        app.verified_user(&email, 1).await;
        // Failures spread over the two processes add up.
        for base in [&app.base, &second_base, &app.base] {
            let answer = app
                .http
                .post(format!("{base}/api/auth/login"))
                .json(&json!({ "email": email, "password": "guess guess 1" }))
                .send()
                .await
                .expect("answers");
            assert_eq!(answer.status(), 401);
        }
        let locked = app
            .http
            .post(format!("{second_base}/api/auth/login"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("answers");
        assert_eq!(locked.status(), 429);

        // The counter lives under the cache namespace, with an expiry.
        let client = redis::Client::open(redis.as_str()).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let key = format!("{namespace}rl:login-fail:{email}");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("pttl");
        assert!(ttl > 0, "the window expires: {ttl}");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{namespace}*"))
            .query_async(&mut conn)
            .await
            .expect("keys");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("clean up");
        }
        second.run_until(async {}).await.expect("stops");
        app.stop().await;
    }
}

#[tokio::test]
async fn limits_still_apply_in_process_when_redis_is_down() {
    let mut redis_server = support::OwnRedis::start();
    let url = redis_server.url();
    let app = super::start(
        Backend::Sqlite,
        &[("REDIS_URL", url.as_str()), ("RATE_LIMIT_PER_ACCOUNT", "2")],
    )
    .await;
    let email = unique_email("down");
    app.verified_user(&email, 1).await;

    redis_server.stop();
    for _ in 0..2 {
        let answer = app
            .post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": "guess guess 1" }),
            )
            .await;
        assert_eq!(answer.status, 401);
    }
    let locked = app
        .post_anonymously(
            "/api/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.header("retry-after").is_some());
    // Not stopped gracefully: with its Redis gone, the workers' shutdown may wait out its grace
    // period (WORKER_SHUTDOWN_TIMEOUT_SECS); dropping the runtime ends the test's tasks.
    drop(app);
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_evaluated_no_more_often_than_the_lockout_allows() {
    let redis = support::redis_url();
    for redis_url in [None, Some(redis.as_str())] {
        let mut vars = vec![
            ("RATE_LIMIT_PER_ACCOUNT", "5"),
            ("RATE_LIMIT_PER_IP", "1000"),
            ("RATE_LIMIT_WINDOW_SECS", "2"),
        ];
        if let Some(url) = redis_url {
            vars.push(("REDIS_URL", url));
        }
        let app = super::start(Backend::Sqlite, &vars).await;
        let email = unique_email("race");
        // At the production cost, so that the guesses overlap while their passwords are checked.
        support::user(&app.server.state().db, &email, Role::User, true).await;

        let guesses = (0..25).map(|i| {
            app.post_anonymously(
                "/api/auth/login",
                json!({ "email": email, "password": format!("guess guess {i}") }),
            )
        });
        let answers = futures::future::join_all(guesses).await;
        let evaluated = answers.iter().filter(|a| a.status == 401).count();
        let refused = answers.iter().filter(|a| a.status == 429).count();
        assert_eq!(
            (evaluated, refused),
            (5, 20),
            "redis {redis_url:?}: {:?}",
            answers.iter().map(|a| a.status).collect::<Vec<_>>()
        );

        // The lockout ends with its window.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        app.login(&email, PASSWORD).await;
        app.stop().await;
    }
}
