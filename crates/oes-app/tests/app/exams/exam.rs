//! `/api/exam` over HTTP on SQLite and PostgreSQL: drafts, validation of the schedule, question
//! slots, publishing, and the lists students see.

use super::{on_each_backend, rfc3339};
use crate::support::{Auth, TestApp};
use serde_json::json;

#[tokio::test]
async fn exam_schedules_are_validated() {
    on_each_backend(&[], |app: TestApp| async move {
        let base = json!({ "title": "T", "durationMinutes": 30, "startTime": rfc3339(60), "endTime": rfc3339(3660) });
        let mut cases = Vec::new();
        let mut no_offset = base.clone();
        no_offset["startTime"] = json!("2030-01-01T10:00:00");
        cases.push(no_offset);
        let mut garbage = base.clone();
        garbage["endTime"] = json!("next tuesday");
        cases.push(garbage);
        let mut reversed = base.clone();
        reversed["startTime"] = json!(rfc3339(4000));
        cases.push(reversed);
        let mut too_long = base.clone();
        too_long["durationMinutes"] = json!(61);
        cases.push(too_long);
        let mut zero = base.clone();
        zero["durationMinutes"] = json!(0);
        cases.push(zero);
        let mut untitled = base.clone();
        untitled["title"] = json!("  ");
        cases.push(untitled);
        for body in cases {
            let a = app.post("/api/exam/create", body.clone(), &app.admin).await;
            assert_eq!(a.status, 400, "{body} -> {a:?}");
        }
        let ok = app.post("/api/exam/create", base, &app.admin).await;
        assert_eq!(ok.status, 201, "{ok:?}");
        assert_eq!(ok.body["exam"]["state"], "DRAFT");
        // Updates are validated as a whole too.
        let id = ok.body["exam"]["id"].as_str().expect("id");
        let bad = app
            .put(&format!("/api/exam/{id}"), json!({ "durationMinutes": 120 }), &app.admin)
            .await;
        assert_eq!(bad.status, 400, "{bad:?}");
        app
    })
    .await;
}

#[tokio::test]
async fn an_exam_window_wholly_in_the_past_is_refused_at_create_and_update() {
    on_each_backend(&[], |app: TestApp| async move {
        let past = json!({ "title": "T", "durationMinutes": 30, "startTime": rfc3339(-7200), "endTime": rfc3339(-3600) });
        let a = app.post("/api/exam/create", past, &app.admin).await;
        assert_eq!(a.status, 400, "{a:?}");
        assert_eq!(a.code(), "validation_failed");
        assert_eq!(a.body["details"]["errors"], json!(["endTime must be in the future"]));

        // Started already but still open: a valid window.
        let exam = app.exam(-600, 3600, 30).await;
        let moved = app
            .put(
                &format!("/api/exam/{exam}"),
                json!({ "startTime": rfc3339(-7200), "endTime": rfc3339(-3600) }),
                &app.admin,
            )
            .await;
        assert_eq!(moved.status, 400, "{moved:?}");
        assert_eq!(
            moved.body["details"]["errors"],
            json!(["endTime must be in the future"])
        );
        let retitled = app
            .put(&format!("/api/exam/{exam}"), json!({ "title": "Renamed" }), &app.admin)
            .await;
        assert_eq!(retitled.status, 200, "an open window still takes updates: {retitled:?}");
        app
    })
    .await;
}

