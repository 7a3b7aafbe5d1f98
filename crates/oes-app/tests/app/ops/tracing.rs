//! OpenTelemetry trace export over OTLP/HTTP: each request's span reaches the collector named
//! by `OTEL_EXPORTER_OTLP_ENDPOINT`, by the time the server has stopped, and only that
//! server's. The collector is a real HTTP server of the test's own that keeps every
//! `POST /v1/traces` body.

use std::sync::{Arc, Mutex};

use crate::support::TestDb;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::routing::post;
use oes_app::RunningServer;
use oes_app::db::Backend;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue as AnyValueBox, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;

/// One `POST /v1/traces` as received: its content type and its body.
type Received = Arc<Mutex<Vec<(Option<String>, Bytes)>>>;

/// An OTLP/HTTP collector on a free port that answers every export with success.
struct Collector {
    endpoint: String,
    received: Received,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("collector binds");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let received = Received::default();
        let keep = received.clone();
        let app = Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| async move {
                let content_type = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                keep.lock()
                    .expect("collector lock")
                    .push((content_type, body));
                // An empty ExportTraceServiceResponse: everything accepted.
                (
                    [(header::CONTENT_TYPE, "application/x-protobuf")],
                    Vec::new(),
                )
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Collector {
            endpoint,
            received,
            task,
        }
    }

    /// Every span received so far, each export decoded as an ExportTraceServiceRequest.
    fn spans(&self) -> Vec<Span> {
        let received = self.received.lock().expect("collector lock").clone();
        let mut spans = Vec::new();
        for (content_type, body) in received {
            assert_eq!(content_type.as_deref(), Some("application/x-protobuf"));
            let request =
                ExportTraceServiceRequest::decode(body).expect("an ExportTraceServiceRequest");
            for resource in request.resource_spans {
                let service = resource
                    .resource
                    .as_ref()
                    .and_then(|r| string_attribute(&r.attributes, "service.name"));
                assert_eq!(service.as_deref(), Some("oes"));
                for scope in resource.scope_spans {
                    spans.extend(scope.spans);
                }
            }
        }
        spans
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValueBox| v.value.as_ref())
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key) {
        Some(AnyValue::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int_attribute(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attribute(attributes, key) {
        Some(AnyValue::IntValue(n)) => Some(*n),
        _ => None,
    }
}

async fn start(db: &TestDb, collector: &Collector) -> RunningServer {
    let config = crate::support::config(
        &db.url,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str())],
    );
    RunningServer::start(config, Router::new())
        .await
        .expect("server starts")
}

async fn get(server: &RunningServer, path: &str) -> u16 {
    reqwest::get(format!("http://{}{path}", server.local_addr()))
        .await
        .expect("server answers")
        .status()
        .as_u16()
}

async fn stop(server: RunningServer) {
    server
        .run_until(async {})
        .await
        .expect("server stops cleanly");
}

#[tokio::test]
async fn a_request_span_named_by_its_route_template_reaches_the_collector_by_shutdown() {
    let collector = Collector::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &collector).await;

    let status = get(
        &server,
        "/api/admin/queues/email/jobs/raw-job-id-77?secret=query",
    )
    .await;
    assert_eq!(status, 401, "the admin route refuses an anonymous caller");
    // Spans are batched (every few seconds); stopping the server must send what is left.
    stop(server).await;

    let spans = collector.spans();
    let route = "/api/admin/queues/{queue}/jobs/{id}";
    let span = spans
        .iter()
        .find(|s| string_attribute(&s.attributes, "http.route").as_deref() == Some(route))
        .unwrap_or_else(|| panic!("no span for {route} among {spans:#?}"));
    assert_eq!(span.name, format!("GET {route}"));
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(
        string_attribute(&span.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        int_attribute(&span.attributes, "http.response.status_code"),
        Some(401),
        "{span:#?}"
    );
    assert_eq!(span.trace_id.len(), 16);
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    let everything = format!("{spans:?}");
    assert!(
        !everything.contains("secret=query"),
        "query strings are never exported"
    );
}

