//! `/api/exam-attempt` over HTTP on SQLite and PostgreSQL: the attempt's life, answer keys never
//! reaching students, validation of answers, the races (double start, save against submit),
//! auto-submit at the hard end, and the event log.

use super::{on_each_backend, option_id};
use crate::support::TestApp;
use serde_json::{Value, json};

fn has_key_material(v: &Value) -> bool {
    let text = v.to_string();
    text.contains("isCorrect") || text.contains("correctAnswer") || text.contains("tolerance")
}

#[tokio::test]
async fn a_student_starts_loads_saves_and_submits_without_ever_seeing_answer_keys() {
    on_each_backend(&[], |app: TestApp| async move {
        let s = app.single("1", "0").await;
        let m = app.multiple("2", "0").await;
        let n = app.numerical("3.14", "0.01", "1", "0").await;
        let exam = app.live_exam(&[&s, &m, &n], 3600, 30).await;
        let (_, student) = app.student("Asha").await;

        let none = app.get(&format!("/api/exam-attempt/{exam}/attempt"), &student).await;
        assert_eq!(none.status, 403, "{none:?}");
        assert_eq!(none.code(), "no_active_attempt");

        let start = app.post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &student).await;
        assert_eq!(start.status, 201, "{start:?}");
        let again = app.post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &student).await;
        assert_eq!(again.status, 400);
        assert_eq!(again.code(), "already_attempted");

        let paper = app.get(&format!("/api/exam-attempt/{exam}/attempt"), &student).await;
        assert_eq!(paper.status, 200, "{paper:?}");
        assert!(!has_key_material(&paper.body), "answer keys leaked: {}", paper.body);
        let qs = paper.body["exam"]["questions"].as_array().expect("questions");
        assert_eq!(qs.len(), 3);
        assert_eq!(qs[0]["questionOrder"], 1);
        assert_eq!(qs[0]["id"], s["id"]);
        let texts: Vec<&str> = qs[0]["options"].as_array().expect("options").iter().filter_map(|o| o["text"].as_str()).collect();
        assert_eq!(texts, vec!["Paris", "Lyon", "Nice"], "options in their stored order");
        assert!(qs.iter().all(|q| q["studentAnswer"].is_null()));
        let remaining = paper.body["remainingSeconds"].as_i64().expect("remaining");
        assert!(remaining > 29 * 60 && remaining <= 30 * 60, "{remaining}");

        let save = |body: Value| {
            let app = &app;
            let student = student.clone();
            let exam = exam.clone();
            async move { app.post(&format!("/api/exam-attempt/{exam}/save"), body, &student).await }
        };
        let ok = save(json!({ "questionId": s["id"], "selectedOptionIds": [option_id(&s, 0)] })).await;
        assert_eq!(ok.status, 200, "{ok:?}");
        let dedup = save(json!({ "questionId": m["id"], "selectedOptionIds": [option_id(&m, 0), option_id(&m, 0), option_id(&m, 1)] })).await;
        assert_eq!(dedup.status, 200, "{dedup:?}");
        let num = save(json!({ "questionId": n["id"], "numericalAnswer": 0 })).await;
        assert_eq!(num.status, 200, "{num:?}");

        for (body, code) in [
            (json!({ "questionId": s["id"], "selectedOptionIds": [option_id(&m, 0)] }), "validation_failed"),
            (json!({ "questionId": s["id"], "selectedOptionIds": [option_id(&s, 0), option_id(&s, 1)] }), "validation_failed"),
            (json!({ "questionId": s["id"], "numericalAnswer": 1 }), "validation_failed"),
            (json!({ "questionId": n["id"], "selectedOptionIds": [option_id(&s, 0)] }), "validation_failed"),
            (json!({ "questionId": n["id"] }), "validation_failed"),
            (json!({ "questionId": uuid::Uuid::new_v4() }), "question_not_in_exam"),
        ] {
            let a = save(body.clone()).await;
            assert_eq!(a.status, 400, "{body} -> {a:?}");
            assert_eq!(a.code(), code, "{body}");
        }

        let paper = app.get(&format!("/api/exam-attempt/{exam}/attempt"), &student).await;
        let qs = paper.body["exam"]["questions"].as_array().expect("questions");
        assert_eq!(qs[0]["studentAnswer"]["selectedOptionIds"], json!([option_id(&s, 0)]));
        assert_eq!(qs[1]["studentAnswer"]["selectedOptionIds"], json!([option_id(&m, 0), option_id(&m, 1)]));
        assert_eq!(qs[2]["studentAnswer"]["numericalAnswer"], 0.0, "a zero answer stays zero, not null");

        let sub = app.post(&format!("/api/exam-attempt/{exam}/submit"), json!({}), &student).await;
        assert_eq!(sub.status, 200, "{sub:?}");
        assert_eq!(sub.body["status"], "SUBMITTED");
        let late = save(json!({ "questionId": s["id"], "selectedOptionIds": [option_id(&s, 1)] })).await;
        assert_eq!(late.status, 403, "{late:?}");
        let twice = app.post(&format!("/api/exam-attempt/{exam}/submit"), json!({}), &student).await;
        assert_eq!(twice.status, 400);
        assert_eq!(twice.code(), "already_submitted");
        let load = app.get(&format!("/api/exam-attempt/{exam}/attempt"), &student).await;
        assert_eq!(load.status, 403);

        let attempt = start.body["attemptId"].as_str().expect("attempt id");
        let kinds = oes_app::service::attempts::events(&app.server.state().db, attempt.parse().expect("uuid"))
            .await
            .expect("events");
        assert_eq!(kinds[0], "START");
        assert_eq!(kinds.iter().filter(|k| *k == "SAVE").count(), 3);
        assert!(kinds.contains(&"SUBMIT".to_owned()), "{kinds:?}");
        let ua = app
            .scalar_text("SELECT user_agent FROM attempt_events WHERE attempt_id = $1 AND kind = 'START'", attempt)
            .await;
        assert_eq!(ua.as_deref(), Some(crate::support::USER_AGENT));
        app
    })
    .await;
}

