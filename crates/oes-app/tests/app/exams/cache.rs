//! The exam area's caching over HTTP on SQLite and PostgreSQL, with the in-process cache and
//! with Redis (cache and BullMQ queues under a unique namespace and prefix, removed afterwards):
//! a start storm loads the paper from the database once; the cached paper carries no answer
//! keys; writes invalidate what they change.

use super::on_each_backend;
use crate::support::{self, TestApp};
use serde_json::json;

const STUDENTS: usize = 300;

pub(super) async fn remove_redis_keys(prefix: &str) {
    let client = redis::Client::open(support::redis_url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let keys: Vec<String> = {
        let mut iter: redis::AsyncIter<String> =
            redis::AsyncCommands::scan_match(&mut conn, format!("{prefix}*"))
                .await
                .expect("scan");
        let mut keys = Vec::new();
        while let Some(k) = iter.next_item().await {
            keys.push(k.expect("key"));
        }
        keys
    };
    for chunk in keys.chunks(500) {
        let _: () = redis::cmd("UNLINK")
            .arg(chunk)
            .query_async(&mut conn)
            .await
            .expect("unlink");
    }
}

async fn start_storm(app: TestApp, cache_must_hold_paper: bool) -> TestApp {
    let q = app.single("1", "0").await;
    let m = app.multiple("2", "0.5").await;
    let exam = app.live_exam(&[&q, &m], 3600, 30).await;
    let mut tokens = Vec::with_capacity(STUDENTS);
    for i in 0..STUDENTS {
        tokens.push(app.student(&format!("Student {i}")).await.1);
    }
    // Every student starts and at once loads the paper, all together: the starts invalidate
    // each student's own cached list while the paper is being loaded.
    let start_path = format!("/api/exam-attempt/{exam}/start");
    let load_path = format!("/api/exam-attempt/{exam}/attempt");
    let storm = tokens.iter().map(|t| {
        let (app, start_path, load_path) = (&app, &start_path, &load_path);
        async move {
            let started = app.post(start_path, json!({}), t).await;
            assert_eq!(started.status, 201, "{started:?}");
            app.get(load_path, t).await
        }
    });
    let answers = futures::future::join_all(storm).await;
    let failed: Vec<_> = answers.iter().filter(|a| a.status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} failed, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    assert_eq!(
        app.server.state().exam_stats.paper_loads(),
        1,
        "{STUDENTS} concurrent starts and loads read the paper from the database once"
    );
    // Later loads keep coming from memory.
    let again = app.get(&load_path, &tokens[1]).await;
    assert_eq!(again.status, 200);
    assert_eq!(app.server.state().exam_stats.paper_loads(), 1);
    let cached: Option<serde_json::Value> = app
        .server
        .state()
        .cache
        .get(&oes_cache::keys::exam_questions(&exam))
        .await;
    // With Redis the paper lands in the shared tier; the in-process tier may skip its fill
    // when other keys are invalidated during the load (the memo then holds it instead).
    assert!(
        !cache_must_hold_paper || cached.is_some(),
        "the paper is in Redis"
    );
    if let Some(cached) = cached {
        assert_eq!(cached.as_array().map(Vec::len), Some(2));
        let text = cached.to_string();
        assert!(
            !text.contains("isCorrect")
                && !text.contains("is_correct")
                && !text.contains("numerical\"")
        );
    }

    // A submit is scored by the score-calculation worker (BullMQ with Redis).
    let sub = app
        .post(
            &format!("/api/exam-attempt/{exam}/submit"),
            json!({}),
            &tokens[0],
        )
        .await;
    assert_eq!(sub.status, 200);
    let attempt = sub.body["attemptId"].as_str().expect("attempt").to_owned();
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let scored = loop {
        let scored = app
            .scalar_i64(
                "SELECT COUNT(*) FROM exam_attempts WHERE id = $1 AND scored_at IS NOT NULL",
                &attempt,
            )
            .await;
        if scored == 1 || std::time::Instant::now() > give_up {
            break scored;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(scored, 1, "the score job ran");
    app
}

#[tokio::test]
async fn a_start_storm_loads_the_paper_once_with_the_in_process_cache() {
    on_each_backend(&[], |app| start_storm(app, false)).await;
}

#[tokio::test]
async fn a_start_storm_loads_the_paper_once_with_redis_cache_and_queues() {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let namespace = format!("oes-test-{tag}:");
    let prefix = format!("oes-test-{tag}q");
    let url = support::redis_url();
    on_each_backend(
        &[
            ("REDIS_URL", &url),
            ("CACHE_REDIS_URL", &url),
            ("CACHE_NAMESPACE", &namespace),
            ("QUEUE_PREFIX", &prefix),
        ],
        |app: TestApp| async move {
            let app = start_storm(app, true).await;
            app.server
                .state()
                .cache
                .clear()
                .await
                .expect("cache cleared");
            app
        },
    )
    .await;
    remove_redis_keys(&namespace).await;
    remove_redis_keys(&prefix).await;
}

#[tokio::test]
async fn writes_invalidate_the_cached_exam_and_lists() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let (_, student) = app.student("Asha").await;
        let exam = app.exam(-60, 3600, 30).await;
        app.add(&exam, &[&q]).await;
        // The draft is looked up (and its row cached) by a refused start...
        let refused = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(refused.code(), "exam_not_available");
        let live = app.get("/api/exam/live", &student).await;
        assert_eq!(live.body["exams"].as_array().map(Vec::len), Some(0));
        // ...and publishing is seen at once by both.
        app.publish(&exam).await;
        let live = app.get("/api/exam/live", &student).await;
        assert_eq!(live.body["exams"][0]["id"], exam.as_str());
        let started = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(started.status, 201, "{started:?}");
        // The student's own list follows their submit.
        let live = app.get("/api/exam/live", &student).await;
        assert_eq!(live.body["exams"][0]["attemptStatus"], "IN_PROGRESS");
        app.post(
            &format!("/api/exam-attempt/{exam}/submit"),
            json!({}),
            &student,
        )
        .await;
        let live = app.get("/api/exam/live", &student).await;
        assert_eq!(live.body["exams"][0]["attemptStatus"], "SUBMITTED");

        // A draft's details are updated and the cached row follows.
        let draft = app.exam(-60, 3600, 30).await;
        app.add(&draft, &[&q]).await;
        app.post(
            &format!("/api/exam-attempt/{draft}/start"),
            json!({}),
            &student,
        )
        .await;
        let upd = app
            .put(
                &format!("/api/exam/{draft}"),
                json!({ "endTime": super::rfc3339(120), "durationMinutes": 1 }),
                &app.admin,
            )
            .await;
        assert_eq!(upd.status, 200, "{upd:?}");
        app.publish(&draft).await;
        let s = app
            .post(
                &format!("/api/exam-attempt/{draft}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(s.status, 201, "{s:?}");
        let paper = app
            .get(&format!("/api/exam-attempt/{draft}/attempt"), &student)
            .await;
        let remaining = paper.body["remainingSeconds"].as_i64().expect("remaining");
        assert!(
            remaining <= 60,
            "the updated duration is used, not a stale cached one: {remaining}"
        );
        app
    })
    .await;
}
