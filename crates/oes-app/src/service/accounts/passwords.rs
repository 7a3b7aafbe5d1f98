//! Forgotten, reset and changed passwords.

use super::*;

/// Asks for a reset code for the address; the email worker sends one if it is registered
/// ([`act_on_request`]). Answers the same in every case, and in the same time: this writes one
/// outbox row whatever the address and never looks it up, because a lookup that leads to more
/// work only for a registered address tells by its duration which addresses are registered.
pub async fn forgot_password(
    state: &AppState,
    client: &Client,
    email: &str,
) -> Result<(), AccountError> {
    let email = Email::parse(email)?;
    limit(state, Action::Forgot, client, Some(email.as_str())).await?;
    let mut tx = state.begin().await?;
    tx.request_account_email(email.as_str(), AccountRequest::PasswordReset)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The worker's half of [`forgot_password`], on the transaction that settles the request: a
/// fresh code (voiding older ones) to a registered address, nothing to any other.
pub(super) async fn send_reset_code(
    state: &AppState,
    tx: &mut UnitOfWork,
    address: &str,
) -> Result<(), AccountError> {
    let Some(user) = users::find_by_email(tx, address).await? else {
        return Ok(());
    };
    tokens::void_all(tx, user.id, Purpose::ResetPassword).await?;
    let code = new_reset_code();
    tokens::insert(
        tx,
        user.id,
        Purpose::ResetPassword,
        &reset_code_hash(secret(state), user.id, &code),
        None,
        expires_in(state.config.accounts.reset_code_ttl),
    )
    .await?;
    let message = EmailMessage::PasswordReset {
        name: user.full_name.clone(),
        code,
    };
    tx.send_email(&user.email, &message).await?;
    Ok(())
}

pub struct ResetInput<'a> {
    pub email: &'a str,
    pub code: &'a str,
    pub new_password: &'a str,
}

/// Sets a new password with an emailed code, and ends every session of the account. Each
/// wrong code counts against the code; the fifth voids it.
pub async fn reset_password(
    state: &AppState,
    client: &Client,
    input: ResetInput<'_>,
) -> Result<(), AccountError> {
    let email = Email::parse(input.email)?;
    check_new_password(
        input.new_password,
        "newPassword",
        state.config.accounts.password_policy,
        &[email.as_str()],
    )?;
    limit(state, Action::Reset, client, Some(email.as_str())).await?;
    let mut tx = state.begin().await?;
    let user = users::find_by_email(&mut tx, email.as_str())
        .await?
        .ok_or(AccountError::BadToken)?;
    let row = tokens::find_usable_for_user(
        &mut tx,
        user.id,
        Purpose::ResetPassword,
        RESET_CODE_MAX_TRIES,
    )
    .await?
    .ok_or(AccountError::BadToken)?;
    let given = reset_code_hash(secret(state), user.id, input.code.trim());
    if !bool::from(given.as_bytes().ct_eq(row.token_hash.as_bytes())) {
        tokens::add_failed_try(&mut tx, &row.id).await?;
        tx.commit().await?;
        return Err(AccountError::BadToken);
    }
    // The name is checked only now: refusing a password for being the name before the code
    // is proven would tell anyone who guesses names whose account this is.
    check_not_personal(input.new_password, "newPassword", &[&user.full_name])?;
    if !tokens::mark_used(&mut tx, &row.id).await? {
        return Err(AccountError::BadToken);
    }
    let hash = hash_password(
        &state.password_hashing,
        input.new_password,
        state.config.accounts.hash,
    )
    .await?;
    users::set_password(&mut tx, user.id, &hash).await?;
    let revoked = sessions::revoke_all_for_user(&mut tx, user.id, None).await?;
    let notice = password_changed_notice(client, &user.full_name);
    tx.send_email(&user.email, &notice).await?;
    tx.commit().await?;
    forget_sessions(&state.cache, revoked).await;
    Ok(())
}

fn password_changed_notice(client: &Client, name: &str) -> EmailMessage {
    EmailMessage::PasswordChanged {
        name: name.to_owned(),
        at_ms: now_ms(),
        ip: client.ip_key(),
        user_agent: client
            .user_agent
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// Changes the signed-in user's password; every other session of theirs ends.
pub async fn change_password(
    state: &AppState,
    client: &Client,
    user_id: UserId,
    session_id: SessionId,
    current: &str,
    new: &str,
) -> Result<(), AccountError> {
    check_new_password(
        new,
        "newPassword",
        state.config.accounts.password_policy,
        &[],
    )?;
    if current == new {
        return Err(AccountError::SamePassword);
    }
    // A stolen session must not become a way to guess the password.
    limit(
        state,
        Action::ChangePassword,
        client,
        Some(&user_id.to_string()),
    )
    .await?;
    let user = users::find_by_id(&state.db, user_id)
        .await?
        .ok_or(AccountError::UserNotFound)?;
    check_not_personal(new, "newPassword", &[&user.email, &user.full_name])?;
    if !verify_password(&state.password_hashing, current, &user.password_hash).await? {
        return Err(AccountError::WrongPassword);
    }
    let hash = hash_password(&state.password_hashing, new, state.config.accounts.hash).await?;
    let mut tx = state.begin().await?;
    users::set_password(&mut tx, user_id, &hash).await?;
    let revoked = sessions::revoke_all_for_user(&mut tx, user_id, Some(session_id)).await?;
    let notice = password_changed_notice(client, &user.full_name);
    tx.send_email(&user.email, &notice).await?;
    tx.commit().await?;
    forget_sessions(&state.cache, revoked).await;
    Ok(())
}