#[tokio::test]
async fn starting_outside_the_window_or_a_draft_is_refused() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let (_, student) = app.student("Asha").await;
        let future = app.exam(3600, 7200, 30).await;
        app.add(&future, &[&q]).await;
        app.publish(&future).await;
        let a = app
            .post(
                &format!("/api/exam-attempt/{future}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.code(), "exam_not_active");
        let draft = app.exam(-60, 3600, 30).await;
        let a = app
            .post(
                &format!("/api/exam-attempt/{draft}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.code(), "exam_not_available");
        // A draft's paper is never served (nor cached) to a student.
        let a = app
            .get(&format!("/api/exam-attempt/{draft}/attempt"), &student)
            .await;
        assert_eq!(a.status, 404);
        app
    })
    .await;
}

#[tokio::test]
async fn an_answer_cleared_as_the_exam_page_clears_it_stays_unanswered_and_scores_nothing() {
    on_each_backend(&[], |app: TestApp| async move {
        // Every question takes a mark off for a wrong answer.
        let by_null = app.numerical("5", "0", "2", "1").await;
        let by_empty = app.numerical("5", "0", "2", "1").await;
        let right = app.numerical("5", "0", "2", "1").await;
        let single = app.single("2", "1").await;
        let multiple = app.multiple("2", "1").await;
        let exam = app
            .live_exam(&[&by_null, &by_empty, &right, &single, &multiple], 3600, 30)
            .await;
        let (_, student) = app.student("Asha").await;
        let started = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(started.status, 201, "{started:?}");
        let save = |body: Value| {
            let (app, student, exam) = (&app, student.clone(), exam.clone());
            async move {
                let a = app
                    .post(
                        &format!("/api/exam-attempt/{exam}/save"),
                        body.clone(),
                        &student,
                    )
                    .await;
                assert_eq!(a.status, 200, "{body} -> {a:?}");
                assert_eq!(a.body["success"], true, "{a:?}");
            }
        };

        // Wrong answers first, in the page's shapes (a number input's text for NUMERICAL).
        save(json!({ "questionId": by_null["id"], "numericalAnswer": "7" })).await;
        save(json!({ "questionId": by_empty["id"], "numericalAnswer": "8.5" })).await;
        save(json!({ "questionId": right["id"], "numericalAnswer": "5" })).await;
        save(json!({ "questionId": single["id"], "selectedOptionIds": [option_id(&single, 1)] }))
            .await;
        save(
            json!({ "questionId": multiple["id"], "selectedOptionIds": [option_id(&multiple, 2)] }),
        )
        .await;
        // Then cleared: Clear then Save & Next sends null; an emptied input sends "".
        save(json!({ "questionId": by_null["id"], "numericalAnswer": null })).await;
        save(json!({ "questionId": by_empty["id"], "numericalAnswer": "" })).await;
        save(json!({ "questionId": single["id"], "selectedOptionIds": [] })).await;
        save(json!({ "questionId": multiple["id"], "selectedOptionIds": [] })).await;

        // After a reload the old answers are gone, not back.
        let paper = app
            .get(&format!("/api/exam-attempt/{exam}/attempt"), &student)
            .await;
        assert_eq!(paper.status, 200, "{paper:?}");
        let answers: Vec<&Value> = paper.body["exam"]["questions"]
            .as_array()
            .expect("questions")
            .iter()
            .map(|q| &q["studentAnswer"])
            .collect();
        assert!(answers[0].is_null(), "{}", answers[0]);
        assert!(answers[1].is_null(), "{}", answers[1]);
        assert_eq!(answers[2]["numericalAnswer"], 5.0);
        assert!(answers[3].is_null(), "{}", answers[3]);
        assert!(answers[4].is_null(), "{}", answers[4]);

        // Leaving the answer out altogether is still a mistake, not a clear.
        let missing = app
            .post(
                &format!("/api/exam-attempt/{exam}/save"),
                json!({ "questionId": right["id"] }),
                &student,
            )
            .await;
        assert_eq!(missing.status, 400, "{missing:?}");

        let submitted = app
            .post(
                &format!("/api/exam-attempt/{exam}/submit"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(submitted.status, 200, "{submitted:?}");
        app.set_exam_end(&exam, oes_app::db::now_ms() - 1000).await;
        // Only the one right answer counts: no negative marks for the cleared ones.
        let score = app
            .wait_for_status(&format!("/api/result/{exam}/score"), &student, 200)
            .await;
        assert_eq!(score.status, 200, "{score:?}");
        assert_eq!(score.body["score"], 2.0, "{score:?}");
        let analysis = app
            .get(&format!("/api/result/{exam}/analysis"), &student)
            .await;
        let reviewed = analysis.body["questions"].as_array().expect("questions");
        for i in [0, 1, 3, 4] {
            assert!(reviewed[i]["studentAnswer"].is_null(), "{}", reviewed[i]);
        }
        app
    })
    .await;
}

#[tokio::test]
async fn concurrent_starts_make_one_attempt() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let exam = app.live_exam(&[&q], 3600, 30).await;
        let (_, student) = app.student("Asha").await;
        let path = format!("/api/exam-attempt/{exam}/start");
        let calls = (0..8).map(|_| app.post(&path, json!({}), &student));
        let answers = futures::future::join_all(calls).await;
        let created = answers.iter().filter(|a| a.status == 201).count();
        let refused = answers
            .iter()
            .filter(|a| a.code() == "already_attempted")
            .count();
        assert_eq!((created, refused), (1, 7), "{answers:?}");
        let rows = app
            .scalar_i64(
                "SELECT COUNT(*) FROM exam_attempts WHERE exam_id = $1",
                &exam,
            )
            .await;
        assert_eq!(rows, 1);
        app
    })
    .await;
}

