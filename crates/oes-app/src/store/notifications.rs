//! Admin notifications: the `notifications` row (audience, message, fan-out cursor), the stored
//! address lists, the pages of recipients the fan-out walks, and progress counted over the
//! outbox rows tagged with the notification.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Db, now_ms};
use crate::domain::ids::{ExamId, OutboxId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AudienceKind {
    VerifiedUsers,
    ExamParticipants,
    Addresses,
}

impl AudienceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AudienceKind::VerifiedUsers => "VERIFIED_USERS",
            AudienceKind::ExamParticipants => "EXAM_PARTICIPANTS",
            AudienceKind::Addresses => "ADDRESSES",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "EXAM_PARTICIPANTS" => AudienceKind::ExamParticipants,
            "ADDRESSES" => AudienceKind::Addresses,
            _ => AudienceKind::VerifiedUsers,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: uuid::Uuid,
    pub audience: AudienceKind,
    pub exam_id: Option<String>,
    pub subject: String,
    pub body: String,
    /// True once every recipient has an outbox row.
    pub fanned_out: bool,
    pub cursor_key: Option<String>,
    pub recipients: i64,
    pub enqueued: i64,
    pub created_at: i64,
    pub fanned_out_at: Option<i64>,
}

const COLUMNS: &str = "id, created_by, audience, exam_id, subject, body, status, cursor_key, recipients, enqueued, created_at, fanned_out_at";

fn from_row(row: &AnyRow) -> Result<NotificationRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let audience: String = row.try_get("audience")?;
    let status: String = row.try_get("status")?;
    Ok(NotificationRow {
        id: id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        audience: AudienceKind::parse(&audience),
        exam_id: row.try_get("exam_id")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        fanned_out: status == "FANNED_OUT",
        cursor_key: row.try_get("cursor_key")?,
        recipients: row.try_get("recipients")?,
        enqueued: row.try_get("enqueued")?,
        created_at: row.try_get("created_at")?,
        fanned_out_at: row.try_get("fanned_out_at")?,
    })
}

pub struct NewNotification<'a> {
    pub id: uuid::Uuid,
    pub created_by: Option<UserId>,
    pub audience: AudienceKind,
    pub exam_id: Option<ExamId>,
    pub subject: &'a str,
    pub body: &'a str,
    pub recipients: i64,
}

pub async fn insert(conn: &mut AnyConnection, n: &NewNotification<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notifications (id, created_by, audience, exam_id, subject, body, status, recipients, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'FANNING_OUT', $7, $8)",
    )
    .bind(n.id.to_string())
    .bind(n.created_by.map(|u| u.to_string()))
    .bind(n.audience.as_str())
    .bind(n.exam_id.map(|e| e.to_string()))
    .bind(n.subject)
    .bind(n.body)
    .bind(n.recipients)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores addresses `first_seq..` of an explicit audience, in one statement per call.
pub async fn insert_addresses(
    conn: &mut AnyConnection,
    id: uuid::Uuid,
    first_seq: i64,
    addresses: &[String],
) -> Result<(), sqlx::Error> {
    if addresses.is_empty() {
        return Ok(());
    }
    let mut sql =
        String::from("INSERT INTO notification_addresses (notification_id, seq, email) VALUES ");
    for i in 0..addresses.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        let base = i * 3;
        sql.push_str(&format!("(${}, ${}, ${})", base + 1, base + 2, base + 3));
    }
    let id = id.to_string();
    let mut query = sqlx::query(&sql);
    for (i, address) in addresses.iter().enumerate() {
        let seq = first_seq + i64::try_from(i).unwrap_or(i64::MAX);
        query = query.bind(id.clone()).bind(seq).bind(address.clone());
    }
    query.execute(conn).await?;
    Ok(())
}

