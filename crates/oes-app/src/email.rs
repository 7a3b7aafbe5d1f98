//! The email pipeline: every email goes through the outbox and the `email` queue; a request never
//! waits on SMTP. Mirrors the seed's `sendEmail` (`send_direct`), `sendEmailQueued`
//! (`UnitOfWork::send_email`) and `getEmailJobStatus` (`status`).
//!
//! Services send an email with one call on their unit of work ([`crate::unit_of_work`]), which
//! writes an outbox row on its transaction and, after the commit, hands the row to `dispatch`:
//! one `send-email` job per row (job id from the outbox id, data `{outboxId}`: no secret sits in
//! Redis). If that fails (Redis down), the relay adds the job later.
//! The worker renders the email from the row, sends it and marks the row sent (clearing its
//! parameters); a redelivered job whose row is already sent does nothing. A row that fails for
//! good is marked FAILED and its parameters are cleared too, so no secret outlives the email.
//! Nor does one outlive its usefulness: a row whose code or link has expired unsent (SMTP down
//! for longer than the code lives) is marked FAILED and cleared by the relay pass
//! ([`Emails::expire_secrets`]), and a job that reaches it late does not send it.
//!
//! Some rows are not emails yet but [`AccountRequest`]s: "send a reset code to this address if
//! it is registered". The request writes one such row whatever the address, and the worker
//! decides (see `service::accounts::forgot_password`), so the request's time cannot tell
//! whether an address is registered. For those rows [`Emails::deliver`] sends nothing and
//! answers [`Delivery::Requested`] to its caller, the job handler.

use std::sync::Arc;
use std::time::Duration;

use oes_jobs::{Backoff, JobInfo, JobOptions};
use oes_mail::{MailError, Mailer};
use sqlx::AnyConnection;

use crate::db::{Db, now_ms};
use crate::domain::accounts::{RESET_CODE_MINUTES, VERIFY_LINK_HOURS};
use crate::domain::ids::OutboxId;
use crate::queue::{Job, JobRuntime, SendEmail};
use crate::store::outbox;
pub use crate::store::outbox::{OutboxRow, OutboxStatus};

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("cannot render the email: {0}")]
    Render(String),
    #[error("cannot send: {0}")]
    Send(#[from] MailError),
    #[error("no such email")]
    NotFound,
    /// Retrying cannot help (a refused recipient, a template that cannot render).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// The platform's emails, with what each template needs. Stored as the outbox row's template
/// name and JSON parameters, and rendered only when sent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "template", content = "params", rename_all = "snake_case")]
pub enum EmailMessage {
    VerifyEmail {
        name: String,
        link: String,
    },
    PasswordReset {
        name: String,
        code: String,
    },
    PasswordChanged {
        name: String,
        at_ms: i64,
        ip: String,
        user_agent: String,
    },
    EmailChangeConfirm {
        name: String,
        new_email: String,
        link: String,
    },
    EmailChangeNotice {
        name: String,
        new_email: String,
    },
    AdminNotification {
        name: Option<String>,
        subject: String,
        body: String,
    },
}

impl EmailMessage {
    /// BullMQ priority (lower is more urgent): account emails first, bulk mail last.
    pub fn default_priority(&self) -> u32 {
        match self {
            EmailMessage::VerifyEmail { .. } | EmailMessage::PasswordReset { .. } => 1,
            EmailMessage::PasswordChanged { .. }
            | EmailMessage::EmailChangeConfirm { .. }
            | EmailMessage::EmailChangeNotice { .. } => 2,
            EmailMessage::AdminNotification { .. } => 10,
        }
    }

    pub fn render(&self) -> Result<oes_emails::RenderedEmail, EmailError> {
        let rendered = match self {
            EmailMessage::VerifyEmail { name, link } => oes_emails::VerifyEmail {
                name,
                link,
                expiry_hours: VERIFY_LINK_HOURS,
            }
            .render(),
            EmailMessage::PasswordReset { name, code } => oes_emails::PasswordReset {
                name,
                code,
                expiry_minutes: RESET_CODE_MINUTES,
            }
            .render(),
            EmailMessage::PasswordChanged {
                name,
                at_ms,
                ip,
                user_agent,
            } => {
                let at = chrono::DateTime::from_timestamp_millis(*at_ms).unwrap_or_default();
                oes_emails::PasswordChanged {
                    name,
                    at,
                    ip,
                    user_agent,
                }
                .render()
            }
            EmailMessage::EmailChangeConfirm {
                name,
                new_email,
                link,
            } => oes_emails::EmailChangeConfirm {
                name,
                new_email,
                link,
            }
            .render(),
            EmailMessage::EmailChangeNotice { name, new_email } => {
                oes_emails::EmailChangeNotice { name, new_email }.render()
            }
            EmailMessage::AdminNotification {
                name,
                subject,
                body,
            } => oes_emails::AdminNotification {
                name: name.as_deref(),
                subject,
                body,
            }
            .render(),
        };
        rendered.map_err(|e| EmailError::Render(e.to_string()))
    }

    fn split(&self) -> Result<(String, String), EmailError> {
        let value = serde_json::to_value(self).map_err(|e| EmailError::Render(e.to_string()))?;
        let template = value["template"].as_str().unwrap_or_default().to_owned();
        Ok((template, value["params"].to_string()))
    }

    fn join(template: &str, params: &str) -> Result<Self, EmailError> {
        let params: serde_json::Value =
            serde_json::from_str(params).map_err(|e| EmailError::Render(e.to_string()))?;
        serde_json::from_value(serde_json::json!({ "template": template, "params": params }))
            .map_err(|e| EmailError::Render(e.to_string()))
    }
}

/// An account email that a request asks for without knowing whether it will be sent: the
/// request writes the same outbox row whatever the address, and the worker that takes the row
/// looks the address up and writes the real email, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRequest {
    /// A reset code, if the address is registered.
    PasswordReset,
    /// A new verification link, if the address belongs to an unverified account.
    Verification,
}

