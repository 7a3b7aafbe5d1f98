//! The paper route as bytes, on SQLite and PostgreSQL with the Redis cache: what its speed must
//! not break — gzip and identity are one document, a submitted or auto-submitted attempt takes
//! no answers and gets no paper even when the attempt was cached open, and the paper follows the
//! exam's questions and marks as of publishing.

use std::io::Read;

use super::{on_each_backend, option_id};
use crate::support::{self, TestApp};
use serde_json::{Value, json};

/// Runs `test` on each backend with the two-tier cache on Redis, in a namespace of its own.
async fn with_redis<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = TestApp>,
{
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
        test,
    )
    .await;
    super::cache::remove_redis_keys(&namespace).await;
    super::cache::remove_redis_keys(&prefix).await;
}

/// The raw answer to GET `path`: status, headers and undecoded body.
async fn raw_get(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .http
        .get(format!("{}{path}", app.client.base))
        .bearer_auth(token);
    if let Some(accept) = accept {
        req = req.header("Accept-Encoding", accept);
    }
    req.send().await.expect("request sent")
}

#[tokio::test]
async fn the_gzip_and_identity_papers_are_the_same_document_after_decoding() {
    with_redis(|app: TestApp| async move {
        let s = app.single("1", "0").await;
        let m = app.multiple("2", "0").await;
        let n = app.numerical("3.14", "0.01", "1", "0").await;
        for shuffle in [false, true] {
            let created = app
                .post(
                    "/api/exam/create",
                    json!({
                        "title": format!("Paper \"{shuffle}\""), "durationMinutes": 30,
                        "startTime": super::rfc3339(-60), "endTime": super::rfc3339(3600),
                        "shuffleOptions": shuffle
                    }),
                    &app.admin,
                )
                .await;
            assert_eq!(created.status, 201, "{created:?}");
            let exam = created.body["exam"]["id"].as_str().expect("id").to_owned();
            app.add(&exam, &[&s, &m, &n]).await;
            app.publish(&exam).await;
            let (_, student) = app.student("Ira").await;
            let start = app.post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &student).await;
            assert_eq!(start.status, 201, "{start:?}");
            for body in [
                json!({ "questionId": m["id"], "selectedOptionIds": [option_id(&m, 1), option_id(&m, 0)] }),
                json!({ "questionId": n["id"], "numericalAnswer": "2.5" }),
            ] {
                let saved = app.post(&format!("/api/exam-attempt/{exam}/save"), body, &student).await;
                assert_eq!(saved.status, 200, "{saved:?}");
            }

            let path = format!("/api/exam-attempt/{exam}/attempt");
            let plain = raw_get(&app, &path, &student, None).await;
            assert_eq!(plain.status(), 200);
            assert!(plain.headers().get("content-encoding").is_none(), "{:?}", plain.headers());
            let plain = plain.bytes().await.expect("body");
            let gz = raw_get(&app, &path, &student, Some("br;q=1.0, gzip;q=0.5")).await;
            assert_eq!(gz.status(), 200);
            assert_eq!(gz.headers().get("content-encoding").expect("encoded"), "gzip");
            let vary = gz.headers().get("vary").expect("vary").to_str().expect("text").to_ascii_lowercase();
            assert!(vary.contains("accept-encoding"), "{vary}");
            let gz = gz.bytes().await.expect("body");
            assert!(gz.len() < plain.len(), "{} of {}", gz.len(), plain.len());
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(gz.as_ref()).read_to_end(&mut decoded).expect("valid gzip");

            // `remainingSeconds` may tick between the two requests; everything else is equal.
            let mut a: Value = serde_json::from_slice(&plain).expect("identity JSON");
            let mut b: Value = serde_json::from_slice(&decoded).expect("decoded JSON");
            let ra = a["remainingSeconds"].take().as_i64().expect("remaining");
            let rb = b["remainingSeconds"].take().as_i64().expect("remaining");
            assert!((ra - rb).abs() <= 1, "{ra} vs {rb}");
            assert_eq!(a, b, "shuffle {shuffle}");
            let qs = a["exam"]["questions"].as_array().expect("questions");
            assert_eq!(qs[1]["studentAnswer"]["selectedOptionIds"], json!([option_id(&m, 1), option_id(&m, 0)]));
            assert_eq!(qs[2]["studentAnswer"]["numericalAnswer"], 2.5);
            assert!(qs[0]["studentAnswer"].is_null());
            let refused = raw_get(&app, &path, &student, Some("gzip;q=0")).await;
            assert!(refused.headers().get("content-encoding").is_none(), "gzip;q=0 means no gzip");
        }
        app
    })
    .await;
}

