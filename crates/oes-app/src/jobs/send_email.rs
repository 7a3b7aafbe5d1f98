//! `email` / `send-email`: delivers one email. Accepts OES jobs (`{outboxId}`) and jobs added by
//! the Node system (`{to, subject, html}`).

use oes_jobs::{HandlerError, JobContext, async_trait};

use crate::email::{EmailError, Emails};
use crate::queue::{Handler, SendEmail};
use crate::state::AppState;

pub(super) struct Deliver {
    emails: Emails,
}

impl Deliver {
    pub(super) fn new(state: &AppState) -> Self {
        Deliver {
            emails: state.emails.clone(),
        }
    }
}

#[async_trait]
impl Handler<SendEmail> for Deliver {
    async fn handle(&self, job: SendEmail, context: &JobContext) -> Result<(), HandlerError> {
        match job {
            SendEmail::Outbox(id) => {
                let final_try = context.attempts_made + 1 >= self.emails.policy().attempts;
                match self.emails.deliver(id, final_try).await {
                    Ok(_) => Ok(()),
                    Err(EmailError::NotFound) => {
                        Err(HandlerError::Fatal("outbox row not found".into()))
                    }
                    Err(EmailError::Permanent(reason)) => Err(HandlerError::Fatal(reason)),
                    Err(e) => Err(HandlerError::Retry(e.to_string())),
                }
            }
            SendEmail::Node { to, subject, html } => self
                .emails
                .send_raw(&to, &subject, &html)
                .await
                .map_err(|e| match &e {
                    EmailError::Send(m) if !m.is_permanent() => HandlerError::Retry(e.to_string()),
                    _ => HandlerError::Fatal(e.to_string()),
                }),
        }
    }
}
