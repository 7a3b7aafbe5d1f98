//! The monitoring API over HTTP: admin-only guard, queue counts, failed jobs with reasons,
//! retries, job status, cache statistics and Redis facts, in embedded and Redis mode.

use super::{ADMIN_EMAIL, STUDENT_EMAIL};
use crate::support::{self, Answer, Auth, PASSWORD, TestApp};
use oes_app::db::Backend;
use serde_json::Value;

const ADMIN_ROUTES: [(&str, &str); 7] = [
    ("GET", "/api/admin/queues"),
    ("GET", "/api/admin/queues/email/failed"),
    ("POST", "/api/admin/queues/email/retry"),
    ("GET", "/api/admin/queues/email/jobs/some-job"),
    ("POST", "/api/admin/queues/email/jobs/some-job/retry"),
    ("GET", "/api/admin/cache"),
    ("GET", "/api/admin/redis"),
];

#[tokio::test]
async fn monitoring_routes_refuse_anonymous_callers_and_students() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let student = app.login(STUDENT_EMAIL, PASSWORD).await;
        for (method, path) in ADMIN_ROUTES {
            let Answer { status, body, .. } = app.call(method, path, None, Auth::None).await;
            assert_eq!(status, 401, "{method} {path} anonymous: {body}");
            assert!(body["code"].is_string(), "{method} {path}: {body}");
            let Answer { status, body, .. } =
                app.call(method, path, None, Auth::Bearer(&student)).await;
            assert_eq!(status, 403, "{method} {path} as a student: {body}");
        }
        app.stop().await;
    }
}

/// Fails one email job, finds it through the API with its reason, retries it once the SMTP
/// server accepts again, and sees it complete.
async fn failed_email_job_round_trip(app: &TestApp, token: &str, job_id: &str) {
    app.sink.refuse(oes_mail::sink::Refusal::permanent_rcpt());
    app.add_email_job(job_id, "someone@example.com").await;
    let failed = app.wait_for_job(token, "email", job_id, "failed").await;
    assert_eq!(failed["attemptsMade"], 1, "{failed}");

    let Answer {
        status, body: page, ..
    } = app
        .get("/api/admin/queues/email/failed?page=1&limit=10", token)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1, "{page}");
    let job = &page["jobs"][0];
    assert_eq!(job["id"], job_id);
    assert_eq!(job["name"], "send-email");
    let reason = job["failedReason"].as_str().expect("a failure reason");
    assert!(
        reason.contains("550"),
        "reason names the SMTP refusal: {reason}"
    );
    assert_eq!(job["data"]["to"], "someone@example.com");
    assert_eq!(job["data"]["html"], "[redacted]", "bodies stay hidden");
    assert!(!page.to_string().contains("314159"), "{page}");

    let Answer { body: overview, .. } = app.get("/api/admin/queues", token).await;
    let email = queue(&overview, "email");
    assert_eq!(email["counts"]["failed"], 1, "{overview}");

    app.sink.accept_all();
    let path = format!("/api/admin/queues/email/jobs/{job_id}/retry");
    let Answer { status, body, .. } = app.call("POST", &path, None, Auth::Bearer(token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["retried"], 1);
    app.wait_for_job(token, "email", job_id, "completed").await;
    let delivered = app
        .sink
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(delivered.len(), 1);

    let Answer { status, body, .. } = app.call("POST", &path, None, Auth::Bearer(token)).await;
    assert_eq!(status, 409, "a completed job is not retried: {body}");
    assert_eq!(body["code"], "not_failed");
    let Answer { body: page, .. } = app.get("/api/admin/queues/email/failed", token).await;
    assert_eq!(page["total"], 0, "{page}");
}

fn queue<'a>(overview: &'a Value, name: &str) -> &'a Value {
    overview["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .find(|q| q["name"] == name)
        .unwrap_or_else(|| panic!("queue {name} missing from {overview}"))
}

