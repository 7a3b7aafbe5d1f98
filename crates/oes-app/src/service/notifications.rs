//! Admin notifications: one message to an audience, fanned out by a job into one outbox email
//! per recipient.
//!
//! - [`create`] validates the request, stores the notification (and an explicit address list),
//!   and adds a `notifications` / `fan-out` job; the request returns at once whatever the size
//!   of the audience.
//! - [`fan_out`] is the job: it pages through the recipients in batches of [`BATCH`]. Each batch
//!   is one transaction that writes the outbox rows and moves the notification's cursor past
//!   them, so a fan-out that dies resumes after the last committed batch without writing any
//!   recipient twice (a unique index on `(notification_id, recipient)` backs this up). After
//!   the commit the batch goes to the `email` queue at the notification priority (10), behind
//!   verification and reset mail (1).
//! - [`resume_unfinished`] (run by a sweep) re-adds the job of every unfinished fan-out, so a fan-out lost with an
//!   in-process queue or with Redis still completes.
//! - [`progress`] counts the notification's outbox rows by state.

use std::collections::HashSet;

use crate::db::Db;
use crate::domain::accounts::Email;
use crate::domain::ids::{ExamId, UserId};
use crate::email::{EmailError, EmailMessage, Emails};
use crate::queue::{FanOut, JobRuntime};
use crate::store::notifications::{self as store, AudienceKind, NewNotification, Recipient};
use crate::unit_of_work::UnitOfWork;

/// Recipients written per transaction; bounds the fan-out's memory whatever the audience.
pub const BATCH: i64 = 500;
pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 20_000;
pub const MAX_ADDRESSES: usize = 100_000;
/// Addresses per INSERT statement when storing a list (3 parameters each).
const ADDRESS_CHUNK: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no such notification")]
    NotFound,
    #[error("no such exam")]
    ExamNotFound,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("email: {0}")]
    Email(#[from] EmailError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> NotificationError {
    NotificationError::Invalid {
        field,
        message: message.into(),
    }
}

/// Who receives a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every user whose email is verified, at the time the fan-out reaches them.
    VerifiedUsers,
    /// Users with an attempt on the exam.
    ExamParticipants(ExamId),
    /// Explicit addresses (normalised, duplicates dropped, order kept).
    Addresses(Vec<String>),
}

/// A validated notification request.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub subject: String,
    pub body: String,
    pub audience: Audience,
}

impl NewMessage {
    /// Parses the request fields: `audience` is `VERIFIED_USERS`, `EXAM_PARTICIPANTS` (with
    /// `exam_id`) or `ADDRESSES` (with `addresses`).
    pub fn parse(
        subject: &str,
        body: &str,
        audience: &str,
        exam_id: Option<&str>,
        addresses: Option<&[String]>,
    ) -> Result<Self, NotificationError> {
        let subject = subject.trim();
        if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(invalid(
                "subject",
                format!("1 to {MAX_SUBJECT_CHARS} characters"),
            ));
        }
        if subject.contains(['\r', '\n']) {
            return Err(invalid("subject", "must be one line"));
        }
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_BODY_CHARS {
            return Err(invalid("body", format!("1 to {MAX_BODY_CHARS} characters")));
        }
        let audience = match audience {
            "VERIFIED_USERS" => Audience::VerifiedUsers,
            "EXAM_PARTICIPANTS" => {
                let raw = exam_id.ok_or_else(|| invalid("examId", "required for this audience"))?;
                let id = raw
                    .parse()
                    .map_err(|_| invalid("examId", "must be a UUID"))?;
                Audience::ExamParticipants(id)
            }
            "ADDRESSES" => {
                let raw =
                    addresses.ok_or_else(|| invalid("addresses", "required for this audience"))?;
                if raw.is_empty() || raw.len() > MAX_ADDRESSES {
                    return Err(invalid(
                        "addresses",
                        format!("1 to {MAX_ADDRESSES} addresses"),
                    ));
                }
                let mut seen = HashSet::with_capacity(raw.len());
                let mut list = Vec::with_capacity(raw.len());
                for (i, a) in raw.iter().enumerate() {
                    let email = Email::parse(a).map_err(|_| {
                        invalid(
                            "addresses",
                            format!("entry {i} is not a valid email address"),
                        )
                    })?;
                    if seen.insert(email.as_str().to_owned()) {
                        list.push(email.into_string());
                    }
                }
                Audience::Addresses(list)
            }
            _ => {
                return Err(invalid(
                    "audience",
                    "one of VERIFIED_USERS, EXAM_PARTICIPANTS, ADDRESSES",
                ));
            }
        };
        Ok(NewMessage {
            subject: subject.to_owned(),
            body: body.to_owned(),
            audience,
        })
    }
}

/// Stores the notification and starts its fan-out. Returns its id.
pub async fn create(
    db: &Db,
    jobs: &JobRuntime,
    admin: UserId,
    message: NewMessage,
) -> Result<uuid::Uuid, NotificationError> {
    let id = uuid::Uuid::new_v4();
    let (kind, exam_id, recipients) = match &message.audience {
        Audience::VerifiedUsers => (
            AudienceKind::VerifiedUsers,
            None,
            store::count_verified_users(db).await?,
        ),
        Audience::ExamParticipants(exam) => {
            if !store::exam_exists(db, *exam).await? {
                return Err(NotificationError::ExamNotFound);
            }
            (
                AudienceKind::ExamParticipants,
                Some(*exam),
                store::count_participants(db, *exam).await?,
            )
        }
        Audience::Addresses(list) => (
            AudienceKind::Addresses,
            None,
            i64::try_from(list.len()).unwrap_or(i64::MAX),
        ),
    };
    let mut tx = db.begin().await?;
    store::insert(
        &mut tx,
        &NewNotification {
            id,
            created_by: Some(admin),
            audience: kind,
            exam_id,
            subject: &message.subject,
            body: &message.body,
            recipients,
        },
    )
    .await?;
    if let Audience::Addresses(list) = &message.audience {
        let mut seq = 1;
        for chunk in list.chunks(ADDRESS_CHUNK) {
            store::insert_addresses(&mut tx, id, seq, chunk).await?;
            seq += i64::try_from(chunk.len()).unwrap_or(0);
        }
    }
    tx.commit().await?;
    // Not fatal: the resume sweep adds the job when the queue is back.
    if let Err(e) = enqueue(jobs, id).await {
        tracing::warn!(notification = %id, "fan-out not queued yet: {e}");
    }
    tracing::info!(notification = %id, audience = kind.as_str(), recipients, "notification created");
    Ok(id)
}

