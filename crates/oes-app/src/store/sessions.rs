//! The `sessions` table: server-side, revocable sessions. Only a keyed hash of each token is
//! stored, so a database leak does not leak usable sessions.

use sqlx::{AnyConnection, Row};

use crate::db::{Db, flag, now_ms};
use crate::domain::accounts::Role;
use crate::domain::ids::{SessionId, UserId};
use crate::store::users::decode_err;

/// A live session joined with its user: what an authenticated request needs. Serializable
/// because the service keeps it in the cache (see `service::accounts::session_cache`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SessionUser {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub email_verified: bool,
    /// Unix milliseconds: a cached copy must not outlive the session.
    pub expires_at: i64,
}

pub struct NewSession<'a> {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub async fn insert(conn: &mut AnyConnection, s: &NewSession<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, created_at, expires_at, last_seen_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $4, $6, $7)",
    )
    .bind(s.id.to_string())
    .bind(s.user_id.to_string())
    .bind(s.token_hash)
    .bind(now)
    .bind(s.expires_at)
    .bind(s.ip)
    .bind(s.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

/// The session with this token hash, if it is neither revoked nor expired.
pub async fn find_live(db: &Db, token_hash: &str) -> Result<Option<SessionUser>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.id AS session_id, u.id AS user_id, u.email, u.full_name, u.role, u.email_verified,
                s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now_ms())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session_id: String = row.try_get("session_id")?;
    let user_id: String = row.try_get("user_id")?;
    let role: String = row.try_get("role")?;
    Ok(Some(SessionUser {
        session_id: session_id.parse().map_err(decode_err)?,
        user_id: user_id.parse().map_err(decode_err)?,
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        role: Role::parse(&role).unwrap_or(Role::User),
        email_verified: flag(&row, "email_verified")?,
        expires_at: row.try_get("expires_at")?,
    }))
}

/// Ends one session (by its token hash); `true` when a live one was ended.
pub async fn revoke_by_hash(db: &Db, token_hash: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(token_hash)
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Ends every live session of a user except `keep` (the one making the change, if any), and
/// returns the token hashes it ended: the caller drops their cached copies.
pub async fn revoke_all_for_user(
    conn: &mut AnyConnection,
    user_id: UserId,
    keep: Option<SessionId>,
) -> Result<Vec<String>, sqlx::Error> {
    let keep = keep.map(|k| k.to_string()).unwrap_or_default();
    let rows = sqlx::query(
        "UPDATE sessions SET revoked_at = $1
         WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3
         RETURNING token_hash",
    )
    .bind(now_ms())
    .bind(user_id.to_string())
    .bind(keep)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| r.try_get("token_hash")).collect()
}

/// The token hashes of a user's live sessions: whose cached copies a change to the user (name,
/// verification) makes stale.
pub async fn live_hashes_for_user(
    conn: &mut AnyConnection,
    user_id: UserId,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT token_hash FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(user_id.to_string())
    .bind(now_ms())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| r.try_get("token_hash")).collect()
}