#[tokio::test]
async fn a_save_racing_a_submit_never_lands_after_it() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let exam = app.live_exam(&[&q], 3600, 30).await;
        for round in 0..5 {
            let (_, student) = app.student(&format!("Racer {round}")).await;
            let s = app.post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &student).await;
            let attempt = s.body["attemptId"].as_str().expect("attempt").to_owned();
            let save_path = format!("/api/exam-attempt/{exam}/save");
            let submit_path = format!("/api/exam-attempt/{exam}/submit");
            let saves = (0..6).map(|i| {
                app.post(
                    &save_path,
                    json!({ "questionId": q["id"], "selectedOptionIds": [option_id(&q, i % 3)] }),
                    &student,
                )
            });
            let submit = app.post(&submit_path, json!({}), &student);
            let (saves, submit) = tokio::join!(futures::future::join_all(saves), submit);
            assert_eq!(submit.status, 200, "{submit:?}");
            for a in &saves {
                assert!(a.status == 200 || a.code() == "attempt_not_active", "{a:?}");
            }
            let submitted_at = app
                .scalar_i64("SELECT submitted_at FROM exam_attempts WHERE id = $1", &attempt)
                .await;
            let last_save: Option<i64> = sqlx::query_scalar("SELECT MAX(saved_at) FROM student_answers WHERE attempt_id = $1")
                .bind(&attempt)
                .fetch_one(app.server.state().db.pool())
                .await
                .expect("query");
            if let Some(saved) = last_save {
                assert!(saved <= submitted_at, "a save at {saved} landed after the submit at {submitted_at}");
            }
            let accepted = saves.iter().filter(|a| a.status == 200).count() as i64;
            let logged = app
                .scalar_i64("SELECT COUNT(*) FROM attempt_events WHERE attempt_id = $1 AND kind = 'SAVE'", &attempt)
                .await;
            assert_eq!(accepted, logged, "every accepted save, and only those, is in the log");
            let last_save_event = app
                .scalar_i64("SELECT COALESCE(MAX(id), 0) FROM attempt_events WHERE attempt_id = $1 AND kind = 'SAVE'", &attempt)
                .await;
            let submit_event = app
                .scalar_i64("SELECT id FROM attempt_events WHERE attempt_id = $1 AND kind = 'SUBMIT'", &attempt)
                .await;
            assert!(last_save_event < submit_event, "every accepted save committed before the submit");
        }
        app
    })
    .await;
}

