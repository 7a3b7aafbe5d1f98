//! `email` / `send-email`: delivers one email. Accepts OES jobs (`{outboxId}`) and jobs added by
//! the Node system (`{to, subject, html}`). An OES row may be an account request instead of an
//! email (see [`crate::email::AccountRequest`]): the accounts service acts on it here, off the
//! request that asked for it, and writes the real email (if any) as a row of its own.

use oes_jobs::{HandlerError, JobContext, async_trait};

use crate::domain::ids::OutboxId;
use crate::email::{AccountRequest, Delivery, EmailError};
use crate::queue::{Handler, SendEmail};
use crate::service::accounts;
use crate::state::AppState;

pub(super) struct Deliver {
    state: AppState,
}

impl Deliver {
    pub(super) fn new(state: &AppState) -> Self {
        Deliver {
            state: state.clone(),
        }
    }

    async fn act_on(
        &self,
        id: OutboxId,
        request: AccountRequest,
        address: &str,
        final_try: bool,
    ) -> Result<(), HandlerError> {
        let Err(e) = accounts::act_on_request(&self.state, id, request, address).await else {
            return Ok(());
        };
        let reason = e.to_string();
        // As for an email: the last try marks the row FAILED, so it is not relayed forever.
        if let Err(record) = self
            .state
            .emails
            .record_failure(id, &reason, final_try)
            .await
        {
            tracing::warn!(%id, "account request failed and was not recorded: {record}");
        }
        tracing::warn!(%id, final_try, "account request not acted on: {reason}");
        Err(HandlerError::Retry(reason))
    }
}

#[async_trait]
impl Handler<SendEmail> for Deliver {
    async fn handle(&self, job: SendEmail, context: &JobContext) -> Result<(), HandlerError> {
        let emails = &self.state.emails;
        match job {
            SendEmail::Outbox(id) => {
                let final_try = context.attempts_made + 1 >= emails.policy().attempts;
                match emails.deliver(id, final_try).await {
                    Ok(Delivery::Requested { request, address }) => {
                        self.act_on(id, request, &address, final_try).await
                    }
                    Ok(Delivery::Sent | Delivery::AlreadySent) => Ok(()),
                    Err(EmailError::NotFound) => {
                        Err(HandlerError::Fatal("outbox row not found".into()))
                    }
                    Err(EmailError::Permanent(reason)) => Err(HandlerError::Fatal(reason)),
                    Err(e) => Err(HandlerError::Retry(e.to_string())),
                }
            }
            SendEmail::Node { to, subject, html } => emails
                .send_raw(&to, &subject, &html)
                .await
                .map_err(|e| match &e {
                    EmailError::Send(m) if !m.is_permanent() => HandlerError::Retry(e.to_string()),
                    _ => HandlerError::Fatal(e.to_string()),
                }),
        }
    }
}
