//! The `account_tokens` table: verification links, reset codes and email-change links, stored
//! as keyed hashes, expiring, single-use, with a counter of wrong tries.

use sqlx::{AnyConnection, Row};

use crate::db::now_ms;
use crate::domain::ids::UserId;
use crate::store::users::decode_err;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "VERIFY_EMAIL",
            Purpose::ResetPassword => "RESET_PASSWORD",
            Purpose::ChangeEmail => "CHANGE_EMAIL",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub user_id: UserId,
    pub token_hash: String,
    pub new_email: Option<String>,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<TokenRow, sqlx::Error> {
    let user_id: String = row.try_get("user_id")?;
    Ok(TokenRow {
        id: row.try_get("id")?,
        user_id: user_id.parse().map_err(decode_err)?,
        token_hash: row.try_get("token_hash")?,
        new_email: row.try_get("new_email")?,
    })
}

pub async fn insert(
    conn: &mut AnyConnection,
    user_id: UserId,
    purpose: Purpose,
    token_hash: &str,
    new_email: Option<&str>,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO account_tokens (id, user_id, purpose, token_hash, new_email, failed_tries, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(user_id.to_string())
    .bind(purpose.as_str())
    .bind(token_hash)
    .bind(new_email)
    .bind(now_ms())
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Voids every unused token of one purpose for a user: a reset code when a newer one is sent,
/// verification links once one of them is used.
pub async fn void_all(
    conn: &mut AnyConnection,
    user_id: UserId,
    purpose: Purpose,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now_ms())
    .bind(user_id.to_string())
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// A usable token (unused, unexpired, under the try limit) found by its hash.
pub async fn find_usable_by_hash(
    conn: &mut AnyConnection,
    purpose: Purpose,
    token_hash: &str,
    max_tries: i64,
) -> Result<Option<TokenRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, user_id, token_hash, new_email, failed_tries FROM account_tokens
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
           AND failed_tries < $4",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now_ms())
    .bind(max_tries)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The newest usable token of a purpose for a user (reset codes are looked up by account,
/// then compared).
pub async fn find_usable_for_user(
    conn: &mut AnyConnection,
    user_id: UserId,
    purpose: Purpose,
    max_tries: i64,
) -> Result<Option<TokenRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, user_id, token_hash, new_email, failed_tries FROM account_tokens
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
           AND failed_tries < $4
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(user_id.to_string())
    .bind(purpose.as_str())
    .bind(now_ms())
    .bind(max_tries)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Uses a token up; `false` when it was already used (a concurrent request won).
pub async fn mark_used(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let result =
        sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(conn)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// Counts a wrong try against a token.
pub async fn add_failed_try(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE account_tokens SET failed_tries = failed_tries + 1 WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
