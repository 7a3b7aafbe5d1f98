//! The OpenAPI document of the API, served at `GET /api/openapi.json` (no UI is bundled).
//!
//! Each handler describes itself with `#[utoipa::path]`, its request and response types with
//! `ToSchema` (validation limits included); this module lists the handlers, declares the two
//! ways to present a session, and holds the error responses many routes share.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::http::session::SESSION_COOKIE;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OES API",
        description = "The OES online-exam platform. Sessions: the HttpOnly cookie `accessToken` \
                       (browsers; cookie-authenticated writes must come from an allowed Origin) \
                       or `Authorization: Bearer <token>` (other clients). Pages on the allowed \
                       origins may call the API from another origin: CORS with credentials, \
                       preflights answered 204 without authentication; other origins get no \
                       CORS headers. Every error answer is an `ErrorBody`. Bodies are JSON \
                       (`Content-Type: application/json`); fields not described are ignored."
    ),
    modifiers(&Sessions),
    paths(
        super::probes::health,
        super::probes::ready,
        super::auth::signup,
        super::auth::login,
        super::auth::logout,
        super::auth::verify_email,
        super::auth::resend_verification,
        super::auth::forgot_password,
        super::auth::reset_password,
        super::auth::change_password,
        super::profile::get_me,
        super::profile::put_me,
        super::profile::request_email_change,
        super::profile::confirm_email_change,
        super::question::create,
        super::question::list,
        super::question::get_one,
        super::question::update,
        super::question::delete,
        super::exam::upcoming,
        super::exam::live,
        super::exam::create,
        super::exam::all,
        super::exam::get_one,
        super::exam::update,
        super::exam::delete,
        super::exam::set_questions,
        super::exam::publish,
        super::attempt::start,
        super::attempt::load,
        super::attempt::save,
        super::attempt::submit,
        super::result::mine,
        super::result::score,
        super::result::analysis,
        super::leaderboard::top_five,
        super::admin_notifications::create,
        super::admin_notifications::progress,
        super::admin_monitoring::queues,
        super::admin_monitoring::failed,
        super::admin_monitoring::job,
        super::admin_monitoring::retry_job,
        super::admin_monitoring::retry_all,
        super::admin_monitoring::cache,
        super::admin_monitoring::redis,
    ),
    components(schemas(super::error::ErrorBody)),
    tags(
        (name = "probes", description = "Liveness and readiness, for load balancers and orchestrators"),
        (name = "auth", description = "Accounts and sessions"),
        (name = "profile", description = "The signed-in user's profile and email"),
        (name = "questions", description = "The question bank (administrators)"),
        (name = "exams", description = "Exams: drafts and publishing (administrators), upcoming and live lists (students)"),
        (name = "attempts", description = "A student's attempt: start, paper, save, submit; auto-submitted at the hard end"),
        (name = "results", description = "A student's own results, released when the exam's end plus its grace period has passed"),
        (name = "leaderboard", description = "Top scores of the most recently ended exam whose results are released (public)"),
        (name = "notifications", description = "Admin notifications: one message fanned out to an audience by email"),
        (name = "monitoring", description = "Job queues, cache and Redis of the running platform (administrators); what the queue dashboard shows"),
    )
)]
pub struct ApiDoc;

/// The document as served, for tools that want it without a running server.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The request fields that take a new password (in `auth`), as (schema, property): their
/// `minLength` is the deployment's PASSWORD_MIN_LENGTH in the document as served.
pub(crate) const NEW_PASSWORD_FIELDS: [(&str, &str); 3] = [
    ("SignupBody", "password"),
    ("ResetBody", "newPassword"),
    ("ChangePasswordBody", "newPassword"),
];

/// The document with the limits this deployment configured: the new-password fields state
/// PASSWORD_MIN_LENGTH (the static document states the default).
pub(crate) async fn document(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let min = state.config.accounts.password_policy.min_chars;
    for (schema, field) in NEW_PASSWORD_FIELDS {
        if let Some(property) = doc
            .pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
            .and_then(serde_json::Value::as_object_mut)
        {
            property.insert("minLength".to_owned(), min.into());
        }
    }
    Json(doc)
}

/// The two security schemes that routes name: `bearer` and `cookie`.
struct Sessions;

impl Modify for Sessions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The `accessToken` returned by login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The HttpOnly session cookie set by login; writes must come from an allowed Origin",
            ))),
        );
    }
}

fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// 401 of every route that needs a session.
pub(crate) struct Unauthenticated;

impl IntoResponses for Unauthenticated {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        BTreeMap::from([(
            "401".to_owned(),
            error("No live session (or an expired or revoked one)"),
        )])
    }
}