#[tokio::test]
async fn an_attempt_is_auto_submitted_at_the_hard_end_with_the_hard_end_as_submit_time() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        // The window closes in 6 s (room for the set-up under a loaded machine); the one-minute
        // duration is capped by it.
        let exam = app.live_exam(&[&q], 6, 1).await;
        let (_, student) = app.student("Asha").await;
        let (_, idle) = app.student("Idle").await;
        let s = app.post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &student).await;
        assert_eq!(s.status, 201, "{s:?}");
        let idle_start = app.post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &idle).await;
        assert_eq!(idle_start.status, 201);
        let attempt = s.body["attemptId"].as_str().expect("attempt").to_owned();
        let saved = app
            .post(
                &format!("/api/exam-attempt/{exam}/save"),
                json!({ "questionId": q["id"], "selectedOptionIds": [option_id(&q, 0)] }),
                &student,
            )
            .await;
        assert_eq!(saved.status, 200);

        // Neither student does anything more: the delayed job (or the sweep) submits both.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let idle_attempt = idle_start.body["attemptId"].as_str().expect("attempt").to_owned();
        loop {
            let pending = app
                .scalar_i64("SELECT COUNT(*) FROM exam_attempts WHERE exam_id = $1 AND status = 'IN_PROGRESS'", &exam)
                .await;
            if pending == 0 || std::time::Instant::now() > give_up {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for id in [&attempt, &idle_attempt] {
            let status = app.scalar_text("SELECT status FROM exam_attempts WHERE id = $1", id).await;
            assert_eq!(status.as_deref(), Some("AUTO_SUBMITTED"));
            let deadline = app.scalar_i64("SELECT deadline_at FROM exam_attempts WHERE id = $1", id).await;
            let submitted = app.scalar_i64("SELECT submitted_at FROM exam_attempts WHERE id = $1", id).await;
            assert_eq!(submitted, deadline, "the submit time is the hard end");
            let auto = app
                .scalar_i64("SELECT COUNT(*) FROM attempt_events WHERE attempt_id = $1 AND kind = 'AUTO_SUBMIT'", id)
                .await;
            assert_eq!(auto, 1);
        }
        let end_ms = app.scalar_i64("SELECT end_time FROM exams WHERE id = $1", &exam).await;
        let deadline = app.scalar_i64("SELECT deadline_at FROM exam_attempts WHERE id = $1", &attempt).await;
        assert_eq!(deadline, end_ms, "min(start + 1 min, end) is the end");

        // After the hard end nothing more is accepted, and the score follows.
        let late = app
            .post(&format!("/api/exam-attempt/{exam}/submit"), json!({}), &student)
            .await;
        assert_eq!(late.status, 400, "{late:?}");
        let score = app.wait_for_status(&format!("/api/result/{exam}/score"), &student, 200).await;
        assert_eq!(score.status, 200, "{score:?}");
        assert_eq!(score.body["score"], 1.0);
        assert_eq!(score.body["status"], "AUTO_SUBMITTED");
        app
    })
    .await;
}

