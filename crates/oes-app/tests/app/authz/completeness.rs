//! The matrix covers what the server answers: every route of the route table (read from its
//! source, since axum cannot list a router's routes) and every operation of the OpenAPI
//! document has a row, every row is a route, and the document asks for a session exactly where
//! the matrix refuses anonymous callers.

use std::collections::BTreeSet;

use serde_json::Value;

use super::matrix::{On, ROWS, Row};
use super::{Caller, Column, Phase};

const ROUTE_TABLE: &str = include_str!("../../../src/http/routes.rs");

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// `METHOD /path` with every parameter written `{}`: the route table names them `{exam_id}`,
/// the document `{examId}`.
fn key(method: &str, path: &str) -> String {
    let mut out = format!("{} ", method.to_uppercase());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// The text from just after an opening parenthesis to its matching close.
fn balanced(text: &str) -> &str {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced route call in the route table: {text}")
}

/// Whether `args` calls the method router `method(…)` (and not, say, a handler named
/// `get_one`).
fn calls(args: &str, method: &str) -> bool {
    args.match_indices(&format!("{method}(")).any(|(at, _)| {
        args[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// Every `METHOD /path` of the route table; those after `fn api()` are nested under `/api`.
fn routes() -> BTreeSet<String> {
    let api_at = ROUTE_TABLE
        .find("fn api()")
        .expect("the route table has fn api()");
    let mut out = BTreeSet::new();
    for (at, call) in ROUTE_TABLE.match_indices(".route(") {
        let args = balanced(&ROUTE_TABLE[at + call.len()..]);
        let path = args
            .split('"')
            .nth(1)
            .expect("a route's first argument is its path");
        let prefix = if at > api_at { "/api" } else { "" };
        let methods: Vec<&str> = METHODS.into_iter().filter(|m| calls(args, m)).collect();
        assert!(!methods.is_empty(), "no method found for {path}: {args}");
        for method in methods {
            out.insert(key(method, &format!("{prefix}{path}")));
        }
    }
    out
}

fn document() -> Value {
    serde_json::from_str(&oes_app::http::openapi::document_json()).expect("the document is JSON")
}

/// Every operation of the document: (`METHOD /path`, the operation).
fn operations(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if METHODS.contains(&method.as_str()) {
                out.push((key(method, path), op));
            }
        }
    }
    out
}

fn rows() -> BTreeSet<String> {
    ROWS.iter().map(|r| key(r.method, r.path)).collect()
}

fn row_for(wanted: &str) -> Option<&'static Row> {
    ROWS.iter().find(|r| key(r.method, r.path) == wanted)
}

#[test]
fn the_route_parser_reads_methods_and_nesting() {
    assert_eq!(key("get", "/api/exam/{exam_id}"), "GET /api/exam/{}");
    assert!(calls("get(question::get_one).put(question::update)", "put"));
    assert!(!calls("post(exam::get_one)", "get"));
    let found = routes();
    assert!(found.contains("GET /metrics"), "outside /api stays outside");
    assert!(found.contains("DELETE /api/question/{}"));
    assert!(found.contains("PUT /api/profile/me"));
}

#[test]
fn every_route_and_every_documented_operation_has_a_row_and_every_row_is_a_route() {
    let rows = rows();
    assert_eq!(
        rows.len(),
        ROWS.len(),
        "one row per route: a route appears twice"
    );
    let routes = routes();
    let documented: BTreeSet<String> = operations(&document())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let missing_routes: Vec<&String> = routes.difference(&rows).collect();
    let missing_operations: Vec<&String> = documented.difference(&rows).collect();
    let stale: Vec<&String> = rows.difference(&routes).collect();
    assert!(
        missing_routes.is_empty() && missing_operations.is_empty() && stale.is_empty(),
        "routes without a row: {missing_routes:?}\ndocumented operations without a row: \
         {missing_operations:?}\nrows that are no route: {stale:?}"
    );
}

#[test]
fn the_document_asks_for_a_session_exactly_where_the_matrix_refuses_anonymous_callers() {
    let doc = document();
    let mut disagreements = Vec::new();
    for (route, op) in operations(&doc) {
        let Some(row) = row_for(&route) else { continue };
        // A session is required when every way in the document names one; `{}` among them
        // (or no security at all) means anonymous callers are served.
        let required = op["security"].as_array().is_some_and(|ways| {
            !ways.is_empty()
                && ways
                    .iter()
                    .all(|w| w.as_object().is_some_and(|o| !o.is_empty()))
        });
        let columns: Vec<Column> = match row.on {
            On::Exam => Column::ON_EXAM.to_vec(),
            On::World => Phase::ALL.into_iter().map(Column::Phase).collect(),
        };
        let refused = columns
            .iter()
            .all(|c| row.expect.status(Caller::Anonymous, *c) == 401);
        let served = columns
            .iter()
            .all(|c| row.expect.status(Caller::Anonymous, *c) != 401);
        let documents_401 = op["responses"]["401"].is_object();
        if (required && (!refused || !documents_401)) || (!required && !served) {
            disagreements.push(format!(
                "{route}: the document says a session is {}required (401 {}documented), the matrix \
                 expects 401 for anonymous callers in {}",
                if required { "" } else { "not " },
                if documents_401 { "" } else { "not " },
                if refused {
                    "every column"
                } else if served {
                    "no column"
                } else {
                    "some columns"
                },
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn every_status_the_matrix_expects_is_documented_for_its_operation() {
    let doc = document();
    let mut undocumented = BTreeSet::new();
    for (route, op) in operations(&doc) {
        let Some(row) = row_for(&route) else { continue };
        let columns: Vec<Column> = match row.on {
            On::Exam => Column::ON_EXAM.to_vec(),
            On::World => Phase::ALL.into_iter().map(Column::Phase).collect(),
        };
        for caller in Caller::ALL {
            for column in &columns {
                let status = row.expect.status(caller, *column).to_string();
                if !op["responses"][&status].is_object() {
                    undocumented.insert(format!("{route} {status} ({} {column})", caller.name()));
                }
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "statuses the server answers that the document does not list:\n{}",
        undocumented.into_iter().collect::<Vec<_>>().join("\n")
    );
}
