//! The crate's one error type.

/// Everything that can go wrong when talking to a job backend.
///
/// Messages never carry connection URLs or job payloads, so they are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Queue names must be non-empty and must not contain `:` (BullMQ's key separator).
    #[error("invalid queue name {0:?}: must be non-empty and contain no ':'")]
    InvalidQueueName(String),
    /// Custom job ids must be non-empty, must not contain `:` and must not look like an integer.
    #[error("invalid job id {0:?}: must be non-empty, contain no ':' and not be an integer")]
    InvalidJobId(String),
    /// Options the backend cannot honour.
    #[error("invalid job options: {0}")]
    InvalidOptions(String),
    /// The backend (Redis / BullMQ) failed or is unreachable.
    #[error("job backend error: {0}")]
    Backend(String),
    /// A stored job could not be decoded.
    #[error("corrupt job {id}: {reason}")]
    Corrupt {
        /// Job id.
        id: String,
        /// What was wrong.
        reason: String,
    },
}

impl From<bullmq::Error> for JobError {
    fn from(e: bullmq::Error) -> Self {
        // bullmq errors carry Redis/script messages, never the connection URL.
        JobError::Backend(e.to_string())
    }
}