#[tokio::test]
async fn auto_submit_never_overwrites_a_submit_and_never_fires_early() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let exam = app.live_exam(&[&q], 3600, 30).await;
        let (_, student) = app.student("Asha").await;
        let s = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        let attempt: oes_app::domain::ids::AttemptId = s.body["attemptId"]
            .as_str()
            .expect("attempt")
            .parse()
            .expect("uuid");
        let state = app.server.state();
        let early =
            oes_app::service::attempts::auto_submit(&state.db, &state.cache, &state.jobs, attempt)
                .await
                .expect("auto-submit runs");
        assert!(!early, "not due before the hard end");

        let sub = app
            .post(
                &format!("/api/exam-attempt/{exam}/submit"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(sub.status, 200);
        let id = attempt.to_string();
        let before = app
            .scalar_i64("SELECT submitted_at FROM exam_attempts WHERE id = $1", &id)
            .await;
        sqlx::query("UPDATE exam_attempts SET deadline_at = 0 WHERE id = $1")
            .bind(&id)
            .execute(state.db.pool())
            .await
            .expect("move the deadline into the past");
        let late =
            oes_app::service::attempts::auto_submit(&state.db, &state.cache, &state.jobs, attempt)
                .await
                .expect("auto-submit runs");
        assert!(!late);
        oes_app::service::attempts::sweep_once(&state.db, &state.cache, &state.jobs)
            .await
            .expect("sweep runs");
        let status = app
            .scalar_text("SELECT status FROM exam_attempts WHERE id = $1", &id)
            .await;
        assert_eq!(status.as_deref(), Some("SUBMITTED"));
        let after = app
            .scalar_i64("SELECT submitted_at FROM exam_attempts WHERE id = $1", &id)
            .await;
        assert_eq!(before, after);
        app
    })
    .await;
}

#[tokio::test]
async fn shuffled_options_keep_one_order_per_attempt_and_grace_extends_the_hard_end() {
    on_each_backend(&[], |app: TestApp| async move {
        let options: Vec<Value> = (0..6)
            .map(|i| json!({ "text": format!("option {i}"), "isCorrect": i == 0 }))
            .collect();
        let q = app
            .question(json!({ "statement": "Pick", "questionType": "SINGLE_CORRECT", "domain": "d", "options": options }))
            .await;
        let created = app
            .post(
                "/api/exam/create",
                json!({
                    "title": "Shuffled", "durationMinutes": 10,
                    "startTime": super::rfc3339(-300), "endTime": super::rfc3339(300),
                    "shuffleOptions": true, "graceSeconds": 30
                }),
                &app.admin,
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        let exam = created.body["exam"]["id"].as_str().expect("id").to_owned();
        app.add(&exam, &[&q]).await;
        app.publish(&exam).await;

        let mut orders = Vec::new();
        for i in 0..6 {
            let (_, student) = app.student(&format!("S{i}")).await;
            let s = app.post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &student).await;
            assert_eq!(s.status, 201, "{s:?}");
            let order = |a: &crate::support::Answer| -> Vec<String> {
                a.body["exam"]["questions"][0]["options"]
                    .as_array()
                    .expect("options")
                    .iter()
                    .map(|o| o["text"].as_str().expect("text").to_owned())
                    .collect()
            };
            let first = order(&app.get(&format!("/api/exam-attempt/{exam}/attempt"), &student).await);
            let again = order(&app.get(&format!("/api/exam-attempt/{exam}/attempt"), &student).await);
            assert_eq!(first, again, "one attempt sees one order");
            let mut sorted = first.clone();
            sorted.sort();
            assert_eq!(sorted.len(), 6);
            orders.push(first);

            // The hard end is the window's end (earlier than start + 10 min) plus 30 s of grace.
            let attempt = s.body["attemptId"].as_str().expect("attempt");
            let deadline = app.scalar_i64("SELECT deadline_at FROM exam_attempts WHERE id = $1", attempt).await;
            let end = app.scalar_i64("SELECT end_time FROM exams WHERE id = $1", &exam).await;
            assert_eq!(deadline, end + 30_000);
        }
        orders.dedup();
        assert!(orders.len() > 1, "different attempts see different orders");
        app
    })
    .await;
}

