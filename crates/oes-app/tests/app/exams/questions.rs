//! `/api/question` over HTTP on SQLite and PostgreSQL: the bank's CRUD, validation by type,
//! pagination, role checks, and the freeze of questions used by a published exam.

use super::{on_each_backend, option_id};
use crate::support::{Auth, TestApp};
use serde_json::json;

#[tokio::test]
async fn admins_create_get_list_update_and_delete_questions() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("2", "0.5").await;
        assert_eq!(q["domain"], "geography");
        assert_eq!(q["marks"], 2.0);
        assert_eq!(q["negativeMarks"], 0.5);
        let id = q["id"].as_str().expect("id").to_owned();

        let got = app.get(&format!("/api/question/{id}"), &app.admin).await;
        assert_eq!(got.status, 200, "{got:?}");
        assert_eq!(got.body["data"]["options"][0]["text"], "Paris");
        assert_eq!(got.body["data"]["options"][0]["isCorrect"], true);

        app.numerical("9.81", "0.01", "1", "0").await;
        let list = app
            .get("/api/question?questionType=NUMERICAL&limit=5", &app.admin)
            .await;
        assert_eq!(list.status, 200, "{list:?}");
        assert_eq!(list.body["data"].as_array().expect("array").len(), 1);
        assert_eq!(list.body["data"][0]["numericalAnswer"], 9.81);
        assert_eq!(list.body["pagination"]["total"], 1);
        let all = app.get("/api/question?page=1&limit=1", &app.admin).await;
        assert_eq!(all.body["pagination"]["total"], 2);
        assert_eq!(all.body["pagination"]["totalPages"], 2);

        // An update keeping the first option's id changes the text in place.
        let keep = option_id(&q, 0);
        let upd = app
            .put(
                &format!("/api/question/{id}"),
                json!({
                    "statement": "Capital city of France?",
                    "options": [
                        { "id": keep, "text": "Paris", "isCorrect": true },
                        { "text": "Marseille", "isCorrect": false }
                    ]
                }),
                &app.admin,
            )
            .await;
        assert_eq!(upd.status, 200, "{upd:?}");
        assert_eq!(
            upd.body["data"]["options"][0]["id"].as_str(),
            Some(keep.as_str())
        );
        assert_eq!(upd.body["data"]["version"], 2);
        // The cached copy was invalidated by the update.
        let again = app.get(&format!("/api/question/{id}"), &app.admin).await;
        assert_eq!(again.body["data"]["statement"], "Capital city of France?");

        let del = app.delete(&format!("/api/question/{id}"), &app.admin).await;
        assert_eq!(del.status, 204, "{del:?}");
        let gone = app.get(&format!("/api/question/{id}"), &app.admin).await;
        assert_eq!(gone.status, 404, "{gone:?}");
        app
    })
    .await;
}

#[tokio::test]
async fn invalid_questions_and_bad_pages_are_400() {
    on_each_backend(&[], |app: TestApp| async move {
        let cases = [
            json!({ "statement": "x", "questionType": "ESSAY", "domain": "d" }),
            json!({ "statement": "x", "questionType": "SINGLE_CORRECT", "domain": "d",
                    "options": [{ "text": "a", "isCorrect": true }] }),
            json!({ "statement": "x", "questionType": "SINGLE_CORRECT", "domain": "d",
                    "options": [{ "text": "a", "isCorrect": true }, { "text": "b", "isCorrect": true }] }),
            json!({ "statement": "x", "questionType": "MULTIPLE_CORRECT", "domain": "d",
                    "options": [{ "text": "a" }, { "text": "b" }] }),
            json!({ "statement": "x", "questionType": "NUMERICAL", "domain": "d" }),
            json!({ "statement": "", "questionType": "NUMERICAL", "domain": "d", "numericalAnswer": 1 }),
            json!({ "statement": "x", "questionType": "SINGLE_CORRECT", "domain": "d",
                    "options": [{ "text": "", "isCorrect": true }, { "text": "b" }] }),
        ];
        for body in cases {
            let a = app.post("/api/question/create", body.clone(), &app.admin).await;
            assert_eq!(a.status, 400, "{body} -> {a:?}");
            assert_eq!(a.code(), "validation_failed");
        }
        for query in ["page=0", "page=abc", "limit=0", "limit=1000", "limit=-3", "difficulty=SUPER"] {
            let a = app.get(&format!("/api/question?{query}"), &app.admin).await;
            assert_eq!(a.status, 400, "{query} -> {a:?}");
        }
        let bad_id = app.get("/api/question/not-a-uuid", &app.admin).await;
        assert_eq!(bad_id.status, 400);
        app
    })
    .await;
}

#[tokio::test]
async fn students_and_anonymous_callers_cannot_use_the_bank() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let (_, student) = app.student("Stu Dent").await;
        let id = q["id"].as_str().expect("id");
        assert_eq!(app.get("/api/question", &student).await.status, 403);
        assert_eq!(
            app.get(&format!("/api/question/{id}"), &student)
                .await
                .status,
            403
        );
        let create = app.post("/api/question/create", json!({}), &student).await;
        assert_eq!(create.status, 403);
        let anon = app.call("GET", "/api/question", None, Auth::None).await;
        assert_eq!(anon.status, 401);
        app
    })
    .await;
}

