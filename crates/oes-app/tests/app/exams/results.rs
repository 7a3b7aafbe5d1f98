//! Scoring, results and the leaderboard over HTTP on SQLite and PostgreSQL: every question type
//! with negative marks and numerical tolerance edges, the total floored at 0, results gated until
//! the exam ends (and 202 while scoring is pending), the scoring sweep, and competition ranking.

use super::{on_each_backend, option_id};
use crate::support::{Auth, TestApp};
use serde_json::{Value, json};

struct Paper {
    s: Value,
    m: Value,
    n: Value,
    p: Value,
}

async fn sit(app: &TestApp, exam: &str, token: &str, answers: &[Value]) -> String {
    let start = app
        .post(&format!("/api/exam-attempt/{exam}/start"), json!({}), token)
        .await;
    assert_eq!(start.status, 201, "{start:?}");
    for a in answers {
        let saved = app
            .post(&format!("/api/exam-attempt/{exam}/save"), a.clone(), token)
            .await;
        assert_eq!(saved.status, 200, "{a} -> {saved:?}");
    }
    let sub = app
        .post(
            &format!("/api/exam-attempt/{exam}/submit"),
            json!({}),
            token,
        )
        .await;
    assert_eq!(sub.status, 200, "{sub:?}");
    start.body["attemptId"]
        .as_str()
        .expect("attempt")
        .to_owned()
}

fn pick(q: &Value, idx: &[usize]) -> Value {
    json!({ "questionId": q["id"], "selectedOptionIds": idx.iter().map(|i| option_id(q, *i)).collect::<Vec<_>>() })
}

fn number(q: &Value, v: &str) -> Value {
    json!({ "questionId": q["id"], "numericalAnswer": v })
}

