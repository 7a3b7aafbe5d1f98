//! Redis and the cache in it: `REDIS_URL`, `CACHE_REDIS_URL`, `CACHE_NAMESPACE`,
//! `CACHE_TIMEOUT_MS`.

use std::time::Duration;

use url::Url;

use super::parse::millis;
use super::{ConfigError, Lookup, bad};

#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Queues (BullMQ). `None`: embedded mode, no Redis is used at all.
    pub url: Option<String>,
    /// The cache's Redis; defaults to `url`. Kept separate so the cache may evict while the
    /// queues' Redis runs with `noeviction`.
    pub cache_url: Option<String>,
    /// Prefix of every cache key; `oes cache clear` deletes only under it.
    pub cache_namespace: String,
    /// A cache call to Redis slower than this counts as a miss (fail-open).
    pub cache_timeout: Duration,
}

impl RedisConfig {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        let url = get("REDIS_URL")
            .map(|u| check_redis_url("REDIS_URL", u))
            .transpose()?;
        let cache_url = match get("CACHE_REDIS_URL") {
            Some(u) => Some(check_redis_url("CACHE_REDIS_URL", u)?),
            None => url.clone(),
        };
        Ok(RedisConfig {
            url,
            cache_url,
            cache_namespace: get("CACHE_NAMESPACE").unwrap_or_else(|| "oes:cache:".to_owned()),
            cache_timeout: millis("CACHE_TIMEOUT_MS", get("CACHE_TIMEOUT_MS"), 50)?,
        })
    }
}

fn check_redis_url(var: &'static str, url: String) -> Result<String, ConfigError> {
    // Parse with the url crate so a password in the URL never reaches the message.
    let parsed =
        Url::parse(&url).map_err(|_| bad(var, "is not a URL (expected redis://host:port)"))?;
    match parsed.scheme() {
        "redis" | "rediss" => Ok(url),
        other => Err(bad(
            var,
            format!("scheme must be redis or rediss, got `{other}`"),
        )),
    }
}
