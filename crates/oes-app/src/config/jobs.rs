//! Job queues and workers: `QUEUE_PREFIX`, `RUN_WORKERS`, `WORKER_SHUTDOWN_TIMEOUT_SECS`.

use std::time::Duration;

use super::parse::{parse_bool, secs};
use super::{ConfigError, Lookup};

/// The job queues and the workers of this process.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// BullMQ key prefix; `bull` shares the queues with a Node BullMQ deployment.
    pub prefix: String,
    /// Whether `oes serve` also runs the job workers (a deployment may run them only in `oes worker`).
    pub run_workers: bool,
    /// How long workers may finish their active jobs after a shutdown signal.
    pub worker_shutdown_timeout: Duration,
}

impl QueueConfig {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(QueueConfig {
            prefix: get("QUEUE_PREFIX").unwrap_or_else(|| "bull".to_owned()),
            run_workers: parse_bool("RUN_WORKERS", get("RUN_WORKERS"), true)?,
            worker_shutdown_timeout: secs(
                "WORKER_SHUTDOWN_TIMEOUT_SECS",
                get("WORKER_SHUTDOWN_TIMEOUT_SECS"),
                30,
            )?,
        })
    }
}