/// How long the job of an account request waits before it runs. The worker's work differs by
/// address (a lookup, or a lookup, a token and an email); started at once, it would overlap the
/// end of the request that queued it (its last statement, its answer) and lend that request
/// some of its difference in time. A quarter of a second moves it well past the answer.
pub const ACCOUNT_REQUEST_DELAY: Duration = Duration::from_millis(250);

impl AccountRequest {
    const ALL: [AccountRequest; 2] = [AccountRequest::PasswordReset, AccountRequest::Verification];

    /// The outbox row's template; no email template has these names.
    pub const fn template(self) -> &'static str {
        match self {
            AccountRequest::PasswordReset => "password_reset_request",
            AccountRequest::Verification => "verification_request",
        }
    }

    fn from_template(template: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.template() == template)
    }
}

/// How long the one-time secret of each kind of account email stays usable (the token's
/// lifetime, as `AccountsConfig` sets it). An email still unsent after that carries a secret
/// that opens nothing, so it is not sent and the secret leaves the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretLifetimes {
    pub verify_link: Duration,
    pub reset_code: Duration,
    pub email_change_link: Duration,
}

impl Default for SecretLifetimes {
    fn default() -> Self {
        SecretLifetimes {
            verify_link: Duration::from_secs(u64::from(VERIFY_LINK_HOURS) * 3600),
            reset_code: Duration::from_secs(u64::from(RESET_CODE_MINUTES) * 60),
            email_change_link: Duration::from_secs(u64::from(VERIFY_LINK_HOURS) * 3600),
        }
    }
}

impl SecretLifetimes {
    /// Every template whose parameters hold a secret, with the secret's lifetime.
    fn by_template(&self) -> [(&'static str, Duration); 3] {
        [
            ("verify_email", self.verify_link),
            ("password_reset", self.reset_code),
            ("email_change_confirm", self.email_change_link),
        ]
    }

    fn of(&self, template: &str) -> Option<Duration> {
        self.by_template()
            .into_iter()
            .find(|(t, _)| *t == template)
            .map(|(_, lifetime)| lifetime)
    }
}

/// Why an email whose code or link expired unsent was given up.
pub const EXPIRED_UNSENT: &str =
    "expired unsent: the code or link it carries is no longer valid, so it was discarded";

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The seed's per-call options.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// BullMQ priority, lower is more urgent; default by message kind.
    pub priority: Option<u32>,
    pub delay: Option<Duration>,
    pub attempts: Option<u32>,
    pub backoff: Option<Backoff>,
}

/// Retry policy of email jobs.
#[derive(Debug, Clone)]
pub struct EmailPolicy {
    pub attempts: u32,
    pub backoff: Backoff,
    pub keep_completed: Duration,
    /// A PENDING row older than this is enqueued by the relay.
    pub relay_after: Duration,
    /// A QUEUED row older than this is re-added (no-op while its job still exists).
    pub requeue_after: Duration,
    pub relay_every: Duration,
    pub secret_lifetimes: SecretLifetimes,
}

