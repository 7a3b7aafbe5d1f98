//! The platform's jobs, one type each. Names and payloads are the Node system's where it has the
//! job (`email` / `send-email`, `score-calculation` / `calculate-score`), so either system's
//! workers can run the other's jobs.

use std::time::Duration;

use oes_jobs::{Backoff, JobOptions};
use serde::{Deserialize, Serialize};

use super::{Job, Queue};
use crate::domain::ids::{AttemptId, OutboxId};

/// `email` / `send-email`: delivers one email. OES adds `{outboxId}` (the email's content stays
/// in the database, so no secret sits in Redis); the Node system adds `{to, subject, html}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SendEmailData", into = "SendEmailData")]
pub enum SendEmail {
    Outbox(OutboxId),
    Node {
        to: String,
        subject: String,
        html: String,
    },
}

impl SendEmail {
    /// The job id of an outbox row. BullMQ ids must not be plain integers or contain `:`.
    pub fn outbox_job_id(id: OutboxId) -> String {
        format!("email-{id}")
    }
}

impl Job for SendEmail {
    const QUEUE: Queue = Queue::Email;
    const NAME: &'static str = "send-email";

    fn id(&self) -> Option<String> {
        match self {
            SendEmail::Outbox(id) => Some(Self::outbox_job_id(*id)),
            SendEmail::Node { .. } => None,
        }
    }
}

/// Both payload shapes on the wire; decoding says which field is wrong instead of serde's
/// "did not match any variant".
#[derive(Clone, Serialize, Deserialize)]
struct SendEmailData {
    #[serde(rename = "outboxId", default, skip_serializing_if = "Option::is_none")]
    outbox_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    html: Option<String>,
}

impl TryFrom<SendEmailData> for SendEmail {
    type Error = String;

    fn try_from(data: SendEmailData) -> Result<Self, String> {
        if let Some(id) = data.outbox_id {
            return id
                .parse()
                .map(SendEmail::Outbox)
                .map_err(|_| format!("outboxId is not a UUID: {id}"));
        }
        match (data.to, data.subject, data.html) {
            (Some(to), Some(subject), Some(html)) => Ok(SendEmail::Node { to, subject, html }),
            _ => Err("unrecognised email job: expected {outboxId} or {to, subject, html}".into()),
        }
    }
}

impl From<SendEmail> for SendEmailData {
    fn from(job: SendEmail) -> Self {
        match job {
            SendEmail::Outbox(id) => SendEmailData {
                outbox_id: Some(id.to_string()),
                to: None,
                subject: None,
                html: None,
            },
            SendEmail::Node { to, subject, html } => SendEmailData {
                outbox_id: None,
                to: Some(to),
                subject: Some(subject),
                html: Some(html),
            },
        }
    }
}

/// `score-calculation` / `calculate-score` / `{attemptId}`: scores one submitted attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalculateScore {
    pub attempt_id: AttemptId,
}

impl Job for CalculateScore {
    const QUEUE: Queue = Queue::Scoring;
    const NAME: &'static str = "calculate-score";

    fn id(&self) -> Option<String> {
        Some(format!("score-{}", self.attempt_id))
    }
}

/// `auto-submit` / `auto-submit` / `{attemptId}`: delayed to the attempt's hard end; submits it
/// if it is still in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoSubmit {
    pub attempt_id: AttemptId,
}

impl AutoSubmit {
    /// Due at `deadline_ms` (the attempt's hard end), counted from `now_ms`.
    pub fn options_due(deadline_ms: i64, now_ms: i64) -> JobOptions {
        let delay = u64::try_from(deadline_ms - now_ms).unwrap_or(0);
        JobOptions {
            delay: Some(Duration::from_millis(delay)),
            ..AutoSubmit::default_options()
        }
    }

    fn default_options() -> JobOptions {
        JobOptions {
            attempts: 5,
            ..JobOptions::default()
        }
    }
}

impl Job for AutoSubmit {
    const QUEUE: Queue = Queue::AutoSubmit;
    const NAME: &'static str = "auto-submit";

    fn id(&self) -> Option<String> {
        Some(format!("auto-submit-{}", self.attempt_id))
    }

    fn options(&self) -> JobOptions {
        Self::default_options()
    }
}

/// `notifications` / `fan-out` / `{notificationId}`: writes a notification's recipients to the
/// outbox in batches and queues their emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FanOut {
    pub notification_id: uuid::Uuid,
}

impl Job for FanOut {
    const QUEUE: Queue = Queue::Notifications;
    const NAME: &'static str = "fan-out";

    fn id(&self) -> Option<String> {
        Some(format!("notify-{}", self.notification_id))
    }

    fn options(&self) -> JobOptions {
        JobOptions {
            attempts: 5,
            backoff: Backoff::Exponential {
                initial: Duration::from_secs(1),
            },
            ..JobOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_email_job_carries_only_the_row_id() {
        let id = OutboxId::new();
        let data = serde_json::to_value(SendEmail::Outbox(id)).expect("encode");
        assert_eq!(data, serde_json::json!({ "outboxId": id.to_string() }));
        assert_eq!(SendEmail::Outbox(id).id(), Some(format!("email-{id}")));
    }

    #[test]
    fn a_node_shaped_email_job_decodes() {
        let job: SendEmail = serde_json::from_value(
            serde_json::json!({ "to": "a@b.c", "subject": "s", "html": "<p>h</p>" }),
        )
        .expect("decode");
        assert_eq!(
            job,
            SendEmail::Node {
                to: "a@b.c".into(),
                subject: "s".into(),
                html: "<p>h</p>".into()
            }
        );
        assert_eq!(job.id(), None);
    }

    #[test]
    fn an_email_job_with_a_bad_outbox_id_says_which_field_is_wrong() {
        let err = serde_json::from_value::<SendEmail>(serde_json::json!({ "outboxId": "7" }))
            .expect_err("refused");
        assert!(err.to_string().contains("outboxId is not a UUID"), "{err}");
        let err = serde_json::from_value::<SendEmail>(serde_json::json!({ "to": "a@b.c" }))
            .expect_err("refused");
        assert!(err.to_string().contains("unrecognised email job"), "{err}");
    }

    #[test]
    fn attempt_jobs_use_the_node_field_name_and_deterministic_ids() {
        let attempt_id = AttemptId::new();
        let score = CalculateScore { attempt_id };
        assert_eq!(
            serde_json::to_value(score).expect("encode"),
            serde_json::json!({ "attemptId": attempt_id.to_string() })
        );
        assert_eq!(score.id(), Some(format!("score-{attempt_id}")));
        assert_eq!(
            AutoSubmit { attempt_id }.id(),
            Some(format!("auto-submit-{attempt_id}"))
        );
    }

    #[test]
    fn an_auto_submit_is_delayed_to_the_hard_end_and_never_into_the_past() {
        assert_eq!(
            AutoSubmit::options_due(10_500, 10_000).delay,
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            AutoSubmit::options_due(9_000, 10_000).delay,
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn queue_names_are_the_node_systems() {
        assert_eq!(
            crate::queue::QUEUES,
            ["email", "score-calculation", "auto-submit", "notifications"]
        );
    }
}
