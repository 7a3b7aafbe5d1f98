//! The HTTP server: `HOST`, `PORT`, `BODY_LIMIT_BYTES`, `REQUEST_TIMEOUT_SECS`,
//! `SHUTDOWN_TIMEOUT_SECS`, and the connection limits `HTTP_HEADER_READ_TIMEOUT_SECS`,
//! `HTTP_IDLE_TIMEOUT_SECS`, `HTTP_MAX_CONNECTIONS`.

use std::net::IpAddr;
use std::time::Duration;

use super::parse::{at_least_one, parse_or, secs};
use super::{ConfigError, Lookup};

/// A connection timeout of zero would close every connection at once, so it is refused rather
/// than read as "no timeout" (which would bring back the unbounded connections these limits
/// exist for).
fn positive_secs(
    var: &'static str,
    raw: Option<String>,
    default: u64,
) -> Result<Duration, ConfigError> {
    at_least_one(var, secs(var, raw, default)?)
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's headers, and so how long a kept-alive
    /// connection may wait for its next request: clients that never finish are closed.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may sit with no request in flight before it is closed.
    pub idle_timeout: Duration,
    /// Open connections at most; past it the server accepts no more until one closes.
    pub max_connections: u32,
}

impl HttpConfig {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(HttpConfig {
            host: parse_or("HOST", get("HOST"), "0.0.0.0".parse().ok(), "an IP address")?,
            port: parse_or("PORT", get("PORT"), Some(8000), "a port number 0-65535")?,
            body_limit_bytes: parse_or(
                "BODY_LIMIT_BYTES",
                get("BODY_LIMIT_BYTES"),
                Some(1024 * 1024),
                "a byte count",
            )?,
            request_timeout: secs("REQUEST_TIMEOUT_SECS", get("REQUEST_TIMEOUT_SECS"), 30)?,
            shutdown_timeout: secs("SHUTDOWN_TIMEOUT_SECS", get("SHUTDOWN_TIMEOUT_SECS"), 30)?,
            header_read_timeout: positive_secs(
                "HTTP_HEADER_READ_TIMEOUT_SECS",
                get("HTTP_HEADER_READ_TIMEOUT_SECS"),
                10,
            )?,
            idle_timeout: positive_secs(
                "HTTP_IDLE_TIMEOUT_SECS",
                get("HTTP_IDLE_TIMEOUT_SECS"),
                60,
            )?,
            max_connections: at_least_one(
                "HTTP_MAX_CONNECTIONS",
                parse_or(
                    "HTTP_MAX_CONNECTIONS",
                    get("HTTP_MAX_CONNECTIONS"),
                    Some(10_000u32),
                    "a connection count",
                )?,
            )?,
        })
    }
}