#[tokio::test]
async fn scores_follow_the_policy_and_results_open_when_the_exam_ends() {
    on_each_backend(&[], |app: TestApp| async move {
        let paper = Paper {
            s: app.single("2", "0.5").await,
            m: app.multiple("3", "1").await,
            n: app.numerical("0.3", "0.01", "4", "0.25").await,
            p: app
                .question(json!({
                    "statement": "Even numbers?", "questionType": "MULTIPLE_CORRECT", "domain": "maths",
                    "marks": 3, "negativeMarks": 1, "partialCredit": true,
                    "options": [
                        { "text": "2", "isCorrect": true }, { "text": "4", "isCorrect": true },
                        { "text": "6", "isCorrect": true }, { "text": "7", "isCorrect": false }
                    ]
                }))
                .await,
        };
        let Paper { s, m, n, p } = &paper;
        let exam = app.live_exam(&[s, m, n, p], 600, 10).await;
        let (_, a) = app.student("Asha").await;
        let (_, b) = app.student("Bala").await;
        let (_, c) = app.student("Chen").await;
        let (_, d) = app.student("Dana").await;
        let (_, nobody) = app.student("Nobody").await;

        // A: everything right, the numerical answer exactly on the tolerance's edge, partial 2/3.
        sit(&app, &exam, &a, &[pick(s, &[0]), pick(m, &[0, 1]), number(n, "0.31"), pick(p, &[0, 1])]).await;
        // D: the same marks as A, submitted later.
        sit(&app, &exam, &d, &[pick(s, &[0]), pick(m, &[1, 0]), number(n, "0.29"), pick(p, &[2, 1])]).await;
        // C: one wrong single (−0.5), the rest right but no partial-credit answer: 6.5.
        sit(&app, &exam, &c, &[pick(s, &[1]), pick(m, &[0, 1]), number(n, "0.3")]).await;
        // B: all wrong, just past the tolerance: −0.5 − 1 − 0.25 − 1 = −2.75, floored at 0.
        let b_attempt =
            sit(&app, &exam, &b, &[pick(s, &[2]), pick(m, &[0]), number(n, "0.310001"), pick(p, &[0, 3])]).await;

        // Before the exam ends: no score anywhere.
        let mine = app.get("/api/result", &a).await;
        assert_eq!(mine.status, 200, "{mine:?}");
        assert_eq!(mine.body["data"][0]["isResultAvailable"], false);
        assert!(mine.body["data"][0]["score"].is_null(), "{mine:?}");
        let early = app.get(&format!("/api/result/{exam}/score"), &a).await;
        assert_eq!(early.status, 403, "{early:?}");
        assert_eq!(early.code(), "results_not_released");
        let early = app.get(&format!("/api/result/{exam}/analysis"), &a).await;
        assert_eq!(early.status, 403);
        assert!(!early.body.to_string().contains("isCorrect"));
        let stranger = app.get(&format!("/api/result/{exam}/score"), &nobody).await;
        assert_eq!(stranger.status, 404);

        // The exam ends: its end moves into the past (the clock cannot be moved), and the cached
        // exam row is dropped as an admin write would.
        sqlx::query("UPDATE exams SET end_time = $2 WHERE id = $1")
            .bind(&exam)
            .bind(oes_app::db::now_ms() - 1000)
            .execute(app.server.state().db.pool())
            .await
            .expect("end the exam");
        app.server
            .state()
            .cache
            .delete_many(&[oes_cache::keys::exam(&exam), oes_cache::keys::exams_all()])
            .await
            .expect("cache entries dropped");

        let expected = [(&a, 11.0), (&d, 11.0), (&c, 6.5), (&b, 0.0)];
        for (token, score) in expected {
            let got = app.wait_for_status(&format!("/api/result/{exam}/score"), token, 200).await;
            assert_eq!(got.status, 200, "{got:?}");
            assert_eq!(got.body["score"], score, "{got:?}");
        }
        let mine = app.get("/api/result", &a).await;
        assert_eq!(mine.body["data"][0]["score"], 11.0);
        assert_eq!(mine.body["data"][0]["isResultAvailable"], true);

        let analysis = app.get(&format!("/api/result/{exam}/analysis"), &b).await;
        assert_eq!(analysis.status, 200, "{analysis:?}");
        let qs = analysis.body["questions"].as_array().expect("questions");
        let marks: Vec<f64> = qs.iter().map(|q| q["studentAnswer"]["marksObtained"].as_f64().expect("marks")).collect();
        assert_eq!(marks, vec![-0.5, -1.0, -0.25, -1.0]);
        assert_eq!(qs[0]["correctAnswer"]["optionIds"], json!([option_id(s, 0)]));
        assert_eq!(qs[2]["correctAnswer"]["numericalAnswer"], 0.3);
        assert_eq!(qs[0]["options"][0]["isCorrect"], true);
        assert_eq!(analysis.body["totalMarks"], 12.0);
        assert_eq!(analysis.body["score"], 0.0);
        // Each student's analysis carries their own answers only.
        assert_eq!(qs[0]["studentAnswer"]["selectedOptionIds"], json!([option_id(s, 2)]));
        let a_analysis = app.get(&format!("/api/result/{exam}/analysis"), &a).await;
        assert_eq!(
            a_analysis.body["questions"][0]["studentAnswer"]["selectedOptionIds"],
            json!([option_id(s, 0)])
        );
        assert!(a_analysis.body["attemptId"].is_string());
        assert_ne!(a_analysis.body["attemptId"], analysis.body["attemptId"]);
        let c_analysis = app.get(&format!("/api/result/{exam}/analysis"), &c).await;
        assert_eq!(c_analysis.body["percentage"], 54.17);
        assert!(c_analysis.body["questions"][3]["studentAnswer"].is_null());

        // A score that went missing (a lost job) shows 202, and the sweep scores it again.
        sqlx::query("UPDATE exam_attempts SET score = NULL, scored_at = NULL, submitted_at = submitted_at - 60000 WHERE id = $1")
            .bind(&b_attempt)
            .execute(app.server.state().db.pool())
            .await
            .expect("forget the score");
        let pending = app.get(&format!("/api/result/{exam}/score"), &b).await;
        assert_eq!(pending.status, 202, "{pending:?}");
        let state = app.server.state();
        let swept = oes_app::service::attempts::sweep_once(&state.db, &state.cache, &state.jobs).await;
        let score = app.wait_for_status(&format!("/api/result/{exam}/score"), &b, 200).await;
        assert_eq!(score.status, 200, "{score:?} after {swept:?}");
        assert_eq!(score.body["score"], 0.0);

        // The leaderboard: public, no emails, ties share a rank; the viewer's row is marked.
        let anon = app.call("GET", "/api/leaderboard/top-five", None, Auth::None).await;
        assert_eq!(anon.status, 200, "{anon:?}");
        assert!(anon.body["data"].as_array().is_some_and(|rows| rows.iter().all(|r| r["isYou"] == false)));
        let board = app.get("/api/leaderboard/top-five", &c).await;
        assert_eq!(board.status, 200, "{board:?}");
        let rows = board.body["data"].as_array().expect("rows");
        let table: Vec<(i64, &str, f64)> = rows
            .iter()
            .map(|r| (r["rank"].as_i64().expect("rank"), r["name"].as_str().expect("name"), r["score"].as_f64().expect("score")))
            .collect();
        assert_eq!(table, vec![(1, "Asha", 11.0), (1, "Dana", 11.0), (3, "Chen", 6.5), (4, "Bala", 0.0)]);
        assert_eq!(rows[2]["isYou"], true);
        assert_eq!(board.body["totalParticipants"], 4);
        assert_eq!(board.body["exam"]["id"], exam.as_str());
        assert_eq!(board.body["exam"]["totalMarks"], 12.0);
        assert!(!board.body.to_string().contains("@example.com"), "no emails on the leaderboard");
        app
    })
    .await;
}

