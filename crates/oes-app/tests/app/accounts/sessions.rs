//! Sessions resolved from the cache: what the speed must not break. A session ended on one
//! server process is refused by every other at its next request (the processes share one
//! Redis and drop their in-process copies on its invalidation messages), and without Redis the
//! same code resolves sessions from the in-process cache alone.

use crate::support::{self, Auth, Client, PASSWORD, RedisCleanup, TestApp, unique_email};
use oes_app::RunningServer;
use oes_app::db::Backend;

/// Two servers on one database and one Redis cache namespace.
async fn two_servers(backend: Backend) -> (TestApp, RunningServer, Client, RedisCleanup) {
    let namespace = format!("oes-test-{}:", uuid::Uuid::new_v4());
    let cleanup = RedisCleanup::new([namespace.clone()]);
    let redis = support::redis_url();
    let shared = [
        ("REDIS_URL", redis.as_str()),
        ("CACHE_NAMESPACE", namespace.as_str()),
    ];
    let app = super::start(backend, &shared).await;
    let second = RunningServer::start(
        support::config(&app.test_db.url, &app.var_refs()),
        axum::Router::new(),
    )
    .await
    .expect("second server starts");
    let client = Client::new(format!("http://{}", second.local_addr()));
    (app, second, client, cleanup)
}

async fn status_of_me(client: &Client, token: &str) -> u16 {
    client
        .call("GET", "/api/profile/me", None, Auth::Bearer(token))
        .await
        .status
}

#[tokio::test]
async fn a_logout_on_one_server_makes_the_token_fail_on_the_other_at_its_next_request() {
    for backend in support::BACKENDS {
        let (app, second, b, _cleanup) = two_servers(backend).await;
        let email = unique_email("logout-across");
        let token = app.verified_user(&email, 1).await;

        // B resolves the session, then serves it from its own memory.
        assert_eq!(status_of_me(&b, &token).await, 200);
        let before = second.state().cache.stats().l1_hits;
        assert_eq!(status_of_me(&b, &token).await, 200);
        assert!(
            second.state().cache.stats().l1_hits > before,
            "the second request on B found the session in B's L1"
        );

        let out = app
            .call("POST", "/api/auth/logout", None, Auth::Bearer(&token))
            .await;
        assert_eq!(out.status, 200);
        assert_eq!(status_of_me(&b, &token).await, 401, "{backend:?}");
        assert_eq!(status_of_me(&app.client, &token).await, 401);

        second.run_until(async {}).await.expect("stops");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_password_change_on_one_server_ends_the_other_sessions_on_the_other() {
    for backend in support::BACKENDS {
        let (app, second, b, _cleanup) = two_servers(backend).await;
        let email = unique_email("change-across");
        let here = app.verified_user(&email, 1).await;
        let elsewhere = app.login(&email, PASSWORD).await;
        for token in [&here, &elsewhere] {
            assert_eq!(status_of_me(&b, token).await, 200);
        }

        let changed = app
            .call(
                "POST",
                "/api/auth/change-password",
                Some(serde_json::json!({
                    "currentPassword": PASSWORD,
                    "newPassword": "a brand new passphrase 7"
                })),
                Auth::Bearer(&here),
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.body);
        assert_eq!(status_of_me(&b, &elsewhere).await, 401, "{backend:?}");
        assert_eq!(
            status_of_me(&b, &here).await,
            200,
            "the changing session lives on"
        );

        second.run_until(async {}).await.expect("stops");
        app.stop().await;
    }
}

#[tokio::test]
async fn without_redis_sessions_resolve_from_memory_and_still_end_at_logout() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let email = unique_email("embedded-session");
        let token = app.verified_user(&email, 1).await;
        assert_eq!(status_of_me(&app.client, &token).await, 200);
        let before = app.server.state().cache.stats().l1_hits;
        assert_eq!(status_of_me(&app.client, &token).await, 200);
        assert!(app.server.state().cache.stats().l1_hits > before);

        let out = app
            .call("POST", "/api/auth/logout", None, Auth::Bearer(&token))
            .await;
        assert_eq!(out.status, 200);
        assert_eq!(status_of_me(&app.client, &token).await, 401);
        app.stop().await;
    }
}

#[tokio::test]
async fn a_cache_redis_that_is_down_makes_sessions_database_reads_not_errors() {
    for backend in support::BACKENDS {
        // Port 1 refuses at once: the cache runs fail-open from the start.
        let app = super::start(backend, &[("CACHE_REDIS_URL", "redis://127.0.0.1:1")]).await;
        let email = unique_email("cache-down");
        let token = app.verified_user(&email, 1).await;
        for _ in 0..3 {
            assert_eq!(status_of_me(&app.client, &token).await, 200);
        }
        let out = app
            .call("POST", "/api/auth/logout", None, Auth::Bearer(&token))
            .await;
        assert_eq!(out.status, 200);
        assert_eq!(status_of_me(&app.client, &token).await, 401);
        app.stop().await;
    }
}
