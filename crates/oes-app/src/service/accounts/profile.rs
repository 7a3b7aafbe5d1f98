//! The profile (read through the cache) and email-address changes.

use super::*;

/// `GET /api/profile/me`'s data, as cached.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    #[schema(value_type = String)]
    pub id: UserId,
    pub email: String,
    pub full_name: String,
    pub email_verified: bool,
    pub profile: Option<ProfileFields>,
    /// A boolean here; the original put the enrollment number in this field.
    pub profile_complete: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileFields {
    pub enrollment_number: String,
    pub course: String,
    pub department: String,
    pub year: String,
    pub semester: String,
}

async fn load_profile(state: &AppState, user_id: UserId) -> Result<ProfileView, AccountError> {
    let row = profiles::get(&state.db, user_id)
        .await?
        .ok_or(AccountError::UserNotFound)?;
    let profile = row.profile.map(|p| ProfileFields {
        enrollment_number: p.enrollment_number,
        course: p.course,
        department: p.department,
        year: p.year,
        semester: p.semester,
    });
    Ok(ProfileView {
        id: user_id,
        email: row.email,
        full_name: row.full_name,
        email_verified: row.email_verified,
        profile_complete: profile.is_some(),
        profile,
    })
}

/// The user's profile, through the cache.
pub async fn get_profile(state: &AppState, user_id: UserId) -> Result<ProfileView, AccountError> {
    let entry = crate::cache_entries::profile(user_id);
    match state
        .cache
        .get_or_set(&entry.key, entry.ttl, || load_profile(state, user_id))
        .await
    {
        Ok(view) => Ok(view),
        Err(shared) => Err(match &*shared {
            AccountError::UserNotFound => AccountError::UserNotFound,
            other => AccountError::Internal(format!("profile load: {other}")),
        }),
    }
}

pub(super) async fn invalidate_profile(state: &AppState, user_id: UserId) {
    if let Err(e) = state
        .cache
        .delete(&crate::cache_entries::profile(user_id).key)
        .await
    {
        tracing::warn!(%user_id, "profile cache not invalidated: {e}");
    }
}

pub struct ProfileInput<'a> {
    pub full_name: &'a str,
    pub course: &'a str,
    pub department: &'a str,
    pub year: &'a str,
    pub semester: &'a str,
    pub enrollment_number: &'a str,
}

/// Creates or replaces the profile (and the full name), then drops the cached copy.
pub async fn update_profile(
    state: &AppState,
    user_id: UserId,
    input: ProfileInput<'_>,
) -> Result<ProfileView, AccountError> {
    let full_name = check_full_name(input.full_name)?;
    let profile = Profile {
        enrollment_number: check_enrollment_number(input.enrollment_number)?,
        course: Course::parse(input.course)?,
        department: Department::parse(input.department)?,
        year: Year::parse(input.year)?,
        semester: Semester::parse(input.semester)?,
    };
    let mut tx = state.db.begin().await?;
    if profiles::enrollment_taken(&mut tx, user_id, &profile.enrollment_number).await? {
        return Err(AccountError::EnrollmentTaken);
    }
    match profiles::upsert(&mut tx, user_id, &profile).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(AccountError::EnrollmentTaken);
        }
        Err(e) => return Err(e.into()),
    }
    users::set_full_name(&mut tx, user_id, &full_name).await?;
    tx.commit().await?;
    invalidate_profile(state, user_id).await;
    forget_sessions_of(state, user_id).await;
    load_profile(state, user_id).await
}

/// Starts an email change: a confirmation link to the new address, a notice to the old one.
/// The answer is the same whether or not the new address is free; a taken one gets no link.
pub async fn request_email_change(
    state: &AppState,
    client: &Client,
    user_id: UserId,
    new_email: &str,
    password: &str,
) -> Result<(), AccountError> {
    let new_email = Email::parse(new_email)?;
    limit(
        state,
        Action::ChangeEmail,
        client,
        Some(&user_id.to_string()),
    )
    .await?;
    let user = users::find_by_id(&state.db, user_id)
        .await?
        .ok_or(AccountError::UserNotFound)?;
    if !verify_password(&state.password_hashing, password, &user.password_hash).await? {
        return Err(AccountError::WrongPassword);
    }
    if new_email.as_str() == user.email.to_lowercase() {
        return Err(AccountError::Invalid(Invalid {
            field: "newEmail",
            message: "the new email address is the current one".to_owned(),
        }));
    }
    let mut tx = state.begin().await?;
    if users::find_by_email(&mut tx, new_email.as_str())
        .await?
        .is_none()
    {
        tokens::void_all(&mut tx, user_id, Purpose::ChangeEmail).await?;
        let token = new_token();
        tokens::insert(
            &mut tx,
            user_id,
            Purpose::ChangeEmail,
            &token_hash(secret(state), &token),
            Some(new_email.as_str()),
            expires_in(state.config.accounts.email_change_ttl),
        )
        .await?;
        let confirm = EmailMessage::EmailChangeConfirm {
            name: user.full_name.clone(),
            new_email: new_email.to_string(),
            link: link(state, "/confirm-email-change", &token),
        };
        tx.send_email(new_email.as_str(), &confirm).await?;
    }
    let notice = EmailMessage::EmailChangeNotice {
        name: user.full_name.clone(),
        new_email: new_email.to_string(),
    };
    tx.send_email(&user.email, &notice).await?;
    tx.commit().await?;
    Ok(())
}

/// Applies a confirmed email change and ends every session of the account (sign in again with
/// the new address).
pub async fn confirm_email_change(state: &AppState, token: &str) -> Result<(), AccountError> {
    let hash = token_hash(secret(state), token);
    let mut tx = state.db.begin().await?;
    let row = tokens::find_usable_by_hash(&mut tx, Purpose::ChangeEmail, &hash, i64::MAX)
        .await?
        .ok_or(AccountError::BadToken)?;
    let new_email = row.new_email.clone().ok_or(AccountError::BadToken)?;
    if !tokens::mark_used(&mut tx, &row.id).await? {
        return Err(AccountError::BadToken);
    }
    if !users::set_email(&mut tx, row.user_id, &new_email).await? {
        return Err(AccountError::EmailTaken);
    }
    let revoked = sessions::revoke_all_for_user(&mut tx, row.user_id, None).await?;
    tx.commit().await?;
    invalidate_profile(state, row.user_id).await;
    forget_sessions(&state.cache, revoked).await;
    Ok(())
}