pub async fn get(db: &Db, id: uuid::Uuid) -> Result<Option<NotificationRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Takes the notification's row lock as the transaction's first statement: on PostgreSQL two
/// runs of one fan-out queue here, and on SQLite the transaction holds the write lock from the
/// start instead of failing to upgrade a read snapshot that a concurrent writer made stale.
pub async fn lock(conn: &mut AnyConnection, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE notifications SET enqueued = enqueued WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Reads the row inside the fan-out's transaction, so the cursor read and the cursor written
/// belong to one batch.
pub async fn get_in(
    conn: &mut AnyConnection,
    id: uuid::Uuid,
) -> Result<Option<NotificationRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1");
    sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Ids of notifications whose fan-out has not finished, oldest first.
pub async fn unfinished(db: &Db, limit: i64) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id FROM notifications WHERE status = 'FANNING_OUT' ORDER BY created_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .collect()
}

/// Moves the cursor past a written batch; a no-op (false) when another fan-out of the same
/// notification moved it first, which makes the caller roll its batch back.
pub async fn advance(
    conn: &mut AnyConnection,
    id: uuid::Uuid,
    from: Option<&str>,
    to: &str,
    written: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE notifications SET cursor_key = $2, enqueued = enqueued + $3
         WHERE id = $1 AND status = 'FANNING_OUT'
           AND COALESCE(cursor_key, '') = $4",
    )
    .bind(id.to_string())
    .bind(to)
    .bind(written)
    .bind(from.unwrap_or(""))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_fanned_out(db: &Db, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET status = 'FANNED_OUT', fanned_out_at = $2 WHERE id = $1 AND status = 'FANNING_OUT'",
    )
    .bind(id.to_string())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// One recipient of a page: its cursor key, address and name when it is a user.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub key: String,
    pub email: String,
    pub name: Option<String>,
}

fn recipient_from_user(row: &AnyRow) -> Result<Recipient, sqlx::Error> {
    Ok(Recipient {
        key: row.try_get("id")?,
        email: row.try_get("email")?,
        name: Some(row.try_get("full_name")?),
    })
}

/// Verified users after `after` (a user id), in id order.
pub async fn verified_users_page(
    conn: &mut AnyConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<Recipient>, sqlx::Error> {
    sqlx::query(
        "SELECT id, email, full_name FROM users
         WHERE email_verified = TRUE AND id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?
    .iter()
    .map(recipient_from_user)
    .collect()
}

/// Users with an attempt on `exam` after `after` (a user id), in id order.
pub async fn participants_page(
    conn: &mut AnyConnection,
    exam: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<Recipient>, sqlx::Error> {
    sqlx::query(
        "SELECT u.id, u.email, u.full_name FROM users u
         JOIN exam_attempts a ON a.user_id = u.id
         WHERE a.exam_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3",
    )
    .bind(exam)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?
    .iter()
    .map(recipient_from_user)
    .collect()
}

/// Stored addresses after position `after`, in order.
pub async fn addresses_page(
    conn: &mut AnyConnection,
    id: uuid::Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<Recipient>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, email FROM notification_addresses
         WHERE notification_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(id.to_string())
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.try_get("seq")?;
            Ok(Recipient {
                key: seq.to_string(),
                email: r.try_get("email")?,
                name: None,
            })
        })
        .collect()
}

pub async fn count_verified_users(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM users WHERE email_verified = TRUE")
        .fetch_one(db.pool())
        .await?
        .try_get("n")
}

pub async fn count_participants(db: &Db, exam: ExamId) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM exam_attempts WHERE exam_id = $1")
        .bind(exam.to_string())
        .fetch_one(db.pool())
        .await?
        .try_get("n")
}

pub async fn exam_exists(db: &Db, exam: ExamId) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT id FROM exams WHERE id = $1")
        .bind(exam.to_string())
        .fetch_optional(db.pool())
        .await?
        .is_some())
}

/// Tags an outbox row written by the fan-out with its notification.
pub async fn tag_outbox(
    conn: &mut AnyConnection,
    outbox: OutboxId,
    id: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE email_outbox SET notification_id = $2 WHERE id = $1")
        .bind(outbox.to_string())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The notification's outbox rows by status.
pub async fn outbox_counts(db: &Db, id: uuid::Uuid) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) AS n FROM email_outbox WHERE notification_id = $1 GROUP BY status",
    )
    .bind(id.to_string())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect()
}
