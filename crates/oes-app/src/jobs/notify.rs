//! `notifications` / `fan-out` / `{notificationId}`, job id `notify-{id}`: writes a
//! notification's recipients to the outbox in batches and queues their emails (see
//! `service::notifications`). Idempotent and resumable: the cursor lives in the database.

use oes_jobs::{HandlerError, JobContext, async_trait};

use crate::db::Db;
use crate::email::Emails;
use crate::queue::{FanOut, Handler};
use crate::service::notifications::{self, NotificationError};
use crate::state::AppState;

pub(super) struct Fan {
    db: Db,
    emails: Emails,
}

impl Fan {
    pub(super) fn new(state: &AppState) -> Self {
        Fan {
            db: state.db.clone(),
            emails: state.emails.clone(),
        }
    }
}

#[async_trait]
impl Handler<FanOut> for Fan {
    async fn handle(&self, job: FanOut, _: &JobContext) -> Result<(), HandlerError> {
        match notifications::fan_out(&self.db, &self.emails, job.notification_id).await {
            Ok(_) => Ok(()),
            Err(NotificationError::NotFound) => {
                Err(HandlerError::Fatal("notification not found".into()))
            }
            Err(e) => Err(HandlerError::Retry(e.to_string())),
        }
    }
}
