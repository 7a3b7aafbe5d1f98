//! Plain data shared by both backends: options, job snapshots, counts, handler outcomes.

use std::time::Duration;

use serde::Serialize;

use crate::error::JobError;

/// How long to wait before the next attempt of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// `initial`, then twice as long after every further failure (BullMQ `exponential`).
    Exponential {
        /// Delay before the second attempt.
        initial: Duration,
    },
    /// The same delay before every retry (BullMQ `fixed`).
    Fixed {
        /// Delay before each retry.
        delay: Duration,
    },
}

impl Backoff {
    /// Delay before the next attempt once `attempts_made` attempts have failed (1-based).
    pub fn delay_after(&self, attempts_made: u32) -> Duration {
        match *self {
            Backoff::Fixed { delay } => delay,
            Backoff::Exponential { initial } => {
                // Same formula as BullMQ: initial * 2^(attemptsMade - 1), saturating.
                let shift = attempts_made.saturating_sub(1).min(31);
                initial.saturating_mul(1u32 << shift)
            }
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::Exponential {
            initial: Duration::from_secs(2),
        }
    }
}

/// Options for one job. `Default` follows the seed: 3 attempts, exponential backoff from 2 s,
/// completed jobs removed after 1 h, failed jobs kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOptions {
    /// Deterministic id; adding a job whose id already exists is a no-op returning that id.
    /// Must not contain `:` and must not look like an integer (BullMQ reserves those).
    pub job_id: Option<String>,
    /// BullMQ priority: 1 is the most urgent, larger numbers are less urgent; jobs without a
    /// priority run before any prioritized job.
    pub priority: Option<u32>,
    /// Run no earlier than this long after adding.
    pub delay: Option<Duration>,
    /// Total tries, the first one included. 0 and 1 both mean "never retry".
    pub attempts: u32,
    /// Delay policy between tries.
    pub backoff: Backoff,
    /// Completed jobs older than this are removed; `None` keeps them.
    pub remove_on_complete_age: Option<Duration>,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            job_id: None,
            priority: None,
            delay: None,
            attempts: 3,
            backoff: Backoff::default(),
            remove_on_complete_age: Some(Duration::from_secs(3600)),
        }
    }
}

impl JobOptions {
    /// Default options with a deterministic job id.
    pub fn with_id(job_id: impl Into<String>) -> Self {
        Self {
            job_id: Some(job_id.into()),
            ..Self::default()
        }
    }
}

/// Where a job is in its life cycle (BullMQ's state names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    /// Ready to run, in arrival order.
    Waiting,
    /// Ready to run, ordered by priority.
    Prioritized,
    /// Scheduled for later (first run or a retry's backoff).
    Delayed,
    /// Held by a worker.
    Active,
    /// Finished successfully.
    Completed,
    /// Gave up: attempts exhausted or a fatal error.
    Failed,
    /// A state this crate does not model (for example BullMQ flows' `waiting-children`).
    Unknown,
}

impl JobState {
    /// BullMQ's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Prioritized => "prioritized",
            JobState::Delayed => "delayed",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Unknown => "unknown",
        }
    }
}

/// Finished states that [`JobQueue::clean`](crate::JobQueue::clean) can purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanState {
    /// Completed jobs.
    Completed,
    /// Failed jobs.
    Failed,
}

/// A snapshot of one job, as an admin dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobInfo {
    /// Job id (auto-generated or the one given in [`JobOptions::job_id`]).
    pub id: String,
    /// Job name, for example `send-email`.
    pub name: String,
    /// Job payload.
    pub data: serde_json::Value,
    /// Current state.
    pub state: JobState,
    /// Failed or completed tries so far.
    pub attempts_made: u32,
    /// Message of the latest failure.
    pub failed_reason: Option<String>,
    /// When the job was added, ms since the Unix epoch.
    pub timestamp: u64,
    /// When the latest try started, ms since the Unix epoch.
    pub processed_on: Option<u64>,
    /// When the job completed or finally failed, ms since the Unix epoch.
    pub finished_on: Option<u64>,
}

/// Number of jobs in each state of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobCounts {
    /// Ready, unprioritized.
    pub waiting: u64,
    /// Held by workers.
    pub active: u64,
    /// Scheduled for later.
    pub delayed: u64,
    /// Ready, prioritized.
    pub prioritized: u64,
    /// Finished successfully (and not yet removed).
    pub completed: u64,
    /// Gave up.
    pub failed: u64,
    /// Parked because the queue is paused (only BullMQ v5 producers fill this).
    pub paused: u64,
}

