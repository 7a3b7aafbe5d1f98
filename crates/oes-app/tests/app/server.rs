//! The server over HTTP: probes, the one error shape, body limits, degraded Redis.

use crate::support::{self, TestDb};
use axum::Router;
use axum::routing::post;
use oes_app::db::Backend;
use oes_app::http::ApiJson;
use oes_app::{AppState, RunningServer};
use serde_json::Value;

#[derive(serde::Deserialize)]
struct Echo {
    name: String,
}

/// A route that reads a JSON body, to exercise the JSON error mapping.
fn echo_route() -> Router<AppState> {
    Router::new().route(
        "/test/echo",
        post(|ApiJson(body): ApiJson<Echo>| async move { body.name }),
    )
}

async fn start(db: &TestDb, extra: &[(&str, &str)]) -> RunningServer {
    RunningServer::start(support::config(&db.url, extra), echo_route())
        .await
        .expect("server starts")
}

#[tokio::test]
async fn the_server_answers_health_on_an_ephemeral_port_without_echoing_the_caller() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &[]).await;
    assert_ne!(server.local_addr().port(), 0);
    let resp = reqwest::get(format!("http://{}/api/health", server.local_addr()))
        .await
        .expect("health answers");
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    assert!(
        !body.contains("127.0.0.1"),
        "health echoes the address: {body}"
    );
    let json: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["success"], true);
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &[]).await;
    let resp = reqwest::get(format!("http://{}/api/no/such/route", server.local_addr()))
        .await
        .expect("answers");
    assert_eq!(resp.status(), 404);
    let json: Value = resp.json().await.expect("json body");
    assert_eq!(json["code"], "not_found");
    assert!(json["message"].is_string());
}

#[tokio::test]
async fn malformed_json_is_a_400_and_the_wrong_shape_a_422() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &[]).await;
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/test/echo", server.local_addr());
    let send = |body: &'static str| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let resp = send("{\"name\": ").await.expect("answers");
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["code"],
        "malformed_json"
    );

    let resp = send("{\"nom\": 1}").await.expect("answers");
    assert_eq!(resp.status(), 422);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["code"],
        "invalid_body"
    );

    let resp = send("{\"name\": \"ok\"}").await.expect("answers");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.expect("text"), "ok");
}

#[tokio::test]
async fn oversized_bodies_get_a_json_413() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &[("BODY_LIMIT_BYTES", "1024")]).await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(4096));
    let resp = reqwest::Client::new()
        .post(format!("http://{}/api/test/echo", server.local_addr()))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["code"],
        "payload_too_large"
    );
}

#[tokio::test]
async fn unreachable_redis_gives_a_degraded_but_serving_process() {
    let db = TestDb::new(Backend::Sqlite).await;
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let server = start(&db, &[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let base = format!("http://{}", server.local_addr());
    let health = reqwest::get(format!("{base}/api/health"))
        .await
        .expect("answers");
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{base}/api/ready"))
        .await
        .expect("answers");
    assert_eq!(
        ready.status(),
        200,
        "the database is up, so the process is ready"
    );
    let json: Value = ready.json().await.expect("json");
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["redis"]["status"], "down");
    assert_eq!(json["database"]["status"], "up");
}

#[tokio::test]
async fn redis_mode_on_postgres_reports_both_ready() {
    let db = TestDb::new(Backend::Postgres).await;
    let prefix = format!("oes-test-{}", uuid::Uuid::new_v4().simple());
    let namespace = format!("{prefix}-cache:");
    let _cleanup = support::RedisCleanup::new([prefix.clone(), namespace.clone()]);
    let server = start(
        &db,
        &[
            ("REDIS_URL", &support::redis_url()),
            ("QUEUE_PREFIX", &prefix),
            ("CACHE_NAMESPACE", &namespace),
        ],
    )
    .await;
    let ready = reqwest::get(format!("http://{}/api/ready", server.local_addr()))
        .await
        .expect("answers");
    assert_eq!(ready.status(), 200);
    let json: Value = ready.json().await.expect("json");
    assert_eq!(json["status"], "ready", "{json}");
    assert_eq!(json["mode"], "redis");
    assert_eq!(json["database"]["backend"], "postgres");
    assert_eq!(json["redis"]["status"], "up");
    server.run_until(async {}).await.expect("clean shutdown");
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &[]).await;
    server.state().db.close().await;
    let ready = reqwest::get(format!("http://{}/api/ready", server.local_addr()))
        .await
        .expect("answers");
    assert_eq!(ready.status(), 503);
    let json: Value = ready.json().await.expect("json");
    assert_eq!(json["database"]["status"], "down");
}

#[tokio::test]
async fn a_failed_start_up_releases_the_database_and_names_the_cause() {
    let db = TestDb::new(Backend::Sqlite).await;
    let first = start(&db, &[]).await;
    let port = first.local_addr().port().to_string();
    // Same port again: binding fails after the database was opened.
    let err = RunningServer::start(support::config(&db.url, &[("PORT", &port)]), Router::new())
        .await
        .err()
        .expect("the second server cannot bind");
    assert!(err.to_string().contains("cannot listen"), "{err}");
}

#[tokio::test]
async fn shutdown_stays_bounded_when_redis_died_while_serving() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut redis = support::OwnRedis::start();
    let url = redis.url();
    let server = start(
        &db,
        &[
            ("REDIS_URL", &url),
            ("QUEUE_PREFIX", "oes-test"),
            ("SHUTDOWN_TIMEOUT_SECS", "2"),
            ("WORKER_SHUTDOWN_TIMEOUT_SECS", "3"),
        ],
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.state().jobs.backend().await.is_none() {
        assert!(std::time::Instant::now() < deadline, "jobs never connected");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    redis.stop();
    let started = std::time::Instant::now();
    let stopped = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        server.run_until(async {}),
    )
    .await;
    eprintln!("shutdown with a dead Redis took {:?}", started.elapsed());
    // Bounded by the two grace periods (2 s HTTP, 3 s for all workers at once) plus closing.
    assert!(
        stopped.is_ok(),
        "shutdown did not finish within 30 s of a Redis death"
    );
}