impl Default for EmailPolicy {
    fn default() -> Self {
        EmailPolicy {
            attempts: 3,
            backoff: Backoff::Exponential {
                initial: Duration::from_secs(2),
            },
            keep_completed: Duration::from_secs(3600),
            relay_after: Duration::from_secs(2),
            requeue_after: Duration::from_secs(600),
            relay_every: Duration::from_secs(2),
            secret_lifetimes: SecretLifetimes::default(),
        }
    }
}

/// An email's state: the outbox row and, when known, its job.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailStatus {
    pub id: OutboxId,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub failure_reason: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub queue_state: Option<String>,
    pub job_attempts_made: Option<u32>,
}

#[derive(Clone)]
pub struct Emails {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    jobs: JobRuntime,
    mailer: Mailer,
    from: String,
    policy: EmailPolicy,
}

impl Emails {
    pub fn new(
        db: Db,
        jobs: JobRuntime,
        mailer: Mailer,
        from: String,
        policy: EmailPolicy,
    ) -> Self {
        Emails {
            inner: Arc::new(Inner {
                db,
                jobs,
                mailer,
                from,
                policy,
            }),
        }
    }

    pub fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    pub fn policy(&self) -> &EmailPolicy {
        &self.inner.policy
    }

    /// Writes the email to the outbox on the caller's transaction; [`Emails::dispatch`] queues
    /// it after the commit. Services call this through their unit of work.
    pub(crate) async fn send_queued(
        &self,
        conn: &mut AnyConnection,
        to: &str,
        message: &EmailMessage,
        options: &SendOptions,
    ) -> Result<QueuedEmail, EmailError> {
        let (template, params) = message.split()?;
        let id = OutboxId::new();
        let priority = options
            .priority
            .unwrap_or_else(|| message.default_priority());
        outbox::insert(conn, id, &template, to, &params, i64::from(priority)).await?;
        Ok(QueuedEmail {
            id,
            options: self.job_options(id, priority, options),
        })
    }

    /// Writes an account request to the outbox on the caller's transaction: the same row, the
    /// same statement, whatever `address` is. Its parameters are empty, so none is a secret.
    pub(crate) async fn request_queued(
        &self,
        conn: &mut AnyConnection,
        address: &str,
        request: AccountRequest,
    ) -> Result<QueuedEmail, EmailError> {
        let id = OutboxId::new();
        // The urgency of the email it may become.
        let priority = 1;
        outbox::insert(
            conn,
            id,
            request.template(),
            address,
            "{}",
            i64::from(priority),
        )
        .await?;
        let options = SendOptions {
            delay: Some(ACCOUNT_REQUEST_DELAY),
            ..SendOptions::default()
        };
        Ok(QueuedEmail {
            id,
            options: self.job_options(id, priority, &options),
        })
    }

    /// Marks an account request acted on, on the caller's transaction (the one that writes what
    /// it led to). `false` when it was acted on already or has failed for good: do nothing.
    pub(crate) async fn settle_request(
        &self,
        conn: &mut AnyConnection,
        id: OutboxId,
    ) -> Result<bool, EmailError> {
        Ok(outbox::settle(conn, id).await?)
    }

    /// Records a failed try at a row that was not sent by [`Emails::deliver`] (an account
    /// request); the last try marks it FAILED.
    pub async fn record_failure(
        &self,
        id: OutboxId,
        reason: &str,
        final_failure: bool,
    ) -> Result<(), EmailError> {
        Ok(outbox::record_failure(&self.inner.db, id, reason, final_failure).await?)
    }

    /// Gives up every unsent email whose code or link has expired: marked FAILED with
    /// [`EXPIRED_UNSENT`], parameters cleared. Returns how many.
    pub async fn expire_secrets(&self) -> Result<u64, EmailError> {
        let now = now_ms();
        let cutoffs = self
            .inner
            .policy
            .secret_lifetimes
            .by_template()
            .map(|(template, lifetime)| (template, now.saturating_sub(millis(lifetime))));
        Ok(outbox::expire_unsent(&self.inner.db, &cutoffs, EXPIRED_UNSENT).await?)
    }

    fn job_options(&self, id: OutboxId, priority: u32, options: &SendOptions) -> JobOptions {
        let policy = &self.inner.policy;
        JobOptions {
            job_id: SendEmail::Outbox(id).id(),
            priority: Some(priority),
            delay: options.delay,
            attempts: options.attempts.unwrap_or(policy.attempts),
            backoff: options.backoff.unwrap_or(policy.backoff),
            remove_on_complete_age: Some(policy.keep_completed),
        }
    }