#[tokio::test]
async fn a_token_in_the_path_is_exported_redacted() {
    let collector = Collector::start().await;
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &collector).await;
    let token = "5ec2e7".repeat(10) + "abcd";
    let client = reqwest::Client::new();
    for path in [
        format!("/api/auth/verify-email/{token}"),
        format!("/api/profile/email/confirm/{token}"),
    ] {
        let answer = client
            .post(format!("http://{}{path}", server.local_addr()))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("server answers");
        assert_eq!(answer.status().as_u16(), 400, "{path}: an unknown token");
    }
    stop(server).await;

    let spans = collector.spans();
    let everything = format!("{spans:?}");
    assert!(!everything.contains(&token), "a token was exported");
    for (route, shown) in [
        (
            "/api/auth/verify-email/{token}",
            "/api/auth/verify-email/[redacted]",
        ),
        (
            "/api/profile/email/confirm/{token}",
            "/api/profile/email/confirm/[redacted]",
        ),
    ] {
        let span = spans
            .iter()
            .find(|s| string_attribute(&s.attributes, "http.route").as_deref() == Some(route))
            .unwrap_or_else(|| panic!("no span for {route} among {spans:#?}"));
        assert_eq!(
            string_attribute(&span.attributes, "uri").as_deref(),
            Some(shown)
        );
    }
}

#[tokio::test]
async fn two_servers_in_one_process_export_only_their_own_requests() {
    let (first_collector, second_collector) = (Collector::start().await, Collector::start().await);
    let (first_db, second_db) = (
        TestDb::new(Backend::Sqlite).await,
        TestDb::new(Backend::Sqlite).await,
    );
    let first = start(&first_db, &first_collector).await;
    let second = start(&second_db, &second_collector).await;

    assert_eq!(get(&first, "/api/health").await, 200);
    assert_eq!(get(&second, "/api/no/such/route").await, 404);
    stop(first).await;
    stop(second).await;

    let names = |c: &Collector| -> Vec<String> { c.spans().into_iter().map(|s| s.name).collect() };
    let (first_names, second_names) = (names(&first_collector), names(&second_collector));
    assert!(
        first_names.iter().any(|n| n == "GET /api/health"),
        "{first_names:?}"
    );
    assert!(
        !first_names.iter().any(|n| n == "GET"),
        "the other server's unrouted request: {first_names:?}"
    );
    assert!(second_names.iter().any(|n| n == "GET"), "{second_names:?}");
    assert!(
        !second_names.iter().any(|n| n == "GET /api/health"),
        "{second_names:?}"
    );
}

#[tokio::test]
async fn a_collector_that_never_answers_does_not_hold_up_requests_or_shutdown() {
    // Accepts connections and reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let db = TestDb::new(Backend::Sqlite).await;
    let config = crate::support::config(
        &db.url,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let server = RunningServer::start(config, Router::new())
        .await
        .expect("server starts");

    let started = std::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(get(&server, "/api/health").await, 200);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "requests waited for the collector: {:?}",
        started.elapsed()
    );
    let stopping = std::time::Instant::now();
    stop(server).await;
    // The flush gives up after 5 s (the exporter's own default would be 10 s).
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(8),
        "shutdown took {:?}",
        stopping.elapsed()
    );
    hold.abort();
}

#[test]
fn the_endpoint_must_be_a_plain_http_url_without_credentials() {
    for bad in [
        "https://collector.example.com:4318",
        "not a url",
        "http://user:hunter2@collector:4318",
    ] {
        let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", bad)];
        let err = oes_app::Config::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect_err("refused");
        assert_eq!(err.var, "OTEL_EXPORTER_OTLP_ENDPOINT", "{bad}");
        assert!(!err.problem.contains("hunter2"), "{}", err.problem);
    }
}