/// What a handler sees of the job it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobContext {
    /// Queue the job came from.
    pub queue: String,
    /// Job id.
    pub id: String,
    /// Job name.
    pub name: String,
    /// Job payload.
    pub data: serde_json::Value,
    /// Tries that failed before this one (0 on the first try).
    pub attempts_made: u32,
}

/// Why a handler did not finish a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Transient: try again after the backoff while attempts remain.
    #[error("{0}")]
    Retry(String),
    /// Permanent: fail the job now, whatever attempts remain (BullMQ `UnrecoverableError`).
    #[error("{0}")]
    Fatal(String),
}

/// Settings of one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Jobs run at the same time by this worker.
    pub concurrency: usize,
    /// How long a job stays leased without renewal; a worker that dies loses its jobs to
    /// other workers after about `lock_duration + 2 * stalled_interval`.
    pub lock_duration: Duration,
    /// How often the stalled-job check runs.
    pub stalled_interval: Duration,
    /// Pause after a failed fetch (Redis unreachable) before trying again.
    pub run_retry_delay: Duration,
}

impl Default for WorkerOptions {
    /// Email-oriented defaults. A lease of 30 s renewed every 15 s, with a stalled check every
    /// 15 s, brings the jobs of a killed worker back within about 45 s (lease expiry plus one
    /// check), instead of ~90 s with BullMQ's 30 s/30 s; a slow SMTP send stays safe because
    /// its lease keeps being renewed. As in BullMQ, a job that stalls a second time is failed
    /// rather than run again. The fetch retry delay is 200 ms instead of BullMQ's 15 s so a
    /// Redis restart stalls pickup only briefly.
    fn default() -> Self {
        Self {
            concurrency: 5,
            lock_duration: Duration::from_secs(30),
            stalled_interval: Duration::from_secs(15),
            run_retry_delay: Duration::from_millis(200),
        }
    }
}

/// Counters of one worker since it started, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkerStats {
    /// Jobs finished successfully.
    pub completed: u64,
    /// Jobs that finally failed (attempts exhausted or fatal).
    pub failed: u64,
    /// Failed tries that were scheduled for another attempt.
    pub retried: u64,
    /// Redis: jobs this worker's stalled check took back from a dead worker. Embedded: jobs
    /// this worker abandoned (shutdown deadline, crash) and put back to waiting.
    pub stalled: u64,
    /// Backend errors seen by the worker (for example Redis unreachable).
    pub errors: u64,
    /// Handler runs measured (completed + failed + retried, as far as observed).
    pub handled: u64,
    /// Total time spent in the handler, in microseconds.
    pub handler_micros_total: u64,
    /// Longest single handler run, in microseconds.
    pub handler_micros_max: u64,
}

pub(crate) fn validate_queue_name(queue: &str) -> Result<(), JobError> {
    if queue.is_empty() || queue.contains(':') {
        return Err(JobError::InvalidQueueName(queue.to_string()));
    }
    Ok(())
}

pub(crate) fn validate_job_id(id: &str) -> Result<(), JobError> {
    let integer_like = {
        let digits = id.strip_prefix('-').unwrap_or(id);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if id.is_empty() || id.contains(':') || integer_like {
        return Err(JobError::InvalidJobId(id.to_string()));
    }
    Ok(())
}

pub(crate) fn validate_options(opts: &JobOptions) -> Result<(), JobError> {
    if let Some(id) = &opts.job_id {
        validate_job_id(id)?;
    }
    if opts.priority.is_some_and(|p| p > MAX_PRIORITY) {
        return Err(JobError::InvalidOptions(format!(
            "priority must be at most {MAX_PRIORITY}"
        )));
    }
    Ok(())
}

/// BullMQ's largest priority (2^21 - 1).
pub(crate) const MAX_PRIORITY: u32 = 2_097_151;

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_after_each_failure() {
        let b = Backoff::Exponential {
            initial: Duration::from_secs(2),
        };
        assert_eq!(b.delay_after(1), Duration::from_secs(2));
        assert_eq!(b.delay_after(2), Duration::from_secs(4));
        assert_eq!(b.delay_after(3), Duration::from_secs(8));
    }

    #[test]
    fn job_ids_that_bullmq_reserves_are_rejected() {
        assert!(validate_job_id("42").is_err());
        assert!(validate_job_id("a:b").is_err());
        assert!(validate_job_id("").is_err());
        assert!(validate_job_id("outbox-42").is_ok());
    }
}
