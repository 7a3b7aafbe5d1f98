//! The OpenAPI document served by the app describes every route of the exam area (both
//! backends, as every HTTP test).

use super::on_each_backend;
use crate::support::{Auth, TestApp};

#[tokio::test]
async fn the_openapi_document_lists_the_exam_routes() {
    on_each_backend(&[], |app: TestApp| async move {
        let doc = app.call("GET", "/api/openapi.json", None, Auth::None).await;
        assert_eq!(doc.status, 200, "{doc:?}");
        let paths = &doc.body["paths"];
        for (path, method) in [
            ("/api/question/create", "post"),
            ("/api/question", "get"),
            ("/api/question/{id}", "put"),
            ("/api/question/{id}", "delete"),
            ("/api/exam/upcoming", "get"),
            ("/api/exam/live", "get"),
            ("/api/exam/create", "post"),
            ("/api/exam/all", "get"),
            ("/api/exam/{examId}", "get"),
            ("/api/exam/{examId}/questions", "post"),
            ("/api/exam/{examId}/publish", "post"),
            ("/api/exam-attempt/{examId}/start", "post"),
            ("/api/exam-attempt/{examId}/attempt", "get"),
            ("/api/exam-attempt/{examId}/save", "post"),
            ("/api/exam-attempt/{examId}/submit", "post"),
            ("/api/result", "get"),
            ("/api/result/{examId}/score", "get"),
            ("/api/result/{examId}/analysis", "get"),
            ("/api/leaderboard/top-five", "get"),
        ] {
            assert!(
                paths[path][method].is_object(),
                "{method} {path} is not described"
            );
        }
        assert!(paths["/api/result/{examId}/score"]["get"]["responses"]["202"].is_object());
        app
    })
    .await;
}

/// The limits in the document are the ones the domain enforces, so a client validating against
/// the schema and the server agree on what is out of range.
#[test]
fn the_document_states_the_numeric_ranges_the_domain_enforces() {
    use oes_app::domain::exams::{MAX_DURATION_MINUTES, MAX_GRACE_SECONDS};
    use oes_app::domain::questions::{MAX_MARKS, MAX_NUMBER};
    use rust_decimal::prelude::ToPrimitive;

    let doc: serde_json::Value =
        serde_json::from_str(&oes_app::http::openapi::document_json()).expect("JSON");
    let schemas = &doc["components"]["schemas"];
    let marks = MAX_MARKS.to_f64();
    let number = MAX_NUMBER.to_f64();
    let bound =
        |schema: &str, field: &str, key: &str| schemas[schema]["properties"][field][key].as_f64();
    for body in ["NewQuestionBody", "QuestionChangesBody"] {
        assert_eq!(bound(body, "marks", "maximum"), marks, "{body}");
        assert_eq!(
            bound(body, "marks", "exclusiveMinimum"),
            Some(0.0),
            "{body}"
        );
        assert_eq!(bound(body, "negativeMarks", "maximum"), marks, "{body}");
        assert_eq!(bound(body, "negativeMarks", "minimum"), Some(0.0), "{body}");
        assert_eq!(bound(body, "numericalAnswer", "maximum"), number, "{body}");
        assert_eq!(
            bound(body, "numericalAnswer", "minimum"),
            number.map(|n| -n),
            "{body}"
        );
        assert_eq!(bound(body, "tolerance", "maximum"), number, "{body}");
    }
    assert_eq!(bound("AddQuestionBody", "marks", "maximum"), marks);
    assert_eq!(bound("SaveBody", "numericalAnswer", "maximum"), number);
    assert_eq!(
        bound("SaveBody", "numericalAnswer", "minimum"),
        number.map(|n| -n)
    );
    for body in ["NewExamBody", "ExamChangesBody"] {
        assert_eq!(
            bound(body, "durationMinutes", "minimum"),
            Some(1.0),
            "{body}"
        );
        assert_eq!(
            bound(body, "durationMinutes", "maximum"),
            Some(MAX_DURATION_MINUTES as f64),
            "{body}"
        );
        assert_eq!(bound(body, "graceSeconds", "minimum"), Some(0.0), "{body}");
        assert_eq!(
            bound(body, "graceSeconds", "maximum"),
            Some(MAX_GRACE_SECONDS as f64),
            "{body}"
        );
    }
}
