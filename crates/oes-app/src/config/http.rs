//! The HTTP server: `HOST`, `PORT`, `BODY_LIMIT_BYTES`, `REQUEST_TIMEOUT_SECS`,
//! `SHUTDOWN_TIMEOUT_SECS`.

use std::net::IpAddr;
use std::time::Duration;

use super::parse::{parse_or, secs};
use super::{ConfigError, Lookup};

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    pub shutdown_timeout: Duration,
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
        })
    }
}
