//! `/metrics` in the Prometheus text format (version 0.0.4), and the middleware that measures
//! every HTTP request.
//!
//! Requests are labelled by the matched route template (`/api/exams/{id}`), never the raw URL,
//! so the number of series stays bounded; unmatched requests share one `unmatched` label.
//! Counters live in a [`HttpMetrics`] owned by the router rather than in a process-wide
//! recorder, so two servers in one process (tests, `serve` with workers) never mix figures.
//! Everything else is read at scrape time: cache counters, queue counts (one bounded Redis
//! call per queue), worker counters and database pool use.
//!
//! Not public: the endpoint answers 404 unless `METRICS_TOKEN` is set, then requires it as a
//! Bearer token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::http::ApiError;
use crate::service::monitoring;
use crate::state::AppState;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Non-cumulative: `buckets[i]` counts requests in `(BUCKETS[i-1], BUCKETS[i]]`.
    buckets: [u64; BUCKETS.len()],
}

/// HTTP request counters and latency histograms of one router.
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    series: Arc<Mutex<BTreeMap<SeriesKey, Series>>>,
}

impl HttpMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn observe(&self, key: SeriesKey, seconds: f64) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let s = series.entry(key).or_default();
        s.count += 1;
        s.sum_seconds += seconds;
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            s.buckets[i] += 1;
        }
    }

    fn snapshot(&self) -> Vec<(SeriesKey, Series)> {
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The middleware: measures each request once it has been routed.
pub async fn track(State(metrics): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe(
        SeriesKey {
            route,
            method,
            status: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Methods outside the standard set share one label, so a client cannot mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// `/metrics`, outside `/api` where Prometheus expects it; the router hands it the counters
/// as an extension.
pub(crate) async fn scrape(
    State(state): State<AppState>,
    Extension(metrics): Extension<HttpMetrics>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = &state.config.metrics_token else {
        return Err(ApiError::not_found("no such route"));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid metrics token is required",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(response);
    }
    let body = render(&state, &metrics).await;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// Label values are quoted; backslash, quote and newline must be escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one metric family's header.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole exposition.
pub async fn render(state: &AppState, metrics: &HttpMetrics) -> String {
    let mut out = String::new();
    render_http(&mut out, metrics);
    render_cache(&mut out, state);
    render_queues(&mut out, state).await;
    render_pool(&mut out, state);
    out
}

fn render_http(out: &mut String, metrics: &HttpMetrics) {
    let series = metrics.snapshot();
    family(
        out,
        "oes_http_requests_total",
        "counter",
        "HTTP requests by route template, method and status.",
    );
    for (k, s) in &series {
        let _ = writeln!(
            out,
            "oes_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}",
            escape(&k.route),
            k.method,
            k.status,
            s.count
        );
    }
    family(
        out,
        "oes_http_request_duration_seconds",
        "histogram",
        "Time from routing to response headers, by route template, method and status.",
    );
    for (k, s) in &series {
        let labels = format!(
            "route=\"{}\",method=\"{}\",status=\"{}\"",
            escape(&k.route),
            k.method,
            k.status
        );
        let mut cumulative = 0;
        for (le, n) in BUCKETS.iter().zip(s.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "oes_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "oes_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            s.count
        );
        let _ = writeln!(
            out,
            "oes_http_request_duration_seconds_sum{{{labels}}} {}",
            s.sum_seconds
        );
        let _ = writeln!(
            out,
            "oes_http_request_duration_seconds_count{{{labels}}} {}",
            s.count
        );
    }
}

fn render_cache(out: &mut String, state: &AppState) {
    let s = state.cache.stats();
    family(
        out,
        "oes_cache_hits_total",
        "counter",
        "Cache reads served, by tier (l1: in-process, l2: Redis).",
    );
    let _ = writeln!(out, "oes_cache_hits_total{{tier=\"l1\"}} {}", s.l1_hits);
    let _ = writeln!(out, "oes_cache_hits_total{{tier=\"l2\"}} {}", s.l2_hits);
    let counters: [(&str, &str, u64); 9] = [
        (
            "oes_cache_misses_total",
            "Cache reads that found nothing in either tier.",
            s.misses,
        ),
        ("oes_cache_loads_total", "Loader runs.", s.loads),
        (
            "oes_cache_load_errors_total",
            "Loader runs that failed.",
            s.load_errors,
        ),
        (
            "oes_cache_coalesced_waits_total",
            "Reads that waited for another read's load of the same key.",
            s.coalesced_waits,
        ),
        (
            "oes_cache_redis_errors_total",
            "Cache Redis commands that failed.",
            s.redis_errors,
        ),
        (
            "oes_cache_redis_timeouts_total",
            "Cache Redis commands abandoned after the cache timeout.",
            s.redis_timeouts,
        ),
        (
            "oes_cache_serde_errors_total",
            "Cached values that could not be encoded or decoded.",
            s.serde_errors,
        ),
        (
            "oes_cache_invalidations_sent_total",
            "Invalidations published to other processes.",
            s.invalidations_sent,
        ),
        (
            "oes_cache_invalidations_received_total",
            "Invalidations from other processes applied here.",
            s.invalidations_received,
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
}

async fn render_queues(out: &mut String, state: &AppState) {
    let overview = monitoring::queues(state).await;
    family(
        out,
        "oes_queue_up",
        "gauge",
        "1 when the job queue backend answered this scrape.",
    );
    let _ = writeln!(out, "oes_queue_up {}", u8::from(overview.is_ok()));
    if let Ok(overview) = &overview {
        family(out, "oes_queue_jobs", "gauge", "Jobs per queue and state.");
        for q in &overview.queues {
            let c = q.counts;
            let states = [
                ("waiting", c.waiting),
                ("active", c.active),
                ("delayed", c.delayed),
                ("prioritized", c.prioritized),
                ("completed", c.completed),
                ("failed", c.failed),
                ("paused", c.paused),
            ];
            for (name, n) in states {
                let _ = writeln!(
                    out,
                    "oes_queue_jobs{{queue=\"{}\",state=\"{name}\"}} {n}",
                    escape(&q.name)
                );
            }
        }
    }

    let workers = state.jobs.worker_stats().await;
    family(
        out,
        "oes_worker_jobs_total",
        "counter",
        "Job tries finished by this process's workers, by outcome.",
    );
    for (queue, s) in &workers {
        let queue = escape(queue);
        for (outcome, n) in [
            ("completed", s.completed),
            ("failed", s.failed),
            ("retried", s.retried),
            ("stalled", s.stalled),
        ] {
            let _ = writeln!(
                out,
                "oes_worker_jobs_total{{queue=\"{queue}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    family(
        out,
        "oes_worker_errors_total",
        "counter",
        "Backend errors seen by this process's workers.",
    );
    for (queue, s) in &workers {
        let _ = writeln!(
            out,
            "oes_worker_errors_total{{queue=\"{}\"}} {}",
            escape(queue),
            s.errors
        );
    }
    family(
        out,
        "oes_job_duration_seconds",
        "summary",
        "Time spent in job handlers.",
    );
    for (queue, s) in &workers {
        let queue = escape(queue);
        let _ = writeln!(
            out,
            "oes_job_duration_seconds_sum{{queue=\"{queue}\"}} {}",
            s.handler_micros_total as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "oes_job_duration_seconds_count{{queue=\"{queue}\"}} {}",
            s.handled
        );
    }
    family(
        out,
        "oes_job_duration_max_seconds",
        "gauge",
        "Longest single job handler run since the worker started.",
    );
    for (queue, s) in &workers {
        let _ = writeln!(
            out,
            "oes_job_duration_max_seconds{{queue=\"{}\"}} {}",
            escape(queue),
            s.handler_micros_max as f64 / 1e6
        );
    }
}

fn render_pool(out: &mut String, state: &AppState) {
    let (open, idle, max) = state.db.pool_usage();
    family(
        out,
        "oes_db_pool_connections",
        "gauge",
        "Database pool connections by state (in use, idle).",
    );
    let _ = writeln!(
        out,
        "oes_db_pool_connections{{state=\"in_use\"}} {}",
        u64::from(open).saturating_sub(idle as u64)
    );
    let _ = writeln!(out, "oes_db_pool_connections{{state=\"idle\"}} {idle}");
    family(
        out,
        "oes_db_pool_max_connections",
        "gauge",
        "The database pool's size limit.",
    );
    let _ = writeln!(out, "oes_db_pool_max_connections {max}");
}
