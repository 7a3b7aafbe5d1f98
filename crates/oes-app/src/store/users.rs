//! The `users` table.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Db, flag, now_ms};
use crate::domain::accounts::Role;
use crate::domain::ids::UserId;

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: i64,
}

const COLUMNS: &str = "id, email, full_name, password_hash, role, email_verified, created_at";

pub(crate) fn decode_err(e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

fn from_row(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let role: String = row.try_get("role")?;
    Ok(UserRow {
        id: id.parse().map_err(decode_err)?,
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).unwrap_or(Role::User),
        email_verified: flag(row, "email_verified")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Inserts a user; `Ok(false)` when the (normalised) email is taken.
pub async fn insert(
    conn: &mut AnyConnection,
    id: UserId,
    email: &str,
    full_name: &str,
    password_hash: &str,
    role: Role,
    verified: bool,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    // Booleans go in as 0/1 via CASE so one statement suits both backends' column types.
    let result = sqlx::query(
        "INSERT INTO users (id, email, full_name, password_hash, role, email_verified, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 = 1 THEN TRUE ELSE FALSE END, $7, $7)
         ON CONFLICT DO NOTHING",
    )
    .bind(id.to_string())
    .bind(email)
    .bind(full_name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(i64::from(verified))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn find_by_email(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1)"
    ))
    .bind(email)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_id(db: &Db, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    find_by_id_on(&mut conn, id).await
}

pub async fn find_by_id_on(
    conn: &mut AnyConnection,
    id: UserId,
) -> Result<Option<UserRow>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn set_password(
    conn: &mut AnyConnection,
    id: UserId,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now_ms())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the stored hash by a new hash of the same password, on the condition that `old` is
/// still the stored one (a password changed meanwhile is left alone); true when replaced.
pub async fn rehash_password(
    conn: &mut AnyConnection,
    id: UserId,
    old: &str,
    new: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4",
    )
    .bind(new)
    .bind(now_ms())
    .bind(id.to_string())
    .bind(old)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Replaces the name and password of a signup nobody has verified yet; `Ok(false)` when the
/// account was verified meanwhile (its credentials are then its owner's and stay).
pub async fn replace_pending_signup(
    conn: &mut AnyConnection,
    id: UserId,
    full_name: &str,
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE users SET full_name = $1, password_hash = $2, updated_at = $3
         WHERE id = $4 AND email_verified = FALSE",
    )
    .bind(full_name)
    .bind(password_hash)
    .bind(now_ms())
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks the email verified; `true` when it was not verified before.
pub async fn mark_verified(conn: &mut AnyConnection, id: UserId) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2 AND email_verified = FALSE",
    )
    .bind(now_ms())
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Changes the email (already confirmed by its owner); `Ok(false)` when another account took it.
pub async fn set_email(
    conn: &mut AnyConnection,
    id: UserId,
    email: &str,
) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query("SELECT id FROM users WHERE lower(email) = lower($1) AND id <> $2")
        .bind(email)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE users SET email = $1, email_verified = TRUE, updated_at = $2 WHERE id = $3",
    )
    .bind(email)
    .bind(now_ms())
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(true)
}

pub async fn set_full_name(
    conn: &mut AnyConnection,
    id: UserId,
    full_name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET full_name = $1, updated_at = $2 WHERE id = $3")
        .bind(full_name)
        .bind(now_ms())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
