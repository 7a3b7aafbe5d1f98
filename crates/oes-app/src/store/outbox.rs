//! The email outbox table.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Db, now_ms};
use crate::domain::ids::OutboxId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboxStatus {
    /// Written, not yet known to be on the queue.
    Pending,
    /// On the queue.
    Queued,
    Sent,
    /// Every try failed, or the failure was permanent.
    Failed,
}

impl OutboxStatus {
    fn parse(s: &str) -> Self {
        match s {
            "QUEUED" => Self::Queued,
            "SENT" => Self::Sent,
            "FAILED" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: OutboxId,
    pub template: String,
    pub recipient: String,
    /// `None` once sent or FAILED: the parameters may hold a one-time secret.
    pub params: Option<String>,
    pub priority: i64,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const COLUMNS: &str = "id, template, recipient, params, priority, status, attempts, last_error, created_at, enqueued_at, sent_at";

fn from_row(row: &AnyRow) -> Result<OutboxRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    Ok(OutboxRow {
        id: id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        template: row.try_get("template")?,
        recipient: row.try_get("recipient")?,
        params: row.try_get("params")?,
        priority: row.try_get("priority")?,
        status: OutboxStatus::parse(&status),
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

/// Inserts a row on the caller's connection, so it commits or rolls back with the caller's change.
pub async fn insert(
    conn: &mut AnyConnection,
    id: OutboxId,
    template: &str,
    recipient: &str,
    params: &str,
    priority: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO email_outbox (id, template, recipient, params, priority, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'PENDING', $6)",
    )
    .bind(id.to_string())
    .bind(template)
    .bind(recipient)
    .bind(params)
    .bind(priority)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: OutboxId) -> Result<Option<OutboxRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM email_outbox WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Records that the job is on the queue, unless the row moved on meanwhile.
pub async fn mark_queued(db: &Db, id: OutboxId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_outbox SET status = 'QUEUED', enqueued_at = $2 WHERE id = $1 AND status = 'PENDING'",
    )
    .bind(id.to_string())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Marks the row sent and forgets its parameters. Returns false when it was already sent.
pub async fn mark_sent(db: &Db, id: OutboxId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE email_outbox SET status = 'SENT', sent_at = $2, params = NULL, attempts = attempts + 1, last_error = NULL
         WHERE id = $1 AND status <> 'SENT'",
    )
    .bind(id.to_string())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks an account request acted on (SENT, its empty parameters cleared) on the caller's
/// transaction, so the request and what it led to commit together. `false` when it was acted
/// on already or has failed for good.
pub async fn settle(conn: &mut AnyConnection, id: OutboxId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE email_outbox SET status = 'SENT', sent_at = $2, params = NULL, attempts = attempts + 1, last_error = NULL
         WHERE id = $1 AND status IN ('PENDING', 'QUEUED')",
    )
    .bind(id.to_string())
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives up the rows not yet sent whose template is in `created_before` and that were created
/// before that template's cutoff: FAILED with `reason`, parameters cleared. Returns how many.
/// For emails whose one-time code or link expires: unsent past that, the row holds a secret
/// with no use, and sending it would only hand the user a dead code.
pub async fn expire_unsent(
    db: &Db,
    created_before: &[(&str, i64)],
    reason: &str,
) -> Result<u64, sqlx::Error> {
    if created_before.is_empty() {
        return Ok(0);
    }
    let kinds: Vec<String> = (0..created_before.len())
        .map(|i| {
            format!(
                "(template = ${} AND created_at < ${})",
                2 * i + 2,
                2 * i + 3
            )
        })
        .collect();
    let sql = format!(
        "UPDATE email_outbox SET status = 'FAILED', params = NULL, last_error = $1
         WHERE status IN ('PENDING', 'QUEUED') AND ({})",
        kinds.join(" OR ")
    );
    let mut query = sqlx::query(&sql).bind(reason);
    for (template, cutoff) in created_before {
        query = query.bind(*template).bind(*cutoff);
    }
    Ok(query.execute(db.pool()).await?.rows_affected())
}

/// Records a failed try; `final_failure` marks the row FAILED and forgets its parameters, as
/// sending does: they may hold a reset code or a verification token, and a row that will never
/// be sent has no use for them that outweighs keeping a live secret in the table.
pub async fn record_failure(
    db: &Db,
    id: OutboxId,
    reason: &str,
    final_failure: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE email_outbox SET attempts = attempts + 1, last_error = $2,
                status = CASE WHEN $3 = 1 THEN 'FAILED' ELSE status END,
                params = CASE WHEN $3 = 1 THEN NULL ELSE params END
         WHERE id = $1 AND status <> 'SENT'",
    )
    .bind(id.to_string())
    .bind(reason)
    .bind(i64::from(final_failure))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Rows that should be on the queue but may not be: PENDING rows created before
/// `pending_before` (never enqueued, e.g. Redis was down) and QUEUED rows enqueued before
/// `queued_before` (a queue without persistence, or an in-process one, may have lost them).
/// Re-adding is safe: job ids are the outbox ids, so a job still on the queue is not added twice.
pub async fn unsent(
    db: &Db,
    pending_before: i64,
    queued_before: i64,
    limit: i64,
) -> Result<Vec<OutboxRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM email_outbox
         WHERE (status = 'PENDING' AND created_at < $1) OR (status = 'QUEUED' AND enqueued_at < $2)
         ORDER BY priority, created_at LIMIT $3"
    );
    sqlx::query(&sql)
        .bind(pending_before)
        .bind(queued_before)
        .bind(limit)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Marks a re-added QUEUED row as enqueued now, so the relay does not pick it again at once.
pub async fn touch_queued(db: &Db, id: OutboxId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE email_outbox SET enqueued_at = $2 WHERE id = $1 AND status = 'QUEUED'")
        .bind(id.to_string())
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Counts by status, for progress reports and monitoring.
pub async fn count_by_status(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM email_outbox GROUP BY status")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect()
}
