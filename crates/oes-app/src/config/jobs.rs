//! Job queues and workers: `QUEUE_PREFIX`, `RUN_WORKERS`, `WORKER_SHUTDOWN_TIMEOUT_SECS`.

use std::time::Duration;

use super::parse::{parse_bool, secs};
use super::{ConfigError, Lookup};

#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// BullMQ key prefix; `bull` shares the queues with a Node BullMQ deployment.
    pub prefix: String,
}

impl QueueConfig {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(QueueConfig {
            prefix: get("QUEUE_PREFIX").unwrap_or_else(|| "bull".to_owned()),
        })
    }
}

/// The worker settings. `Config` keeps them as top-level fields (`run_workers`,
/// `worker_shutdown_timeout`), which the binaries set and read by those names.
pub(super) struct Workers {
    pub run: bool,
    pub shutdown_timeout: Duration,
}

impl Workers {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(Workers {
            run: parse_bool("RUN_WORKERS", get("RUN_WORKERS"), true)?,
            shutdown_timeout: secs(
                "WORKER_SHUTDOWN_TIMEOUT_SECS",
                get("WORKER_SHUTDOWN_TIMEOUT_SECS"),
                30,
            )?,
        })
    }
}