    /// Puts committed outbox rows on the queue. Never fails the caller: a row that cannot be
    /// enqueued now stays PENDING and the relay enqueues it later.
    pub(crate) async fn dispatch(&self, emails: impl IntoIterator<Item = QueuedEmail>) {
        for email in emails {
            self.enqueue(email.id, &email.options).await;
        }
    }

    async fn enqueue(&self, id: OutboxId, options: &JobOptions) -> bool {
        match self
            .inner
            .jobs
            .add_with(&SendEmail::Outbox(id), options.clone())
            .await
        {
            Ok(_) => {
                if let Err(e) = outbox::mark_queued(&self.inner.db, id).await {
                    tracing::warn!(%id, "email enqueued but not marked queued: {e}");
                }
                true
            }
            Err(e) => {
                tracing::warn!(%id, "email kept in the outbox for the relay: {e}");
                false
            }
        }
    }

    /// One relay pass: enqueues rows that never reached the queue, and re-adds old QUEUED rows
    /// (a no-op while their job exists). Returns how many rows were handed to the queue.
    pub async fn relay_once(&self, queued_before: i64) -> Result<usize, EmailError> {
        let policy = &self.inner.policy;
        let pending_before = now_ms() - i64::try_from(policy.relay_after.as_millis()).unwrap_or(0);
        let rows = outbox::unsent(&self.inner.db, pending_before, queued_before, 500).await?;
        let mut handed = 0;
        for row in rows {
            let priority = u32::try_from(row.priority).unwrap_or(10);
            let options = self.job_options(row.id, priority, &SendOptions::default());
            if !self.enqueue(row.id, &options).await {
                break; // the queue is down: try the rest next pass
            }
            if row.status == OutboxStatus::Queued {
                outbox::touch_queued(&self.inner.db, row.id).await?;
            }
            handed += 1;
        }
        Ok(handed)
    }

    /// True when the queue lives in this process: it starts empty at every start-up.
    pub fn queue_is_in_process(&self) -> bool {
        self.inner.jobs.is_embedded()
    }

    /// Sends now, bypassing the queue (the worker's path, and tools').
    pub async fn send_direct(&self, to: &str, message: &EmailMessage) -> Result<(), EmailError> {
        let email = message.render()?.into_email(&self.inner.from, to)?;
        self.inner.mailer.send(&email).await?;
        Ok(())
    }

    /// Sends a Node-shaped job's email (`{to, subject, html}`), with a text part derived from it.
    pub async fn send_raw(&self, to: &str, subject: &str, html: &str) -> Result<(), EmailError> {
        let email = oes_mail::Email::from_html(&self.inner.from, to, subject, html)?;
        self.inner.mailer.send(&email).await?;
        Ok(())
    }

