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