#[tokio::test]
async fn a_submitted_or_auto_submitted_attempt_takes_no_answer_though_it_was_cached_open() {
    with_redis(|app: TestApp| async move {
        let s = app.single("1", "0").await;
        let exam = app.live_exam(&[&s], 3600, 30).await;
        let path = format!("/api/exam-attempt/{exam}/attempt");
        let save_body = json!({ "questionId": s["id"], "selectedOptionIds": [option_id(&s, 0)] });

        // Submitted by the student: the load before it cached the attempt as open.
        let (_, student) = app.student("Sam").await;
        let start = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(start.status, 201, "{start:?}");
        assert_eq!(app.get(&path, &student).await.status, 200);
        let sub = app
            .post(
                &format!("/api/exam-attempt/{exam}/submit"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(sub.status, 200, "{sub:?}");
        let late = app
            .post(
                &format!("/api/exam-attempt/{exam}/save"),
                save_body.clone(),
                &student,
            )
            .await;
        assert_eq!(late.status, 403, "{late:?}");
        assert_eq!(late.code(), "attempt_not_active");
        let load = app.get(&path, &student).await;
        assert_eq!(load.status, 403, "{load:?}");

        // Auto-submitted by the job or the sweep (here called directly once the hard end is
        // past): the attempt cached open before is dropped by the auto-submit itself.
        let (_, other) = app.student("Tara").await;
        let start = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &other,
            )
            .await;
        assert_eq!(start.status, 201, "{start:?}");
        assert_eq!(app.get(&path, &other).await.status, 200);
        let attempt = start.body["attemptId"]
            .as_str()
            .expect("attempt")
            .to_owned();
        let state = app.server.state();
        sqlx::query("UPDATE exam_attempts SET deadline_at = $2 WHERE id = $1")
            .bind(&attempt)
            .bind(oes_app::db::now_ms() - 1)
            .execute(state.db.pool())
            .await
            .expect("the hard end passes");
        let done = oes_app::service::attempts::auto_submit(
            &state.db,
            &state.cache,
            &state.jobs,
            attempt.parse().expect("uuid"),
        )
        .await
        .expect("auto-submit");
        assert!(done);
        let late = app
            .post(&format!("/api/exam-attempt/{exam}/save"), save_body, &other)
            .await;
        assert_eq!(late.status, 403, "{late:?}");
        let load = app.get(&path, &other).await;
        assert_eq!(load.status, 403, "{load:?}");
        assert_eq!(load.code(), "attempt_not_active");
        app
    })
    .await;
}

#[tokio::test]
async fn the_paper_shows_the_questions_and_marks_the_exam_was_published_with() {
    with_redis(|app: TestApp| async move {
        let s = app.single("1", "0").await;
        let m = app.multiple("2", "0").await;
        let draft = app.exam(-60, 3600, 30).await;
        app.add(&draft, &[&s, &m]).await;
        let (_, student) = app.student("Uma").await;
        let early = app.post(&format!("/api/exam-attempt/{draft}/start"), json!({}), &student).await;
        assert_eq!(early.status, 400, "a draft cannot be started: {early:?}");
        let path = format!("/api/exam-attempt/{draft}/attempt");
        assert_eq!(app.get(&path, &student).await.status, 404, "a draft's paper is never served");

        // The draft changes: one question out, the other's marks changed.
        let changed = app
            .post(
                &format!("/api/exam/{draft}/questions"),
                json!({ "removeQuestionIds": [s["id"], m["id"]], "addQuestionIds": [{ "questionId": m["id"], "marks": 5 }] }),
                &app.admin,
            )
            .await;
        assert_eq!(changed.status, 200, "{changed:?}");
        app.publish(&draft).await;
        let start = app.post(&format!("/api/exam-attempt/{draft}/start"), json!({}), &student).await;
        assert_eq!(start.status, 201, "{start:?}");
        let paper = app.get(&path, &student).await;
        assert_eq!(paper.status, 200, "{paper:?}");
        let qs = paper.body["exam"]["questions"].as_array().expect("questions");
        assert_eq!(qs.len(), 1);
        assert_eq!(qs[0]["id"], m["id"]);
        assert_eq!(qs[0]["marks"], 5.0);

        // A question of a published exam cannot change in the bank, so the paper cannot go
        // stale that way: the edit is refused and the paper is what was published.
        let id = m["id"].as_str().expect("id");
        let edit = app
            .put(&format!("/api/question/{id}"), json!({ "statement": "Primes below ten?", "marks": 7 }), &app.admin)
            .await;
        assert_eq!(edit.status, 409, "{edit:?}");
        let again = app.get(&path, &student).await;
        assert_eq!(again.body["exam"]["questions"][0]["statement"], qs[0]["statement"]);
        assert_eq!(again.body["exam"]["questions"][0]["marks"], 5.0);
        app
    })
    .await;
}

/// Waits (at most 5 s) until `server` has received more than `seen` invalidation messages.
async fn invalidation_after(server: &oes_app::RunningServer, seen: u64) {
    let started = std::time::Instant::now();
    while server.state().cache.stats().invalidations_received <= seen {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the invalidation never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn an_answer_saved_on_one_server_is_on_the_next_paper_the_other_server_serves() {
    with_redis(|app: TestApp| async move {
        let s = app.single("1", "0").await;
        let n = app.numerical("3.14", "0.01", "1", "0").await;
        let exam = app.live_exam(&[&s, &n], 3600, 30).await;
        let second = oes_app::RunningServer::start(
            support::config(&app.test_db.url, &app.var_refs()),
            axum::Router::new(),
        )
        .await
        .expect("second server starts");
        let b = support::Client::new(format!("http://{}", second.local_addr()));
        let path = format!("/api/exam-attempt/{exam}/attempt");
        let save = format!("/api/exam-attempt/{exam}/save");
        let (_, student) = app.student("Uma").await;
        let start = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(start.status, 201, "{start:?}");
        let answer_on_b = |body: Value| {
            body["exam"]["questions"]
                .as_array()
                .expect("questions")
                .iter()
                .map(|q| q["studentAnswer"].clone())
                .collect::<Vec<_>>()
        };

        // B reads the answers once, then serves them from its own memory.
        assert_eq!(
            answer_on_b(b.get(&path, &student).await.body),
            [Value::Null, Value::Null]
        );
        let hits = second.state().cache.stats().l1_hits;
        assert_eq!(b.get(&path, &student).await.status, 200);
        assert!(
            second.state().cache.stats().l1_hits > hits,
            "B's second load came from memory"
        );

        // A save on A: B's next paper shows it.
        let seen = second.state().cache.stats().invalidations_received;
        let saved = app
            .post(
                &save,
                json!({ "questionId": n["id"], "numericalAnswer": "2.5" }),
                &student,
            )
            .await;
        assert_eq!(saved.status, 200, "{saved:?}");
        invalidation_after(&second, seen).await;
        let shown = answer_on_b(b.get(&path, &student).await.body);
        assert!(shown[0].is_null());
        assert_eq!(shown[1]["numericalAnswer"], 2.5);

        // A clear on A: B's next paper shows the question unanswered again.
        let loaded = b.get(&path, &student).await;
        assert_eq!(loaded.status, 200);
        let seen = second.state().cache.stats().invalidations_received;
        let cleared = app
            .post(
                &save,
                json!({ "questionId": n["id"], "numericalAnswer": null }),
                &student,
            )
            .await;
        assert_eq!(cleared.status, 200, "{cleared:?}");
        invalidation_after(&second, seen).await;
        assert_eq!(
            answer_on_b(b.get(&path, &student).await.body),
            [Value::Null, Value::Null]
        );

        second
            .run_until(async {})
            .await
            .expect("second server stops");
        app
    })
    .await;
}

#[tokio::test]
async fn the_paper_of_an_exam_opening_soon_is_loaded_before_any_student_asks() {
    with_redis(|app: TestApp| async move {
        let s = app.single("1", "0").await;
        let soon = app.exam(60, 3600, 30).await;
        let later = app.exam(3 * 3600, 4 * 3600, 30).await;
        let state = app.server.state();
        let before = state.exam_stats.paper_loads();
        for exam in [&soon, &later] {
            app.add(exam, &[&s]).await;
            app.publish(exam).await;
        }
        let key = |exam: &str| oes_cache::keys::exam_questions(exam);
        assert_eq!(
            state.exam_stats.paper_loads(),
            before + 2,
            "publishing renders the paper"
        );
        for exam in [&soon, &later] {
            assert!(
                state.cache.get::<Value>(&key(exam)).await.is_some(),
                "cached at publish"
            );
        }

        // Both lapse from the cache; the warm-up brings back only the one opening soon.
        for exam in [&soon, &later] {
            state.cache.delete(&key(exam)).await.expect("delete");
        }
        let warmed = oes_app::service::exams::warm_papers(state)
            .await
            .expect("warm-up");
        assert_eq!(warmed, 1, "only the exam opening within two minutes");
        assert_eq!(state.exam_stats.paper_loads(), before + 3);
        assert!(
            state.cache.get::<Value>(&key(&soon)).await.is_some(),
            "the paper opening soon is cached"
        );
        assert!(
            state.cache.get::<Value>(&key(&later)).await.is_none(),
            "the later paper is left alone"
        );

        // The next pass refreshes it from Redis instead of the database.
        oes_app::service::exams::warm_papers(state)
            .await
            .expect("warm-up");
        assert_eq!(state.exam_stats.paper_loads(), before + 3);
        app
    })
    .await;
}
