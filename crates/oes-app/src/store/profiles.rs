//! The `user_profiles` table, read together with its user.

use sqlx::{AnyConnection, Row};

use crate::db::{Db, flag, now_ms};
use crate::domain::accounts::{Profile, ProfileEnum};
use crate::domain::ids::UserId;

/// A user and their profile as stored (enum values as their TEXT form).
#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub email: String,
    pub full_name: String,
    pub email_verified: bool,
    pub profile: Option<StoredProfile>,
}

#[derive(Debug, Clone)]
pub struct StoredProfile {
    pub enrollment_number: String,
    pub course: String,
    pub department: String,
    pub year: String,
    pub semester: String,
}

pub async fn get(db: &Db, user_id: UserId) -> Result<Option<ProfileRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT u.email, u.full_name, u.email_verified,
                p.enrollment_number, p.course, p.department, p.year, p.semester
         FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id
         WHERE u.id = $1",
    )
    .bind(user_id.to_string())
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let enrollment: Option<String> = row.try_get("enrollment_number")?;
    let profile = match enrollment {
        None => None,
        Some(enrollment_number) => Some(StoredProfile {
            enrollment_number,
            course: row.try_get("course")?,
            department: row.try_get("department")?,
            year: row.try_get("year")?,
            semester: row.try_get("semester")?,
        }),
    };
    Ok(Some(ProfileRow {
        email: row.try_get("email")?,
        full_name: row.try_get("full_name")?,
        email_verified: flag(&row, "email_verified")?,
        profile,
    }))
}

/// Whether another user holds this enrollment number.
pub async fn enrollment_taken(
    conn: &mut AnyConnection,
    user_id: UserId,
    enrollment_number: &str,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_id FROM user_profiles WHERE enrollment_number = $1 AND user_id <> $2",
    )
    .bind(enrollment_number)
    .bind(user_id.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

pub async fn upsert(
    conn: &mut AnyConnection,
    user_id: UserId,
    profile: &Profile,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_profiles (user_id, enrollment_number, course, department, year, semester, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id) DO UPDATE SET
           enrollment_number = excluded.enrollment_number, course = excluded.course,
           department = excluded.department, year = excluded.year,
           semester = excluded.semester, updated_at = excluded.updated_at",
    )
    .bind(user_id.to_string())
    .bind(&profile.enrollment_number)
    .bind(profile.course.as_str())
    .bind(profile.department.as_str())
    .bind(profile.year.as_str())
    .bind(profile.semester.as_str())
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}
