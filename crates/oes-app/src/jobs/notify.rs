//! `notifications` / `fan-out` / `{notificationId}`, job id `notify-{id}`: writes a
//! notification's recipients to the outbox in batches and queues their emails (see
//! `service::notifications`). Idempotent and resumable: the cursor lives in the database.

use std::sync::Arc;

use oes_jobs::{HandlerError, JobContext, JobHandler, async_trait};

use crate::db::Db;
use crate::jobs::JobRuntime;
use crate::service::email::Emails;
use crate::service::notifications::{self, NOTIFY_QUEUE, NotificationError};

pub struct FanOut {
    pub db: Db,
    pub emails: Emails,
}

#[async_trait]
impl JobHandler for FanOut {
    async fn handle(&self, job: &JobContext) -> Result<(), HandlerError> {
        let raw = job
            .data
            .get("notificationId")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let id = raw
            .parse()
            .map_err(|_| HandlerError::Fatal(format!("notificationId is not a UUID: {raw}")))?;
        match notifications::fan_out(&self.db, &self.emails, id).await {
            Ok(_) => Ok(()),
            Err(NotificationError::NotFound) => {
                Err(HandlerError::Fatal("notification not found".into()))
            }
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}

/// Registers the fan-out worker. One fan-out at a time per process is enough: each one feeds
/// the email queue far faster than SMTP drains it.
pub async fn register(jobs: &JobRuntime, db: &Db, emails: &Emails) {
    jobs.register(
        NOTIFY_QUEUE,
        Arc::new(FanOut {
            db: db.clone(),
            emails: emails.clone(),
        }),
        oes_jobs::WorkerOptions {
            concurrency: 1,
            ..oes_jobs::WorkerOptions::default()
        },
    )
    .await;
}
