//! `email` / `send-email`: delivers one email. Accepts OES jobs (`{outboxId}`) and jobs added by
//! the Node system (`{to, subject, html}`).

use oes_jobs::{HandlerError, JobContext, JobHandler, async_trait};

use crate::service::email::{EmailError, Emails};

pub struct SendEmail {
    pub emails: Emails,
}

#[async_trait]
impl JobHandler for SendEmail {
    async fn handle(&self, job: &JobContext) -> Result<(), HandlerError> {
        if let Some(id) = job.data.get("outboxId").and_then(|v| v.as_str()) {
            let id = id
                .parse()
                .map_err(|_| HandlerError::Fatal(format!("outboxId is not a UUID: {id}")))?;
            let attempts = self.emails.policy().attempts;
            let final_try = job.attempts_made + 1 >= attempts;
            return match self.emails.deliver(id, final_try).await {
                Ok(_) => Ok(()),
                Err(EmailError::NotFound) => {
                    Err(HandlerError::Fatal("outbox row not found".into()))
                }
                Err(EmailError::Permanent(reason)) => Err(HandlerError::Fatal(reason)),
                Err(e) => Err(HandlerError::Retry(e.to_string())),
            };
        }
        let field = |name: &str| job.data.get(name).and_then(|v| v.as_str());
        match (field("to"), field("subject"), field("html")) {
            (Some(to), Some(subject), Some(html)) => self
                .emails
                .send_raw(to, subject, html)
                .await
                .map_err(|e| match &e {
                    EmailError::Send(m) if !m.is_permanent() => HandlerError::Retry(e.to_string()),
                    _ => HandlerError::Fatal(e.to_string()),
                }),
            _ => Err(HandlerError::Fatal(
                "unrecognised email job: expected {outboxId} or {to, subject, html}".into(),
            )),
        }
    }
}
