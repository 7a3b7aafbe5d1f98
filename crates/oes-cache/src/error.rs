use std::time::Duration;

/// Everything that can go wrong in `oes-cache`.
///
/// Reads never return it: on the read path a Redis failure is a miss (fail-open). Writes
/// (`set`, `delete`, `delete_many`, `clear`) return it so the caller can log or retry an
/// invalidation that did not reach Redis. Messages never contain the Redis URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The configuration cannot be used (for example an empty namespace, which would make
    /// `clear` delete the whole database).
    #[error("invalid cache configuration: {0}")]
    InvalidConfig(String),
    /// The Redis URL could not be parsed. The URL itself is left out on purpose.
    #[error("invalid Redis URL for the cache")]
    InvalidUrl,
    /// Redis answered with an error or the connection failed.
    #[error("cache Redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer within the configured timeout.
    #[error("cache Redis call timed out after {0:?}")]
    Timeout(Duration),
    /// A value could not be turned into JSON.
    #[error("cache value could not be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
}
