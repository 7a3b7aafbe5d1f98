//! The typed queue layer under the services: every queue the platform runs, every job as a type
//! with its payload, and the runtime that adds and runs them.
//!
//! - [`Queue`]: the queues, by the names the Node system (BullMQ) uses;
//! - [`Job`]: a payload type bound to its queue, job name and deterministic id;
//! - [`kinds`]: the platform's four jobs (`send-email`, `calculate-score`, `auto-submit`, `fan-out`);
//! - [`Handler`]: what a worker does with one job of a type; `jobs::register_all` is the one list
//!   that binds each job to its handler;
//! - [`JobRuntime`]: the backend (BullMQ on Redis, or in-process) and the registered workers.
//!
//! Services add jobs through here and never spell a queue name or build job JSON by hand.

pub mod kinds;
mod runtime;

use std::marker::PhantomData;

use oes_jobs::{HandlerError, JobContext, JobOptions, async_trait};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use kinds::{AutoSubmit, CalculateScore, FanOut, SendEmail};
pub use runtime::JobRuntime;

/// The platform's queues. The names are BullMQ's keys, shared with the Node system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    Email,
    Scoring,
    AutoSubmit,
    Notifications,
}

impl Queue {
    pub const ALL: [Queue; 4] = [
        Queue::Email,
        Queue::Scoring,
        Queue::AutoSubmit,
        Queue::Notifications,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Queue::Email => "email",
            Queue::Scoring => "score-calculation",
            Queue::AutoSubmit => "auto-submit",
            Queue::Notifications => "notifications",
        }
    }
}

/// Every queue's name, for monitoring and the `oes queue` commands.
pub const QUEUES: [&str; 4] = [
    Queue::Email.name(),
    Queue::Scoring.name(),
    Queue::AutoSubmit.name(),
    Queue::Notifications.name(),
];

/// A job: its payload is the type's JSON, and it always goes to one queue under one name.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    const QUEUE: Queue;
    const NAME: &'static str;

    /// The job's id in its queue. Deterministic where adding twice must add once (BullMQ
    /// ignores an add whose id exists), so a retried request or a sweep never doubles work.
    fn id(&self) -> Option<String>;

    /// Retry policy, delay and priority when the caller has no reason to choose.
    fn options(&self) -> JobOptions {
        JobOptions::default()
    }
}

/// What a worker does with one job of type `J`. An error says whether a retry can help.
#[async_trait]
pub trait Handler<J: Job>: Send + Sync + 'static {
    async fn handle(&self, job: J, context: &JobContext) -> Result<(), HandlerError>;
}

/// Decodes a job's data into its type before the typed handler sees it; data that does not
/// decode can never succeed, so it fails the job for good instead of retrying.
pub(crate) struct Typed<J, H> {
    handler: H,
    job: PhantomData<fn() -> J>,
}

impl<J, H> Typed<J, H> {
    pub(crate) fn new(handler: H) -> Self {
        Typed {
            handler,
            job: PhantomData,
        }
    }
}

#[async_trait]
impl<J: Job, H: Handler<J>> oes_jobs::JobHandler for Typed<J, H> {
    async fn handle(&self, context: &JobContext) -> Result<(), HandlerError> {
        let job: J = serde_json::from_value(context.data.clone())
            .map_err(|e| HandlerError::Fatal(format!("invalid {} job data: {e}", J::NAME)))?;
        self.handler.handle(job, context).await
    }
}