async fn enqueue(jobs: &JobRuntime, id: uuid::Uuid) -> Result<String, oes_jobs::JobError> {
    jobs.add(&FanOut {
        notification_id: id,
    })
    .await
}

/// What one call of [`fan_out`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FanOutReport {
    pub batches: u64,
    pub written: u64,
}

/// Writes the remaining recipients of a notification to the outbox, batch by batch, and hands
/// each committed batch to the email queue. Idempotent: a finished notification does nothing.
pub async fn fan_out(
    db: &Db,
    emails: &Emails,
    id: uuid::Uuid,
) -> Result<FanOutReport, NotificationError> {
    let mut report = FanOutReport::default();
    loop {
        let mut tx = UnitOfWork::begin(db, emails).await?;
        store::lock(&mut tx, id).await?;
        let Some(n) = store::get_in(&mut tx, id).await? else {
            return Err(NotificationError::NotFound);
        };
        if n.fanned_out {
            return Ok(report);
        }
        let cursor = n.cursor_key.clone();
        let after = cursor.as_deref().unwrap_or("");
        let page: Vec<Recipient> = match n.audience {
            AudienceKind::VerifiedUsers => {
                store::verified_users_page(&mut tx, after, BATCH).await?
            }
            AudienceKind::ExamParticipants => {
                let exam = n.exam_id.as_deref().unwrap_or_default();
                store::participants_page(&mut tx, exam, after, BATCH).await?
            }
            AudienceKind::Addresses => {
                let after = after.parse::<i64>().unwrap_or(0);
                store::addresses_page(&mut tx, id, after, BATCH).await?
            }
        };
        let Some(last) = page.last().map(|r| r.key.clone()) else {
            drop(tx);
            store::mark_fanned_out(db, id).await?;
            tracing::info!(notification = %id, enqueued = n.enqueued, "notification fanned out");
            return Ok(report);
        };
        for r in &page {
            let message = EmailMessage::AdminNotification {
                name: r.name.clone(),
                subject: n.subject.clone(),
                body: n.body.clone(),
            };
            let email = tx.send_email(&r.email, &message).await?;
            store::tag_outbox(&mut tx, email, id).await?;
        }
        let written = i64::try_from(page.len()).unwrap_or(0);
        if !store::advance(&mut tx, id, cursor.as_deref(), &last, written).await? {
            // Another run of this fan-out moved the cursor first: drop this batch.
            tx.rollback().await?;
            continue;
        }
        tx.commit().await?;
        report.batches += 1;
        report.written += u64::try_from(written).unwrap_or(0);
    }
}

/// A notification and the state of its emails.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    pub audience: AudienceKind,
    pub exam_id: Option<String>,
    pub subject: String,
    /// Recipients counted when the notification was created (users may come and go since).
    pub recipients: i64,
    /// `FANNING_OUT` while recipients are still being written, then `FANNED_OUT`.
    pub status: &'static str,
    /// Outbox rows written so far.
    pub enqueued: i64,
    /// Written and not yet sent (waiting, or between retries).
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    /// True once fanned out and every email is sent or failed.
    pub done: bool,
    pub created_at: i64,
    pub fanned_out_at: Option<i64>,
}

pub async fn progress(db: &Db, id: uuid::Uuid) -> Result<Progress, NotificationError> {
    let n = store::get(db, id)
        .await?
        .ok_or(NotificationError::NotFound)?;
    let (mut queued, mut sent, mut failed) = (0, 0, 0);
    for (status, count) in store::outbox_counts(db, id).await? {
        match status.as_str() {
            "SENT" => sent += count,
            "FAILED" => failed += count,
            _ => queued += count,
        }
    }
    Ok(Progress {
        id: n.id,
        audience: n.audience,
        exam_id: n.exam_id,
        subject: n.subject,
        recipients: n.recipients,
        status: if n.fanned_out {
            "FANNED_OUT"
        } else {
            "FANNING_OUT"
        },
        enqueued: n.enqueued,
        queued,
        sent,
        failed,
        done: n.fanned_out && queued == 0,
        created_at: n.created_at,
        fanned_out_at: n.fanned_out_at,
    })
}

/// Re-adds the fan-out job of unfinished notifications; returns how many were handed to the
/// queue. Adding is a no-op while the job exists, so this only revives fan-outs whose job was
/// lost (an in-process queue at restart, a Redis without persistence).
pub async fn resume_unfinished(db: &Db, jobs: &JobRuntime) -> Result<usize, sqlx::Error> {
    let mut added = 0;
    for id in store::unfinished(db, 100).await? {
        if let Err(e) = enqueue(jobs, id).await {
            tracing::debug!(notification = %id, "fan-out not re-queued: {e}");
            break;
        }
        added += 1;
    }
    Ok(added)
}