    /// Delivers one outbox row: the worker's job. Idempotent: a row already sent is skipped.
    pub async fn deliver(&self, id: OutboxId, final_try: bool) -> Result<Delivery, EmailError> {
        let db = &self.inner.db;
        let Some(row) = outbox::get(db, id).await? else {
            return Err(EmailError::NotFound);
        };
        if row.status == OutboxStatus::Sent {
            return Ok(Delivery::AlreadySent);
        }
        let Some(params) = row.params.as_deref() else {
            // A row that failed for good had its parameters (maybe a reset code or a
            // verification link) cleared; a retried job cannot rebuild it, and the user asks
            // for a new code or link instead.
            return Err(EmailError::Permanent(
                "the email failed for good earlier and its parameters were discarded".into(),
            ));
        };
        if let Some(request) = AccountRequest::from_template(&row.template) {
            return Ok(Delivery::Requested {
                request,
                address: row.recipient,
            });
        }
        if let Some(lifetime) = self.inner.policy.secret_lifetimes.of(&row.template)
            && row.created_at.saturating_add(millis(lifetime)) <= now_ms()
        {
            // The relay pass would clear it soon; a job that gets here first must not send a
            // code that opens nothing.
            outbox::record_failure(db, id, EXPIRED_UNSENT, true).await?;
            tracing::info!(%id, "email not sent: its code or link expired first");
            return Err(EmailError::Permanent(EXPIRED_UNSENT.into()));
        }
        let message = EmailMessage::join(&row.template, params);
        let result = match message {
            Ok(message) => self.send_direct(&row.recipient, &message).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                outbox::mark_sent(db, id).await?;
                tracing::info!(%id, to = %oes_mail::mask_address(&row.recipient), "email sent");
                Ok(Delivery::Sent)
            }
            Err(e) => {
                let permanent = match &e {
                    EmailError::Send(mail) => mail.is_permanent(),
                    EmailError::Render(_) => true,
                    _ => false,
                };
                let reason = e.to_string();
                outbox::record_failure(db, id, &reason, permanent || final_try).await?;
                tracing::warn!(%id, to = %oes_mail::mask_address(&row.recipient), permanent, "email not sent: {reason}");
                Err(if permanent {
                    EmailError::Permanent(reason)
                } else {
                    e
                })
            }
        }
    }

    /// The outbox row of an email, as stored (operators' tools and tests).
    pub async fn outbox_row(&self, id: OutboxId) -> Result<Option<OutboxRow>, EmailError> {
        Ok(outbox::get(&self.inner.db, id).await?)
    }

    /// The seed's `getEmailJobStatus`: the outbox row and its job's state.
    pub async fn status(&self, id: OutboxId) -> Result<EmailStatus, EmailError> {
        let row: OutboxRow = outbox::get(&self.inner.db, id)
            .await?
            .ok_or(EmailError::NotFound)?;
        let job: Option<JobInfo> = match self.inner.jobs.backend().await {
            Some(backend) => backend
                .job(SendEmail::QUEUE.name(), &SendEmail::outbox_job_id(id))
                .await
                .ok()
                .flatten(),
            None => None,
        };
        Ok(EmailStatus {
            id,
            status: row.status,
            attempts: row.attempts,
            failure_reason: row.last_error,
            created_at: row.created_at,
            sent_at: row.sent_at,
            queue_state: job.as_ref().map(|j| j.state.as_str().to_owned()),
            job_attempts_made: job.map(|j| j.attempts_made),
        })
    }
}

/// The outbox's rows counted by state (`oes queue stats`).
pub async fn outbox_counts(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    outbox::count_by_status(db).await
}

/// What `deliver` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    AlreadySent,
    /// Nothing: the row is an account request, for its caller to act on.
    Requested {
        request: AccountRequest,
        address: String,
    },
}

/// An outbox row written on a transaction, to hand to [`Emails::dispatch`] after its commit.
#[must_use = "dispatch the email after the transaction commits"]
#[derive(Debug)]
pub struct QueuedEmail {
    pub id: OutboxId,
    options: JobOptions,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_outbox_round_trip() {
        let message = EmailMessage::PasswordReset {
            name: "Asha".into(),
            code: "123456".into(),
        };
        let (template, params) = message.split().expect("split");
        assert_eq!(template, "password_reset");
        match EmailMessage::join(&template, &params).expect("join") {
            EmailMessage::PasswordReset { code, .. } => assert_eq!(code, "123456"),
            other => panic!("wrong message: {other:?}"),
        }
    }

    #[test]
    fn every_email_with_a_secret_has_a_lifetime_and_the_others_none() {
        let lifetimes = SecretLifetimes::default();
        let with_secret = [
            EmailMessage::VerifyEmail {
                name: "a".into(),
                link: "l".into(),
            },
            EmailMessage::PasswordReset {
                name: "a".into(),
                code: "c".into(),
            },
            EmailMessage::EmailChangeConfirm {
                name: "a".into(),
                new_email: "n".into(),
                link: "l".into(),
            },
        ];
        for message in with_secret {
            let (template, _) = message.split().expect("split");
            assert!(lifetimes.of(&template).is_some(), "{template}");
        }
        let without = EmailMessage::EmailChangeNotice {
            name: "a".into(),
            new_email: "n".into(),
        };
        let (template, _) = without.split().expect("split");
        assert_eq!(lifetimes.of(&template), None);
        for request in AccountRequest::ALL {
            assert_eq!(
                lifetimes.of(request.template()),
                None,
                "no secret in a request"
            );
        }
    }

    #[test]
    fn account_requests_are_read_back_and_are_no_email() {
        for request in AccountRequest::ALL {
            assert_eq!(
                AccountRequest::from_template(request.template()),
                Some(request)
            );
            assert!(EmailMessage::join(request.template(), "{}").is_err());
        }
    }

    #[test]
    fn account_emails_are_more_urgent_than_notifications() {
        let verify = EmailMessage::VerifyEmail {
            name: "a".into(),
            link: "https://x".into(),
        };
        let notice = EmailMessage::AdminNotification {
            name: None,
            subject: "s".into(),
            body: "b".into(),
        };
        assert!(verify.default_priority() < notice.default_priority());
    }
}
