//! Logging and tracing.
//!
//! - [`init`]: the process-wide subscriber — human-readable text in development, JSON lines
//!   in production.
//! - [`TraceExport`]: optional OpenTelemetry export of request traces over OTLP/HTTP
//!   (protobuf), started by a server when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and flushed
//!   when it stops.
//!
//! The export belongs to one server, not to the process: its subscriber (the same log output
//! plus the OpenTelemetry layer) is made the default only while that server handles a request.
//! Several servers in one process (tests) therefore never send each other's spans, and one
//! without the variable runs no exporter at all. Work outside requests (workers, schedulers)
//! keeps logging through the process-wide subscriber and is not exported.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing::Dispatch;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};
use url::Url;

use crate::config::LogFormat;

/// The target of the per-request span (`http::request_span`); the export takes it at debug
/// level although logs leave it out by default.
pub const REQUEST_SPAN_TARGET: &str = "oes_app::http::request";

/// How long one export may take, and how long stopping waits for the last spans to reach
/// the collector: a hung collector must not hold up a shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the global subscriber once; `RUST_LOG` overrides the default level.
pub fn init(format: LogFormat) {
    let _ = Registry::default().with(logs(format)).try_init();
}

/// Log lines as `init` writes them.
fn logs(format: LogFormat) -> Box<dyn Layer<Registry> + Send + Sync> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Json => layer.json().with_filter(filter).boxed(),
        LogFormat::Text => layer.with_filter(filter).boxed(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("OTEL_EXPORTER_OTLP_ENDPOINT: {0}")]
pub struct TraceExportError(String);

/// One server's OpenTelemetry trace export.
pub struct TraceExport {
    provider: SdkTracerProvider,
    dispatch: Dispatch,
}

impl TraceExport {
    /// Starts a batching exporter to `endpoint` on the current Tokio runtime.
    pub fn start(endpoint: &Url, format: LogFormat) -> Result<TraceExport, TraceExportError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(endpoint).as_str())
            .with_timeout(FLUSH_TIMEOUT)
            .build()
            .map_err(|e| TraceExportError(e.to_string()))?;
        // The batch processor that runs on Tokio: the client is hyper's async one, and the
        // thread-based processor has no runtime to drive it.
        let processor =
            BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(Resource::builder().with_service_name("oes").build())
            .build();
        let spans = Targets::new()
            .with_target(REQUEST_SPAN_TARGET, LevelFilter::DEBUG)
            .with_default(LevelFilter::INFO);
        let subscriber = Registry::default().with(logs(format)).with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("oes"))
                .with_filter(spans),
        );
        Ok(TraceExport {
            provider,
            dispatch: Dispatch::new(subscriber),
        })
    }

    /// The subscriber to make current while this server handles a request.
    pub fn dispatch(&self) -> Dispatch {
        self.dispatch.clone()
    }

    /// Sends what is still buffered (bounded by `FLUSH_TIMEOUT`) and stops the exporter.
    pub async fn shutdown(self) {
        let provider = self.provider;
        // The SDK waits for its export task synchronously; off the async threads, that task
        // can still run (also on a single-threaded runtime).
        // The processor on Tokio ignores the timeout it is given, hence the outer one.
        let flush = tokio::task::spawn_blocking(move || provider.shutdown());
        match tokio::time::timeout(FLUSH_TIMEOUT, flush).await {
            Ok(Ok(Ok(()))) => tracing::info!("trace export flushed"),
            Ok(Ok(Err(e))) => tracing::warn!("trace export did not flush cleanly: {e}"),
            Ok(Err(e)) => tracing::warn!("trace export shutdown failed: {e}"),
            Err(_) => tracing::warn!(
                timeout = ?FLUSH_TIMEOUT,
                "trace export still flushing at the deadline: remaining spans dropped"
            ),
        }
    }
}

/// The OTLP/HTTP convention: the variable names the collector's base URL and each signal
/// has its own path below it.
fn traces_url(endpoint: &Url) -> String {
    format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'))
}