#[tokio::test]
async fn drafts_take_questions_with_default_marks_then_publish_and_freeze() {
    on_each_backend(&[], |app: TestApp| async move {
        let q1 = app.single("2.5", "0").await;
        let q2 = app.numerical("1", "0", "4", "1").await;
        let exam = app.exam(60, 7200, 60).await;

        let empty = app.post(&format!("/api/exam/{exam}/publish"), json!({}), &app.admin).await;
        assert_eq!(empty.status, 400);
        assert_eq!(empty.code(), "exam_has_no_questions");
        let neither = app.post(&format!("/api/exam/{exam}/questions"), json!({}), &app.admin).await;
        assert_eq!(neither.status, 400, "{neither:?}");

        let add = app
            .post(
                &format!("/api/exam/{exam}/questions"),
                json!({ "addQuestionIds": [{ "questionId": q1["id"] }, { "questionId": q2["id"], "marks": 3 }] }),
                &app.admin,
            )
            .await;
        assert_eq!(add.status, 200, "{add:?}");
        let dup = app
            .post(&format!("/api/exam/{exam}/questions"), json!({ "addQuestionIds": [{ "questionId": q1["id"] }] }), &app.admin)
            .await;
        assert_eq!(dup.status, 409, "{dup:?}");
        let unknown = app
            .post(
                &format!("/api/exam/{exam}/questions"),
                json!({ "addQuestionIds": [{ "questionId": uuid::Uuid::new_v4() }] }),
                &app.admin,
            )
            .await;
        assert_eq!(unknown.status, 400, "{unknown:?}");
        assert_eq!(unknown.code(), "invalid_question_ids");

        let got = app.get(&format!("/api/exam/{exam}"), &app.admin).await;
        assert_eq!(got.status, 200, "{got:?}");
        let slots = got.body["exam"]["questions"].as_array().expect("questions");
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[0]["marksForEachQuestion"], 2.5, "defaults to the question's marks");
        assert_eq!(slots[1]["marksForEachQuestion"], 3.0);

        let remove = app
            .post(&format!("/api/exam/{exam}/questions"), json!({ "removeQuestionIds": [q2["id"]] }), &app.admin)
            .await;
        assert_eq!(remove.status, 200, "{remove:?}");
        let upd = app.put(&format!("/api/exam/{exam}"), json!({ "title": "Final" }), &app.admin).await;
        assert_eq!(upd.status, 200, "{upd:?}");
        assert_eq!(upd.body["exam"]["title"], "Final");

        app.publish(&exam).await;
        let again = app.post(&format!("/api/exam/{exam}/publish"), json!({}), &app.admin).await;
        assert_eq!(again.code(), "exam_not_draft");
        let upd = app.put(&format!("/api/exam/{exam}"), json!({ "title": "X" }), &app.admin).await;
        assert_eq!(upd.status, 400);
        assert_eq!(upd.code(), "exam_not_draft");
        let del = app.delete(&format!("/api/exam/{exam}"), &app.admin).await;
        assert_eq!(del.status, 400);
        let slots = app
            .post(&format!("/api/exam/{exam}/questions"), json!({ "removeQuestionIds": [q1["id"]] }), &app.admin)
            .await;
        assert_eq!(slots.status, 400);

        let all = app.get("/api/exam/all", &app.admin).await;
        assert_eq!(all.status, 200);
        assert_eq!(all.body["exams"][0]["state"], "PUBLISHED");

        let draft = app.exam(60, 7200, 60).await;
        let del = app.delete(&format!("/api/exam/{draft}"), &app.admin).await;
        assert_eq!(del.status, 200, "{del:?}");
        assert_eq!(app.get(&format!("/api/exam/{draft}"), &app.admin).await.status, 404);
        app
    })
    .await;
}

#[tokio::test]
async fn students_see_published_upcoming_and_live_exams_with_their_attempt_only() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let live = app.live_exam(&[&q], 3600, 30).await;
        let upcoming = app.exam(3600, 7200, 30).await;
        app.add(&upcoming, &[&q]).await;
        app.publish(&upcoming).await;
        let hidden_draft = app.exam(-60, 3600, 30).await;
        let (_, student) = app.student("Asha").await;

        let up = app.get("/api/exam/upcoming", &student).await;
        assert_eq!(up.status, 200, "{up:?}");
        let ids: Vec<&str> = up.body["exams"]
            .as_array()
            .expect("exams")
            .iter()
            .filter_map(|e| e["id"].as_str())
            .collect();
        assert_eq!(ids, vec![upcoming.as_str()]);

        let l = app.get("/api/exam/live", &student).await;
        let exams = l.body["exams"].as_array().expect("exams");
        assert_eq!(exams.len(), 1, "{l:?}");
        assert_eq!(exams[0]["id"], live.as_str());
        assert_eq!(exams[0]["hasAttempt"], false);
        assert!(!l.body.to_string().contains(&hidden_draft));

        let s = app
            .post(
                &format!("/api/exam-attempt/{live}/start"),
                json!({}),
                &student,
            )
            .await;
        assert_eq!(s.status, 201, "{s:?}");
        let l = app.get("/api/exam/live", &student).await;
        assert_eq!(l.body["exams"][0]["hasAttempt"], true);
        assert_eq!(l.body["exams"][0]["attemptStatus"], "IN_PROGRESS");
        assert_eq!(l.body["exams"][0]["attemptId"], s.body["attemptId"]);

        // Another student sees the exam without the first student's attempt.
        let (_, other) = app.student("Ravi").await;
        let l = app.get("/api/exam/live", &other).await;
        assert_eq!(l.body["exams"][0]["hasAttempt"], false);

        for path in ["/api/exam/all", &format!("/api/exam/{live}")] {
            assert_eq!(app.get(path, &student).await.status, 403, "{path}");
        }
        let create = app.post("/api/exam/create", json!({}), &student).await;
        assert_eq!(create.status, 403);
        assert_eq!(
            app.call("GET", "/api/exam/live", None, Auth::None)
                .await
                .status,
            401
        );
        app
    })
    .await;
}