#[tokio::test]
async fn the_analysis_gives_a_numerical_key_as_correct_answer_value_which_the_result_page_reads() {
    on_each_backend(&[], |app: TestApp| async move {
        let s = app.single("1", "0").await;
        let n = app.numerical("9.81", "0.05", "2", "0").await;
        let exam = app.live_exam(&[&s, &n], 600, 10).await;
        let (_, student) = app.student("Asha").await;
        // The exam page sends the number input's text.
        sit(&app, &exam, &student, &[pick(&s, &[0]), number(&n, "9.8")]).await;
        app.set_exam_end(&exam, oes_app::db::now_ms() - 1000).await;

        let analysis = app
            .wait_for_status(&format!("/api/result/{exam}/analysis"), &student, 200)
            .await;
        assert_eq!(analysis.status, 200, "{analysis:?}");
        let qs = analysis.body["questions"].as_array().expect("questions");
        // The page shows `${correctAnswer.value} (±${correctAnswer.tolerance})`.
        let key = &qs[1]["correctAnswer"];
        assert_eq!(key["value"], 9.81, "{key}");
        assert_eq!(key["tolerance"], 0.05, "{key}");
        assert_eq!(
            key["numericalAnswer"], 9.81,
            "the earlier name stays: {key}"
        );
        assert_eq!(qs[1]["studentAnswer"]["numericalAnswer"], 9.8);
        assert_eq!(qs[1]["studentAnswer"]["marksObtained"], 2.0);
        // A choice question has no numerical key; its options carry isCorrect.
        assert!(qs[0]["correctAnswer"]["value"].is_null(), "{}", qs[0]);
        assert_eq!(qs[0]["options"][0]["isCorrect"], true);
        app
    })
    .await;
}