#[tokio::test]
async fn a_failed_email_job_is_listed_with_its_reason_and_retried_to_completion_embedded() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let token = app.login(ADMIN_EMAIL, PASSWORD).await;
        failed_email_job_round_trip(&app, &token, "ops-embedded-1").await;
        let Answer { body: overview, .. } = app.get("/api/admin/queues", &token).await;
        assert_eq!(overview["mode"], "embedded");
        let names: Vec<&str> = overview["queues"]
            .as_array()
            .expect("queues")
            .iter()
            .filter_map(|q| q["name"].as_str())
            .collect();
        for expected in ["email", "score-calculation", "auto-submit"] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        let email = queue(&overview, "email");
        assert_eq!(email["worker"]["completed"], 1, "{overview}");
        assert_eq!(email["worker"]["failed"], 1, "{overview}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_failed_email_job_is_retried_through_bullmq_in_redis_mode() {
    let prefix = support::unique_prefix("mon");
    let _cleanup = support::RedisCleanup::new([prefix.clone()]);
    let namespace = format!("{prefix}:cache:");
    let redis_url = support::redis_url();
    let app = super::start(
        Backend::Sqlite,
        &[
            ("REDIS_URL", &redis_url),
            ("QUEUE_PREFIX", &prefix),
            ("CACHE_NAMESPACE", &namespace),
        ],
    )
    .await;
    let token = app.login(ADMIN_EMAIL, PASSWORD).await;
    // The workers start once the BullMQ connection is up.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.get("/api/admin/queues", &token).await.status != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "queues never came up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    failed_email_job_round_trip(&app, &token, "ops-redis-1").await;
    let Answer { body: overview, .. } = app.get("/api/admin/queues", &token).await;
    assert_eq!(overview["mode"], "redis");

    // Retry all: two failures, one call.
    app.sink.refuse(oes_mail::sink::Refusal::permanent_rcpt());
    app.add_email_job("ops-redis-2", "a@example.com").await;
    app.add_email_job("ops-redis-3", "b@example.com").await;
    app.wait_for_job(&token, "email", "ops-redis-2", "failed")
        .await;
    app.wait_for_job(&token, "email", "ops-redis-3", "failed")
        .await;
    app.sink.accept_all();
    let Answer { status, body, .. } = app
        .call(
            "POST",
            "/api/admin/queues/email/retry",
            None,
            Auth::Bearer(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["retried"], 2);
    app.wait_for_job(&token, "email", "ops-redis-2", "completed")
        .await;
    app.wait_for_job(&token, "email", "ops-redis-3", "completed")
        .await;

    let Answer {
        status,
        body: facts,
        ..
    } = app.get("/api/admin/redis", &token).await;
    assert_eq!(status, 200, "{facts}");
    assert_eq!(facts["mode"], "redis");
    assert_eq!(facts["queues"]["reachable"], true, "{facts}");
    assert!(facts["queues"]["version"].is_string(), "{facts}");
    assert!(facts["queues"]["usedMemory"].is_u64(), "{facts}");
    let policy = facts["queues"]["maxmemoryPolicy"]
        .as_str()
        .expect("a policy");
    let warns = facts["warnings"].to_string();
    assert_eq!(
        policy != "noeviction",
        warns.contains("maxmemory-policy"),
        "a warning exactly when the policy can evict: {facts}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_queue_redis_that_may_evict_keys_is_reported_with_a_warning() {
    let redis = support::OwnRedis::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let prefix = support::unique_prefix("evict");
    let app = super::start(
        Backend::Sqlite,
        &[("REDIS_URL", &redis.url()), ("QUEUE_PREFIX", &prefix)],
    )
    .await;
    let token = app.login(ADMIN_EMAIL, PASSWORD).await;
    let Answer {
        status,
        body: facts,
        ..
    } = app.get("/api/admin/redis", &token).await;
    assert_eq!(status, 200, "{facts}");
    assert_eq!(facts["queues"]["maxmemoryPolicy"], "allkeys-lru", "{facts}");
    assert_eq!(facts["cacheSharesQueueRedis"], true, "{facts}");
    let warnings = facts["warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("allkeys-lru"))),
        "{facts}"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_queues_and_jobs_answer_404_and_bad_paging_400() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[]).await;
        let token = app.login(ADMIN_EMAIL, PASSWORD).await;
        for path in [
            "/api/admin/queues/no-such-queue/failed",
            "/api/admin/queues/no-such-queue/jobs/x",
            "/api/admin/queues/email/jobs/never-added",
            "/api/admin/queues/email/jobs/42",
        ] {
            let Answer { status, body, .. } = app.get(path, &token).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["code"], "not_found", "{path}: {body}");
        }
        for (method, path) in [
            ("POST", "/api/admin/queues/no-such-queue/retry"),
            ("POST", "/api/admin/queues/email/jobs/never-added/retry"),
        ] {
            let Answer { status, body, .. } =
                app.call(method, path, None, Auth::Bearer(&token)).await;
            assert_eq!(status, 404, "{path}: {body}");
        }
        for query in ["page=0", "limit=0", "limit=101", "page=abc", "limit=-3"] {
            let path = format!("/api/admin/queues/email/failed?{query}");
            let Answer { status, body, .. } = app.get(&path, &token).await;
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(body["code"], "bad_request", "{query}: {body}");
        }
        let Answer {
            status, body: page, ..
        } = app
            .get("/api/admin/queues/email/failed?page=2&limit=5", &token)
            .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["page"], 2);
        assert_eq!(page["limit"], 5);
        assert_eq!(page["jobs"], serde_json::json!([]));
        app.stop().await;
    }
}

