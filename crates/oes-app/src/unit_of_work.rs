//! A unit of work: one write transaction plus the emails it sends, queued only once it commits.
//!
//! An email written inside the transaction is an outbox row, so it exists exactly when the change
//! that caused it does; the job that delivers it is added after the commit (a job added before
//! could run against a row that is rolled back). Dropping or rolling back the unit forgets its
//! emails with the rest of the transaction.

use std::ops::{Deref, DerefMut};

use sqlx::{Any, AnyConnection, Transaction};

use crate::db::Db;
use crate::domain::ids::OutboxId;
use crate::email::{AccountRequest, EmailError, EmailMessage, Emails, QueuedEmail, SendOptions};

pub struct UnitOfWork {
    tx: Transaction<'static, Any>,
    emails: Emails,
    queued: Vec<QueuedEmail>,
}

impl UnitOfWork {
    /// Begins a write transaction (see [`Db::begin`]).
    pub async fn begin(db: &Db, emails: &Emails) -> Result<Self, sqlx::Error> {
        Ok(UnitOfWork {
            tx: db.begin().await?,
            emails: emails.clone(),
            queued: Vec::new(),
        })
    }

    /// Sends `message` to `to` when this unit commits, with the message kind's defaults.
    pub async fn send_email(
        &mut self,
        to: &str,
        message: &EmailMessage,
    ) -> Result<OutboxId, EmailError> {
        self.send_email_with(to, message, &SendOptions::default())
            .await
    }

    /// Sends `message` to `to` when this unit commits, with the caller's priority, delay or
    /// retry policy.
    pub async fn send_email_with(
        &mut self,
        to: &str,
        message: &EmailMessage,
        options: &SendOptions,
    ) -> Result<OutboxId, EmailError> {
        let queued = self
            .emails
            .send_queued(&mut self.tx, to, message, options)
            .await?;
        let id = queued.id;
        self.queued.push(queued);
        Ok(id)
    }

    /// Asks for an account email that the worker decides on (see [`AccountRequest`]), when this
    /// unit commits. The row written is the same whatever `address` is.
    pub async fn request_account_email(
        &mut self,
        address: &str,
        request: AccountRequest,
    ) -> Result<OutboxId, EmailError> {
        let queued = self
            .emails
            .request_queued(&mut self.tx, address, request)
            .await?;
        let id = queued.id;
        self.queued.push(queued);
        Ok(id)
    }

    /// Marks the account request `id` acted on when this unit commits; `false` when it was
    /// acted on already (a redelivered job) or failed for good, and there is nothing to do.
    pub async fn settle_request(&mut self, id: OutboxId) -> Result<bool, EmailError> {
        self.emails.settle_request(&mut self.tx, id).await
    }

    /// Commits, then queues the emails. Queueing never fails the caller: an email that cannot
    /// be queued now stays in the outbox, and the relay queues it later.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        self.emails.dispatch(self.queued).await;
        Ok(())
    }

    /// Rolls back; the emails are never sent.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// The unit's transaction is where its queries run: `store::x(&mut unit, ...)`.
impl Deref for UnitOfWork {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for UnitOfWork {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}