/// A published exam with question `s`, live since 15 minutes ago for 10 more, with a grace period
/// of 10 minutes after its end.
async fn graced_exam(app: &TestApp, s: &Value) -> String {
    let created = app
        .post(
            "/api/exam/create",
            json!({
                "title": "Graced", "durationMinutes": 10, "graceSeconds": 600,
                "startTime": super::rfc3339(-900), "endTime": super::rfc3339(600),
            }),
            &app.admin,
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let exam = created.body["exam"]["id"]
        .as_str()
        .expect("exam id")
        .to_owned();
    app.add(&exam, &[s]).await;
    app.publish(&exam).await;
    exam
}

#[tokio::test]
async fn results_analysis_and_the_leaderboard_stay_closed_until_the_grace_period_is_over() {
    on_each_backend(&[], |app: TestApp| async move {
        let s = app.single("2", "0").await;
        let exam = graced_exam(&app, &s).await;
        let (_, done) = app.student("Asha").await;
        let (_, late) = app.student("Bala").await;
        sit(&app, &exam, &done, &[pick(&s, &[0])]).await;
        let started = app
            .post(&format!("/api/exam-attempt/{exam}/start"), json!({}), &late)
            .await;
        assert_eq!(started.status, 201, "{started:?}");

        // The window closes: Bala's attempt keeps its grace period, as the hard end rule gives
        // an attempt cut short by the window (min(start + duration, end) + grace).
        let end = oes_app::db::now_ms() - 1000;
        app.set_exam_end(&exam, end).await;
        sqlx::query("UPDATE exam_attempts SET deadline_at = $2 WHERE id = $1")
            .bind(started.body["attemptId"].as_str().expect("attempt"))
            .bind(end + 600_000)
            .execute(app.server.state().db.pool())
            .await
            .expect("deadline follows the end");
        // Changed behind the app's back: the cached attempt goes too.
        app.server
            .state()
            .cache
            .clear()
            .await
            .expect("cache cleared");

        for path in [
            format!("/api/result/{exam}/score"),
            format!("/api/result/{exam}/analysis"),
        ] {
            let refused = app.get(&path, &done).await;
            assert_eq!(refused.status, 403, "{path}: {refused:?}");
            assert_eq!(refused.code(), "results_not_released", "{path}");
            assert!(!refused.body.to_string().contains("isCorrect"), "{path}");
            let message = refused.body["message"].as_str().unwrap_or_default();
            assert!(message.contains("grace"), "{path}: {message}");
        }
        // The leaderboard skips an exam in its grace period rather than refusing (the home
        // page would send a 403 to /login); with no other exam released there is none.
        let board = app.get("/api/leaderboard/top-five", &done).await;
        assert_eq!(board.status, 404, "{board:?}");
        assert!(!board.body.to_string().contains("Asha"), "{board:?}");
        let mine = app.get("/api/result", &done).await;
        assert_eq!(mine.body["data"][0]["isResultAvailable"], false, "{mine:?}");
        assert!(mine.body["data"][0]["score"].is_null(), "{mine:?}");

        // Bala, still in the grace period, can still save and submit.
        let saved = app
            .post(
                &format!("/api/exam-attempt/{exam}/save"),
                pick(&s, &[0]),
                &late,
            )
            .await;
        assert_eq!(saved.status, 200, "{saved:?}");
        let submitted = app
            .post(
                &format!("/api/exam-attempt/{exam}/submit"),
                json!({}),
                &late,
            )
            .await;
        assert_eq!(submitted.status, 200, "{submitted:?}");

        // The grace period is over: everything opens.
        app.set_exam_end(&exam, oes_app::db::now_ms() - 601_000)
            .await;
        for token in [&done, &late] {
            let score = app
                .wait_for_status(&format!("/api/result/{exam}/score"), token, 200)
                .await;
            assert_eq!(score.status, 200, "{score:?}");
            assert_eq!(score.body["score"], 2.0, "{score:?}");
        }
        let analysis = app
            .get(&format!("/api/result/{exam}/analysis"), &done)
            .await;
        assert_eq!(analysis.status, 200, "{analysis:?}");
        let board = app.get("/api/leaderboard/top-five", &done).await;
        assert_eq!(board.status, 200, "{board:?}");
        assert_eq!(board.body["exam"]["id"], exam.as_str());
        assert_eq!(board.body["count"], 2, "{board:?}");
        let mine = app.get("/api/result", &done).await;
        assert_eq!(mine.body["data"][0]["isResultAvailable"], true, "{mine:?}");
        app
    })
    .await;
}

/// What the home page sends: a plain GET, with a Bearer header only if the browser holds a token.
async fn home_page_board(app: &TestApp, token: Option<&str>) -> crate::support::Answer {
    let auth = match token {
        Some(token) => Auth::Bearer(token),
        None => Auth::None,
    };
    app.call("GET", "/api/leaderboard/top-five", None, auth)
        .await
}

#[tokio::test]
async fn the_home_pages_leaderboard_is_public_with_department_and_year_of_released_results_only() {
    on_each_backend(&[], |app: TestApp| async move {
        let s = app.single("2", "0").await;
        let released = app.live_exam(&[&s], 600, 10).await;
        let (_, asha) = app.student("Asha").await;
        let (_, bala) = app.student("Bala").await;
        let profile = json!({
            "fullName": "Asha Rao", "course": "BTECH", "department": "CST", "year": "TWO",
            "semester": "S3", "enrollmentNumber": "2023CSB001",
        });
        let put = app
            .call("PUT", "/api/profile/me", Some(profile), Auth::Bearer(&asha))
            .await;
        assert_eq!(put.status, 200, "{put:?}");
        sit(&app, &released, &asha, &[pick(&s, &[0])]).await;
        sit(&app, &released, &bala, &[pick(&s, &[1])]).await;

        // Nothing released yet: a 404 the page hides, not a 401 that sends it to /login.
        let none = home_page_board(&app, None).await;
        assert_eq!(none.status, 404, "{none:?}");

        app.set_exam_end(&released, oes_app::db::now_ms() - 2000)
            .await;
        for token in [&asha, &bala] {
            let score = app
                .wait_for_status(&format!("/api/result/{released}/score"), token, 200)
                .await;
            assert_eq!(score.status, 200, "{score:?}");
        }

        // A later exam still in its grace period is skipped, not refused with a 403.
        let graced = graced_exam(&app, &s).await;
        app.set_exam_end(&graced, oes_app::db::now_ms() - 1000)
            .await;

        for token in [None, Some("a-token-from-a-session-long-gone")] {
            let board = home_page_board(&app, token).await;
            assert_eq!(board.status, 200, "{token:?}: {board:?}");
            assert_eq!(board.body["success"], true);
            assert_eq!(
                board.body["exam"]["id"],
                released.as_str(),
                "the released exam, not the graced one"
            );
            assert_eq!(board.body["exam"]["totalMarks"], 2.0);
            assert!(board.body["exam"]["examDate"].is_string());
            assert_eq!(board.body["totalParticipants"], 2);
            let rows = board.body["data"].as_array().expect("rows");
            assert_eq!(rows.len(), 2);
            assert_eq!(
                (rows[0]["rank"].as_i64(), rows[0]["name"].as_str()),
                (Some(1), Some("Asha Rao"))
            );
            // As the page displays them: codes it spells out ("Computer Science & Technology").
            assert_eq!(rows[0]["department"], "CST");
            assert_eq!(rows[0]["year"], "TWO");
            assert_eq!(rows[0]["score"], 2.0);
            // Bala has no profile: blanks, not a crash.
            assert_eq!(rows[1]["name"], "Bala");
            assert!(
                rows[1]["department"].is_null() && rows[1]["year"].is_null(),
                "{}",
                rows[1]
            );
            assert!(rows.iter().all(|r| r["isYou"] == false));
            let text = board.body.to_string();
            assert!(
                !text.contains('@'),
                "no emails for anonymous visitors: {text}"
            );
            assert!(
                !text.contains("userId") && !text.contains("attemptId"),
                "{text}"
            );
        }
        // A signed-in student sees the same board with their own row marked.
        let mine = home_page_board(&app, Some(&bala)).await;
        assert_eq!(mine.status, 200, "{mine:?}");
        assert_eq!(mine.body["data"][1]["isYou"], true);
        assert_eq!(mine.body["data"][0]["isYou"], false);
        app
    })
    .await;
}

#[tokio::test]
async fn the_sweep_skips_an_attempt_it_cannot_score_and_scores_the_others() {
    on_each_backend(&[], |app: TestApp| async move {
        let s = app.single("1", "0").await;
        let m = app.multiple("1", "0").await;
        let bad_exam = app.live_exam(&[&s, &m], 3600, 30).await;
        let good_exam = app.live_exam(&[&s], 3600, 30).await;
        let (_, a) = app.student("Asha").await;
        let (_, b) = app.student("Bala").await;
        let bad = sit(&app, &bad_exam, &a, &[pick(&s, &[0]), pick(&m, &[0, 1])]).await;
        let good = sit(&app, &good_exam, &b, &[pick(&s, &[0])]).await;
        let scored = "SELECT COUNT(*) FROM exam_attempts WHERE id = $1 AND scored_at IS NOT NULL";
        for attempt in [&bad, &good] {
            let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while app.scalar_i64(scored, attempt).await == 0 && std::time::Instant::now() < give_up {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(app.scalar_i64(scored, attempt).await, 1, "the job scored {attempt}");
        }

        // Slot marks from before the API bounded them: each fits the column, their total does
        // not. Both scores are lost, the unscorable attempt first in the sweep's order.
        let db = app.server.state().db.pool();
        sqlx::query("UPDATE exam_questions SET marks = CAST($1 AS NUMERIC) WHERE exam_id = $2")
            .bind("999999999999")
            .bind(&bad_exam)
            .execute(db)
            .await
            .expect("marks from before the bounds");
        for (attempt, back_ms) in [(&bad, 120_000_i64), (&good, 60_000)] {
            sqlx::query("UPDATE exam_attempts SET score = NULL, scored_at = NULL, submitted_at = submitted_at - $1 WHERE id = $2")
                .bind(back_ms)
                .bind(attempt)
                .execute(db)
                .await
                .expect("forget the score");
        }

        let state = app.server.state();
        let swept = oes_app::service::attempts::sweep_once(&state.db, &state.cache, &state.jobs).await;
        // The background sweep may hold the pass (PostgreSQL's advisory lock); either way the
        // good attempt is scored within a few passes.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while app.scalar_i64(scored, &good).await == 0 && std::time::Instant::now() < give_up {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(app.scalar_i64(scored, &good).await, 1, "the good attempt was not scored; sweep_once: {swept:?}");
        assert_eq!(app.scalar_i64(scored, &bad).await, 0, "an overflowing score was recorded");
        app
    })
    .await;
}
