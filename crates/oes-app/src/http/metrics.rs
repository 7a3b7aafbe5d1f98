//! `/metrics` in the Prometheus text format (version 0.0.4), and the middleware that measures
//! every HTTP request.
//!
//! Requests are labelled by the matched route template (`/api/exams/{id}`), never the raw URL,
//! so the number of series stays bounded; unmatched requests share one `unmatched` label.
//!
//! Two recorders of `metrics-exporter-prometheus`, neither installed globally:
//! - one per router ([`HttpMetrics`]) for the request counters and latency histograms, fed
//!   through `metrics::with_local_recorder`. A process-wide recorder would mix the figures of
//!   every app in the process (tests start many; `serve` and its workers share one), so each
//!   router owns its own and its `/metrics` shows only its own traffic;
//! - one per scrape for what is read at scrape time (cache counters, queue counts with one
//!   bounded Redis call per queue, worker counters, database pool use). A fresh snapshot means
//!   a series disappears when its source does (no `oes_queue_jobs` while the queue is down)
//!   instead of repeating a stale value.
//!
//! The request path takes no mutex: counters are atomics, histogram samples go to a lock-free
//! bucket, and finding a series' handle is a shared read of one shard of the recorder's
//! registry (a write only the first time a route/method/status combination is seen).
//!
//! Not public: the endpoint answers 404 unless `METRICS_TOKEN` is set, then requires it as a
//! Bearer token. Without a token nothing is recorded at all.

use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use oes_jobs::WorkerStats;
use subtle::ConstantTimeEq;

use crate::http::ApiError;
use crate::service::monitoring::{self, QueuesOverview};
use crate::state::AppState;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const REQUESTS: &str = "oes_http_requests_total";
const REQUEST_DURATION: &str = "oes_http_request_duration_seconds";

/// Histogram samples wait in a lock-free bucket until a scrape or this upkeep folds them into
/// the buckets; without it an unscraped server would keep every sample.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// HTTP request counters and latency histograms of one router; empty when metrics are off.
#[derive(Debug, Clone, Default)]
pub struct HttpMetrics {
    recorder: Option<Arc<PrometheusRecorder>>,
}

impl HttpMetrics {
    /// A recorder of this router's own, when `/metrics` is enabled.
    pub fn new(enabled: bool) -> Self {
        if !enabled {
            return Self::default();
        }
        let recorder = match PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), &BUCKETS)
        {
            Ok(builder) => builder.build_recorder(),
            // Only an empty bucket list is refused, and BUCKETS is a non-empty constant.
            Err(e) => unreachable!("latency buckets refused: {e}"),
        };
        let recorder = Arc::new(recorder);
        metrics::with_local_recorder(recorder.as_ref(), || {
            describe_counter!(
                REQUESTS,
                "HTTP requests by route template, method and status."
            );
            describe_histogram!(
                REQUEST_DURATION,
                "Time from routing to response headers, by route template, method and status."
            );
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(upkeep(Arc::downgrade(&recorder)));
        }
        Self {
            recorder: Some(recorder),
        }
    }

    fn observe(&self, route: String, method: &'static str, status: StatusCode, seconds: f64) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let labels = [
            ("route", route),
            ("method", method.to_owned()),
            ("status", status.as_u16().to_string()),
        ];
        metrics::with_local_recorder(recorder.as_ref(), || {
            counter!(REQUESTS, &labels).increment(1);
            histogram!(REQUEST_DURATION, &labels).record(seconds);
        });
    }

    fn render(&self) -> String {
        self.recorder
            .as_ref()
            .map(|r| r.handle().render())
            .unwrap_or_default()
    }
}

/// Runs until the router (and with it the recorder) is gone.
async fn upkeep(recorder: Weak<PrometheusRecorder>) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(recorder) = recorder.upgrade() else {
            return;
        };
        recorder.handle().run_upkeep();
    }
}