#[tokio::test]
async fn failed_jobs_are_paged_most_recent_first() {
    let app = super::start(Backend::Sqlite, &[]).await;
    let token = app.login(ADMIN_EMAIL, PASSWORD).await;
    app.sink.refuse(oes_mail::sink::Refusal::permanent_rcpt());
    for i in 1..=3 {
        let id = format!("ops-page-{i}");
        app.add_email_job(&id, "p@example.com").await;
        app.wait_for_job(&token, "email", &id, "failed").await;
    }
    let ids = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .filter_map(|j| j["id"].as_str().map(str::to_owned))
            .collect()
    };
    let Answer { body: first, .. } = app
        .get("/api/admin/queues/email/failed?page=1&limit=2", &token)
        .await;
    let Answer { body: second, .. } = app
        .get("/api/admin/queues/email/failed?page=2&limit=2", &token)
        .await;
    assert_eq!(first["total"], 3);
    assert_eq!(ids(&first), ["ops-page-3", "ops-page-2"]);
    assert_eq!(ids(&second), ["ops-page-1"]);
    app.stop().await;
}

#[tokio::test]
async fn cache_statistics_count_hits_per_tier_and_redis_facts_say_embedded_without_redis() {
    let app = super::start(Backend::Sqlite, &[]).await;
    let token = app.login(ADMIN_EMAIL, PASSWORD).await;
    // The profile is a cached read: the first load misses, the next ones hit the memory tier.
    for _ in 0..3 {
        let Answer { status, body, .. } = app.get("/api/profile/me", &token).await;
        assert_eq!(status, 200, "{body}");
    }
    let Answer {
        status,
        body: cache,
        ..
    } = app.get("/api/admin/cache", &token).await;
    assert_eq!(status, 200, "{cache}");
    assert_eq!(cache["tiers"], "memory");
    assert!(cache["loads"].as_u64() >= Some(1), "{cache}");
    assert!(cache["l1Hits"].as_u64() >= Some(2), "{cache}");
    let rate = cache["hitRate"]
        .as_f64()
        .expect("a hit rate once reads happened");
    assert!(rate > 0.0 && rate <= 1.0, "{cache}");
    assert_eq!(cache["l2HitRate"], Value::Null, "no Redis tier: {cache}");

    let Answer {
        status,
        body: facts,
        ..
    } = app.get("/api/admin/redis", &token).await;
    assert_eq!(status, 200, "{facts}");
    assert_eq!(facts["mode"], "embedded");
    assert_eq!(facts["queues"], Value::Null);
    assert_eq!(facts["warnings"], serde_json::json!([]));
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_queue_redis_answers_503_for_queues_and_says_so_in_redis_facts() {
    // Nothing listens on this port: the app starts degraded.
    let dead = format!("redis://127.0.0.1:{}", support::free_port());
    let prefix = support::unique_prefix("down");
    let app = super::start(
        Backend::Sqlite,
        &[
            ("REDIS_URL", &dead),
            ("QUEUE_PREFIX", &prefix),
            ("METRICS_TOKEN", "metrics-token-for-tests-0123456789"),
        ],
    )
    .await;
    let token = app.login(ADMIN_EMAIL, PASSWORD).await;
    for path in [
        "/api/admin/queues",
        "/api/admin/queues/email/failed",
        "/api/admin/queues/email/jobs/some-job",
    ] {
        let Answer { status, body, .. } = app.get(path, &token).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["code"], "queue_unavailable", "{path}: {body}");
    }
    let Answer {
        status,
        body: facts,
        ..
    } = app.get("/api/admin/redis", &token).await;
    assert_eq!(status, 200, "{facts}");
    assert_eq!(facts["queues"]["reachable"], false, "{facts}");
    assert!(
        facts["warnings"].to_string().contains("unreachable"),
        "{facts}"
    );
    assert!(!facts.to_string().contains(&dead), "no URLs in answers");
    let Answer {
        status,
        body: cache,
        ..
    } = app.get("/api/admin/cache", &token).await;
    assert_eq!(status, 200, "{cache}");
    assert_eq!(cache["redisConnected"], false, "{cache}");

    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth("metrics-token-for-tests-0123456789")
        .send()
        .await
        .expect("metrics answers")
        .text()
        .await
        .expect("body");
    assert!(metrics.lines().any(|l| l == "oes_queue_up 0"), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_page_and_its_assets_are_served_same_origin_only() {
    let app = super::start(Backend::Sqlite, &[]).await;
    for (path, content_type, marker) in [
        ("/admin/queues", "text/html", "dashboard.js"),
        (
            "/admin/queues/dashboard.js",
            "text/javascript",
            "/admin/queues",
        ),
        ("/admin/queues/dashboard.css", "text/css", "font-family"),
        ("/admin/queues/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("answers");
        assert_eq!(resp.status(), 200, "{path}");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        let body = resp.text().await.expect("body");
        assert!(body.contains(marker), "{path}");
        for external in ["src=\"http", "href=\"http", "url(http", "fetch('http"] {
            assert!(!body.contains(external), "{path} loads from elsewhere");
        }
    }
    app.stop().await;
}