#[tokio::test]
async fn a_question_in_a_published_exam_cannot_be_changed_or_deleted() {
    on_each_backend(&[], |app: TestApp| async move {
        let q = app.single("1", "0").await;
        let id = q["id"].as_str().expect("id").to_owned();
        let draft = app.exam(60, 7200, 30).await;
        app.add(&draft, &[&q]).await;
        // In a draft exam: editable, but not deletable until removed from the exam.
        let edit = app
            .put(
                &format!("/api/question/{id}"),
                json!({ "marks": 3 }),
                &app.admin,
            )
            .await;
        assert_eq!(edit.status, 200, "{edit:?}");
        let del = app.delete(&format!("/api/question/{id}"), &app.admin).await;
        assert_eq!(del.status, 409, "{del:?}");
        assert_eq!(del.code(), "question_in_use");

        app.publish(&draft).await;
        let edit = app
            .put(
                &format!("/api/question/{id}"),
                json!({ "marks": 5 }),
                &app.admin,
            )
            .await;
        assert_eq!(edit.status, 409, "{edit:?}");
        assert_eq!(edit.code(), "question_in_published_exam");
        let del = app.delete(&format!("/api/question/{id}"), &app.admin).await;
        assert_eq!(del.status, 409, "{del:?}");
        app
    })
    .await;
}

#[tokio::test]
async fn numbers_beyond_the_allowed_ranges_are_400_naming_the_range() {
    on_each_backend(&[], |app: TestApp| async move {
        let choice = json!({ "statement": "x", "questionType": "SINGLE_CORRECT", "domain": "d",
                             "options": [{ "text": "a", "isCorrect": true }, { "text": "b" }] });
        let numerical =
            json!({ "statement": "x", "questionType": "NUMERICAL", "domain": "d", "numericalAnswer": 1 });
        // 1e12 no longer fits PostgreSQL's NUMERIC(18,6); 7.9e28 is near Decimal's own limit,
        // where summing two of them used to panic the scoring sweep.
        let cases = [
            (&choice, "marks", json!(1e12), "10000"),
            (&choice, "marks", json!(7.9e28), "10000"),
            (&choice, "negativeMarks", json!(1e12), "10000"),
            (&choice, "negativeMarks", json!(-1), "10000"),
            (&numerical, "numericalAnswer", json!(1e13), "1000000000"),
            (&numerical, "numericalAnswer", json!(-1e13), "1000000000"),
            (&numerical, "tolerance", json!(1e13), "1000000000"),
        ];
        for (template, field, value, bound) in cases {
            let mut body = template.clone();
            body[field] = value;
            let a = app.post("/api/question/create", body.clone(), &app.admin).await;
            assert_eq!(a.status, 400, "{body} -> {a:?}");
            assert_eq!(a.code(), "validation_failed", "{a:?}");
            let message = a.body["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(field) && message.contains(bound),
                "{body} -> {message}"
            );
        }

        let q = app.single("1", "0").await;
        let id = q["id"].as_str().expect("id").to_owned();
        let update = app
            .put(&format!("/api/question/{id}"), json!({ "marks": 1e12 }), &app.admin)
            .await;
        assert_eq!(update.status, 400, "{update:?}");
        assert!(update.body["message"].as_str().unwrap_or_default().contains("10000"), "{update:?}");

        let exam = app.exam(60, 7200, 30).await;
        let slot = app
            .post(
                &format!("/api/exam/{exam}/questions"),
                json!({ "addQuestionIds": [{ "questionId": id, "marks": 1e12 }] }),
                &app.admin,
            )
            .await;
        assert_eq!(slot.status, 400, "{slot:?}");
        assert!(slot.body["message"].as_str().unwrap_or_default().contains("10000"), "{slot:?}");

        let at_the_bound = app
            .post(
                "/api/question/create",
                json!({ "statement": "y", "questionType": "NUMERICAL", "domain": "d",
                        "marks": 10000, "negativeMarks": 10000,
                        "numericalAnswer": -1e9, "tolerance": 1e9 }),
                &app.admin,
            )
            .await;
        assert_eq!(at_the_bound.status, 201, "{at_the_bound:?}");
        app
    })
    .await;
}

#[tokio::test]
async fn a_search_matches_percent_underscore_and_backslash_literally() {
    on_each_backend(&[], |app: TestApp| async move {
        for statement in ["I am 100% sure", "1000 things", "abc", "path a\\c"] {
            app.question(json!({
                "statement": statement,
                "questionType": "NUMERICAL",
                "domain": "search",
                "numericalAnswer": "1"
            }))
            .await;
        }
        let statements = |term: &str| {
            let path = format!(
                "/api/question?search={}",
                url::form_urlencoded::byte_serialize(term.as_bytes()).collect::<String>()
            );
            let app = &app;
            async move {
                let list = app.get(&path, &app.admin).await;
                assert_eq!(list.status, 200, "{list:?}");
                let mut found: Vec<String> = list.body["data"]
                    .as_array()
                    .expect("array")
                    .iter()
                    .map(|q| q["statement"].as_str().expect("statement").to_owned())
                    .collect();
                found.sort();
                assert_eq!(
                    list.body["pagination"]["total"],
                    found.len(),
                    "the count agrees with the page"
                );
                found
            }
        };
        assert_eq!(statements("100%").await, ["I am 100% sure"]);
        assert!(statements("a_c").await.is_empty());
        assert_eq!(statements("a\\c").await, ["path a\\c"]);
        assert_eq!(statements("SURE").await, ["I am 100% sure"]);
        app
    })
    .await;
}