/// The middleware: measures each request once it has been routed.
pub async fn track(State(metrics): State<HttpMetrics>, req: Request, next: Next) -> Response {
    if metrics.recorder.is_none() {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe(
        route,
        method,
        response.status(),
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
    let Some(token) = &state.config.observability.metrics_token else {
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

/// What is read from the rest of the process at scrape time.
struct Snapshot {
    cache: oes_cache::CacheStats,
    queues: Option<QueuesOverview>,
    workers: Vec<(String, WorkerStats)>,
    pool: (u32, usize, u32),
    paper_loads: u64,
}

impl Snapshot {
    async fn read(state: &AppState) -> Snapshot {
        Snapshot {
            cache: state.cache.stats(),
            queues: monitoring::queues(state).await.ok(),
            workers: state.jobs.worker_stats().await,
            pool: state.db.pool_usage(),
            paper_loads: state.exam_stats.paper_loads(),
        }
    }

    /// Records the snapshot into the current (scrape-local) recorder.
    fn record(&self) {
        self.record_cache();
        self.record_queues();
        self.record_workers();
        self.record_pool();
        // What `oes loadtest --url` reads to tell that the start storm cost one database load
        // of the paper per process, not one per student.
        describe_counter!(
            "oes_paper_loads_total",
            "Exam papers read from the database (cache misses of the paper)."
        );
        counter!("oes_paper_loads_total").absolute(self.paper_loads);
    }

    fn record_cache(&self) {
        let s = &self.cache;
        describe_counter!(
            "oes_cache_hits_total",
            "Cache reads served, by tier (l1: in-process, l2: Redis)."
        );
        counter!("oes_cache_hits_total", "tier" => "l1").absolute(s.l1_hits);
        counter!("oes_cache_hits_total", "tier" => "l2").absolute(s.l2_hits);
        let counters: [(&'static str, &'static str, u64); 9] = [
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
            describe_counter!(name, help);
            counter!(name).absolute(value);
        }
    }

    fn record_queues(&self) {
        describe_gauge!(
            "oes_queue_up",
            "1 when the job queue backend answered this scrape."
        );
        gauge!("oes_queue_up").set(if self.queues.is_some() { 1.0 } else { 0.0 });
        let Some(overview) = &self.queues else {
            return;
        };
        describe_gauge!("oes_queue_jobs", "Jobs per queue and state.");
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
            for (state, n) in states {
                gauge!("oes_queue_jobs", "queue" => q.name.clone(), "state" => state).set(n as f64);
            }
        }
    }

    fn record_workers(&self) {
        describe_counter!(
            "oes_worker_jobs_total",
            "Job tries finished by this process's workers, by outcome."
        );
        describe_counter!(
            "oes_worker_errors_total",
            "Backend errors seen by this process's workers."
        );
        describe_gauge!(
            "oes_job_duration_max_seconds",
            "Longest single job handler run since the worker started."
        );
        for (queue, s) in &self.workers {
            for (outcome, n) in [
                ("completed", s.completed),
                ("failed", s.failed),
                ("retried", s.retried),
                ("stalled", s.stalled),
            ] {
                counter!("oes_worker_jobs_total", "queue" => queue.clone(), "outcome" => outcome)
                    .absolute(n);
            }
            counter!("oes_worker_errors_total", "queue" => queue.clone()).absolute(s.errors);
            gauge!("oes_job_duration_max_seconds", "queue" => queue.clone())
                .set(s.handler_micros_max as f64 / 1e6);
        }
    }

    fn record_pool(&self) {
        let (open, idle, max) = self.pool;
        describe_gauge!(
            "oes_db_pool_connections",
            "Database pool connections by state (in use, idle)."
        );
        gauge!("oes_db_pool_connections", "state" => "in_use")
            .set(u64::from(open).saturating_sub(idle as u64) as f64);
        gauge!("oes_db_pool_connections", "state" => "idle").set(idle as f64);
        describe_gauge!(
            "oes_db_pool_max_connections",
            "The database pool's size limit."
        );
        gauge!("oes_db_pool_max_connections").set(f64::from(max));
    }

    /// `oes_job_duration_seconds` is a summary of handler time known only as a running sum and
    /// count per worker; the exporter renders summaries only from samples it recorded itself,
    /// so this one family is written here.
    fn write_job_durations(&self, out: &mut String) {
        out.push_str("# HELP oes_job_duration_seconds Time spent in job handlers.\n");
        out.push_str("# TYPE oes_job_duration_seconds summary\n");
        for (queue, s) in &self.workers {
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
    }
}

/// Label values are quoted; backslash, quote and newline must be escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole exposition: this router's requests, then the scrape-time snapshot.
pub async fn render(state: &AppState, metrics: &HttpMetrics) -> String {
    let snapshot = Snapshot::read(state).await;
    let scraped = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&scraped, || snapshot.record());
    let mut out = metrics.render();
    out.push_str(&scraped.handle().render());
    snapshot.write_job_durations(&mut out);
    out
}