#[tokio::test]
async fn an_administrator_cannot_take_an_exam_nor_appear_on_the_leaderboard() {
    on_each_backend(&[], |app: TestApp| async move {
        let s = app.single("1", "0").await;
        let exam = app.live_exam(&[&s], 600, 10).await;

        let refused = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &app.admin,
            )
            .await;
        assert_eq!(refused.status, 403, "{refused:?}");
        assert_eq!(refused.code(), "admin_cannot_attempt");
        let paper = app
            .get(&format!("/api/exam-attempt/{exam}/attempt"), &app.admin)
            .await;
        assert_eq!(paper.status, 403, "{paper:?}");
        assert_eq!(paper.code(), "no_active_attempt");
        let saved = app
            .post(
                &format!("/api/exam-attempt/{exam}/save"),
                json!({ "questionId": s["id"], "selectedOptionIds": [option_id(&s, 0)] }),
                &app.admin,
            )
            .await;
        assert_eq!(saved.status, 403, "{saved:?}");

        let (_, student) = app.student("Asha").await;
        let started = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(started.status, 201, "{started:?}");
        let submitted = app
            .post(
                &format!("/api/exam-attempt/{exam}/submit"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(submitted.status, 200, "{submitted:?}");

        app.set_exam_end(&exam, oes_app::db::now_ms() - 1000).await;
        // The leaderboard lists scored attempts; scoring runs on the queue.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let board = loop {
            let board = app.get("/api/leaderboard/top-five", &student).await;
            if board.body["count"] == 1 || std::time::Instant::now() > give_up {
                break board;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(board.status, 200, "{board:?}");
        assert_eq!(board.body["totalParticipants"], 1, "{board:?}");
        let names: Vec<&str> = board.body["data"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(names, vec!["Asha"], "{board:?}");
        let admins: i64 = app
            .scalar_i64(
                "SELECT COUNT(*) FROM exam_attempts a JOIN users u ON u.id = a.user_id
                 WHERE a.exam_id = $1 AND u.role = 'ADMIN'",
                &exam,
            )
            .await;
        assert_eq!(admins, 0);
        app
    })
    .await;
}

#[tokio::test]
async fn a_numerical_answer_beyond_the_allowed_range_is_400_not_a_database_error() {
    on_each_backend(&[], |app: TestApp| async move {
        let n = app.numerical("3.14", "0.01", "1", "0").await;
        let exam = app.live_exam(&[&n], 3600, 30).await;
        let (_, student) = app.student("Ravi").await;
        let start = app
            .post(
                &format!("/api/exam-attempt/{exam}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(start.status, 201, "{start:?}");
        for value in [json!(1e13), json!(-1e13)] {
            let save = app
                .post(
                    &format!("/api/exam-attempt/{exam}/save"),
                    json!({ "questionId": n["id"], "numericalAnswer": value }),
                    &student,
                )
                .await;
            assert_eq!(save.status, 400, "{value} -> {save:?}");
            assert_eq!(save.code(), "validation_failed");
            let message = save.body["message"].as_str().unwrap_or_default();
            assert!(message.contains("1000000000"), "{message}");
        }
        let within = app
            .post(
                &format!("/api/exam-attempt/{exam}/save"),
                json!({ "questionId": n["id"], "numericalAnswer": 1e9 }),
                &student,
            )
            .await;
        assert_eq!(within.status, 200, "{within:?}");
        app
    })
    .await;
}