/// What `ApiJson` answers for a body it cannot take (400 for malformed JSON is listed with
/// each route's own 400).
pub(crate) struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        BTreeMap::from([
            (
                "413".to_owned(),
                error("The body is larger than this server accepts"),
            ),
            (
                "415".to_owned(),
                error("The body is not declared as application/json"),
            ),
            (
                "422".to_owned(),
                error("Well-formed JSON of the wrong shape (a field of the wrong type)"),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Value;

    use super::document_json;
    use crate::domain::accounts::PasswordPolicy;

    fn operations(doc: &Value) -> Vec<(String, &Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                out.push((format!("{} {path}", method.to_uppercase()), op));
            }
        }
        out
    }

    /// A JSON body described only in prose (an empty schema) is what this document must not
    /// have again: generators and fuzzers cannot use it.
    fn typed(content: &Value) -> bool {
        let schema = &content["application/json"]["schema"];
        schema.get("$ref").is_some() || schema.get("type").is_some()
    }

    #[test]
    fn every_operation_has_an_id_typed_bodies_and_its_error_answers() {
        let doc: Value = serde_json::from_str(&document_json()).expect("the document is JSON");
        let ops = operations(&doc);
        assert!(ops.len() >= 45, "only {} operations", ops.len());
        let mut ids = HashSet::new();
        for (name, op) in ops {
            let id = op["operationId"].as_str().expect("an operationId");
            assert!(
                ids.insert(id.to_owned()),
                "{name}: operationId {id} is taken"
            );
            if let Some(body) = op.get("requestBody") {
                assert!(typed(&body["content"]), "{name}: untyped request body");
                for status in ["413", "415", "422"] {
                    assert!(op["responses"][status].is_object(), "{name}: no {status}");
                }
            }
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                if let Some(content) = response.get("content") {
                    assert!(typed(content), "{name}: untyped {status} body");
                }
            }
            let signed_in = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|r| !r.is_empty()))
            });
            if signed_in {
                assert!(op["responses"]["401"].is_object(), "{name}: no 401");
            }
        }
    }

    #[test]
    fn the_document_states_the_limits_the_services_enforce() {
        let doc: Value = serde_json::from_str(&document_json()).expect("the document is JSON");
        let schemas = &doc["components"]["schemas"];
        let signup = &schemas["SignupBody"]["properties"];
        for (schema, field) in super::NEW_PASSWORD_FIELDS {
            let password = &schemas[schema]["properties"][field];
            assert_eq!(
                password["minLength"],
                PasswordPolicy::DEFAULT_MIN_CHARS,
                "{schema}.{field}"
            );
            assert_eq!(
                password["maxLength"],
                PasswordPolicy::MAX_CHARS,
                "{schema}.{field}"
            );
            // NIST SP 800-63B: no composition rules, so no pattern either.
            assert!(password.get("pattern").is_none(), "{schema}.{field}");
        }
        assert_eq!(signup["email"]["format"], "email");
        let exam = &schemas["NewExamBody"];
        assert_eq!(exam["properties"]["graceSeconds"]["maximum"], 3600);
        assert_eq!(exam["properties"]["startTime"]["format"], "date-time");
        assert!(
            exam["required"]
                .as_array()
                .is_some_and(|r| r.contains(&Value::from("title")))
        );
        assert_eq!(schemas["ExamId"]["format"], "uuid");
        assert_eq!(
            schemas["ProfileBody"]["properties"]["semester"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(8)
        );
        assert!(doc["components"]["securitySchemes"]["cookie"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }

    #[test]
    fn the_probes_and_the_monitoring_routes_are_described_with_their_answers() {
        let doc: Value = serde_json::from_str(&document_json()).expect("the document is JSON");
        let paths = &doc["paths"];
        for probe in ["/api/health", "/api/ready"] {
            let op = &paths[probe]["get"];
            assert_eq!(op["tags"][0], "probes", "{probe}");
            assert!(op.get("security").is_none(), "{probe} needs no session");
        }
        assert!(paths["/api/ready"]["get"]["responses"]["503"].is_object());
        for (path, method) in [
            ("/api/admin/queues", "get"),
            ("/api/admin/queues/{queue}/failed", "get"),
            ("/api/admin/queues/{queue}/retry", "post"),
            ("/api/admin/queues/{queue}/jobs/{id}", "get"),
            ("/api/admin/queues/{queue}/jobs/{id}/retry", "post"),
            ("/api/admin/cache", "get"),
            ("/api/admin/redis", "get"),
        ] {
            let op = &paths[path][method];
            assert_eq!(op["tags"][0], "monitoring", "{method} {path}");
            assert!(op["security"].is_array(), "{method} {path}: no security");
            for status in ["200", "401", "403"] {
                assert!(op["responses"][status].is_object(), "{path}: no {status}");
            }
            if path.contains("{queue}") {
                for status in ["404", "503"] {
                    assert!(op["responses"][status].is_object(), "{path}: no {status}");
                }
            }
        }
        let failed = &paths["/api/admin/queues/{queue}/failed"]["get"];
        let limit = failed["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "limit")
            .expect("a limit parameter");
        assert_eq!(limit["schema"]["minimum"], 1);
        assert_eq!(limit["schema"]["maximum"], 100);
        assert!(failed["responses"]["400"].is_object());
        assert!(
            paths["/api/admin/queues/{queue}/jobs/{id}/retry"]["post"]["responses"]["409"]
                .is_object()
        );
    }

    #[test]
    fn the_monitoring_answers_embed_the_schemas_of_the_job_and_cache_crates() {
        let doc: Value = serde_json::from_str(&document_json()).expect("the document is JSON");
        let schemas = &doc["components"]["schemas"];
        let summary = &schemas["QueueSummary"]["properties"];
        assert_eq!(summary["counts"]["$ref"], "#/components/schemas/JobCounts");
        assert_eq!(
            schemas["JobView"]["properties"]["state"]["$ref"],
            "#/components/schemas/JobState"
        );
        assert!(
            schemas["JobState"]["enum"]
                .as_array()
                .is_some_and(|e| e.contains(&Value::from("failed")))
        );
        assert!(schemas["JobCounts"]["properties"]["failed"].is_object());
        assert!(schemas["WorkerStats"]["properties"]["retried"].is_object());
        // The cache's counters are flattened into the report, as the handler serializes them.
        assert!(
            schemas["CacheReport"]["allOf"]
                .as_array()
                .is_some_and(|parts| parts
                    .iter()
                    .any(|p| p["$ref"] == "#/components/schemas/CacheStats"))
        );
        assert!(schemas["CacheStats"]["properties"]["l1Hits"].is_object());
    }
}
