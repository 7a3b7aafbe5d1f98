//! Logs, metrics and traces: `LOG_FORMAT`, `METRICS_TOKEN` and `OTEL_EXPORTER_OTLP_ENDPOINT`.

use url::Url;

use super::{AppEnv, ConfigError, Lookup, Secret, bad};

/// Logs, metrics and traces.
#[derive(Debug, Clone)]
pub struct ObservabilityConfig {
    pub log_format: LogFormat,
    /// `METRICS_TOKEN`: the Bearer token `/metrics` requires; unset, `/metrics` answers 404.
    pub metrics_token: Option<Secret>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: the OTLP/HTTP collector base URL (`/v1/traces` is added)
    /// that request traces go to; unset, nothing is exported.
    pub otlp_endpoint: Option<Url>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// JSON by default in production, where logs go to a collector; text otherwise.
    pub(super) fn from_lookup(get: Lookup<'_>, env: AppEnv) -> Result<Self, ConfigError> {
        match get("LOG_FORMAT").as_deref() {
            None if env == AppEnv::Production => Ok(LogFormat::Json),
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(bad(
                "LOG_FORMAT",
                format!("must be `text` or `json`, got `{other}`"),
            )),
        }
    }
}

/// `METRICS_TOKEN`; unset, `/metrics` answers 404.
pub(super) fn metrics_token(get: Lookup<'_>) -> Option<Secret> {
    get("METRICS_TOKEN").map(Secret)
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT`: where request traces go; unset, nothing is exported.
pub(super) fn otlp_endpoint(get: Lookup<'_>) -> Result<Option<Url>, ConfigError> {
    let Some(raw) = get("OTEL_EXPORTER_OTLP_ENDPOINT") else {
        return Ok(None);
    };
    let url = Url::parse(&raw)
        .map_err(|e| bad("OTEL_EXPORTER_OTLP_ENDPOINT", format!("is not a URL: {e}")))?;
    // The exporter's client speaks plain HTTP (no TLS stack is built in); a collector or agent
    // on the host or alongside it is the expected peer.
    if url.scheme() != "http" {
        return Err(bad(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "must be an http:// URL (for example http://localhost:4318)",
        ));
    }
    // Exporter errors quote the endpoint; credentials belong in the standard
    // OTEL_EXPORTER_OTLP_HEADERS, which is never logged.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "must not carry credentials (use OTEL_EXPORTER_OTLP_HEADERS)",
        ));
    }
    Ok(Some(url))
}
