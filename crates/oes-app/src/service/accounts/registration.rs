//! Sign-up, email verification, login and logout.

use super::*;

/// Sends a fresh verification link for a user when `tx` commits. Older links stay valid until
/// one of them is used: the frontend asks for a resend right after signup, so voiding them here
/// would break the link in the first email, the one most students click.
async fn queue_verification(
    state: &AppState,
    tx: &mut UnitOfWork,
    user_id: UserId,
    email: &str,
    name: &str,
) -> Result<(), AccountError> {
    let token = new_token();
    tokens::insert(
        tx,
        user_id,
        Purpose::VerifyEmail,
        &token_hash(secret(state), &token),
        None,
        expires_in(state.config.accounts.verify_link_ttl),
    )
    .await?;
    let message = EmailMessage::VerifyEmail {
        name: name.to_owned(),
        link: link(state, "/verify-email", &token),
    };
    tx.send_email(email, &message).await?;
    Ok(())
}

pub struct SignupInput<'a> {
    pub full_name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// Registers a user and emails a verification link. An email already registered gets the same
/// answer; if still unverified, this signup's name and password replace the pending ones and a
/// new link replaces the old; a verified account is left alone.
pub async fn signup(
    state: &AppState,
    client: &Client,
    input: SignupInput<'_>,
) -> Result<(), AccountError> {
    let full_name = check_full_name(input.full_name)?;
    let email = Email::parse(input.email)?;
    check_new_password(
        input.password,
        "password",
        state.config.accounts.password_policy,
        &[email.as_str(), &full_name],
    )?;
    limit(state, Action::Signup, client, Some(email.as_str())).await?;
    // Hashed whether or not the email is free, so timing does not tell either.
    let hash = hash_password(
        &state.password_hashing,
        input.password,
        state.config.accounts.hash,
    )
    .await?;
    let mut tx = state.begin().await?;
    let id = UserId::new();
    if users::insert(
        &mut tx,
        id,
        email.as_str(),
        &full_name,
        &hash,
        Role::User,
        false,
    )
    .await?
    {
        queue_verification(state, &mut tx, id, email.as_str(), &full_name).await?;
    } else if let Some(existing) = users::find_by_email(&mut tx, email.as_str()).await?
        && !existing.email_verified
        // Nobody has shown they own the address yet, so the newest signup's credentials are
        // the ones its link will confirm: keeping the first would let whoever signed up first
        // with someone else's address own the account once its owner verifies. The earlier
        // links are voided with it, so no link confirms credentials other than these.
        && users::replace_pending_signup(&mut tx, existing.id, &full_name, &hash).await?
    {
        tokens::void_all(&mut tx, existing.id, Purpose::VerifyEmail).await?;
        queue_verification(state, &mut tx, existing.id, &existing.email, &full_name).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A successful login: the session token (for the cookie, and for Bearer clients), the user,
/// and the device token that marks this client as one that signed in to the account (see
/// [`lockout`](super::lockout)).
#[derive(Debug)]
pub struct LoggedIn {
    pub token: String,
    pub user: users::UserRow,
    pub device: String,
}

/// Checks the password within the login limits and starts a session. `device` is the device
/// token the client presented, if any.
pub async fn login(
    state: &AppState,
    client: &Client,
    email: &str,
    password: &str,
    device: Option<&str>,
) -> Result<LoggedIn, AccountError> {
    let cfg = &state.config.accounts;
    let email = Email::parse(email).map_err(|_| AccountError::BadCredentials)?;
    let attempt = lockout::reserve(state, client, &email, device).await?;
    let user = match password_matches(state, email.as_str(), password).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            attempt.failed();
            return Err(AccountError::BadCredentials);
        }
        Err(e) => {
            attempt.not_evaluated(state).await;
            return Err(e);
        }
    };
    let device = attempt
        .device
        .clone()
        .unwrap_or_else(|| lockout::new_device_token(secret(state), &email));
    attempt.succeeded(state).await;
    if !user.email_verified {
        return Err(AccountError::NotVerified);
    }
    let mut conn = state.db.pool().acquire().await?;
    let ip = client.ip.map(|ip| ip.to_string());
    let (_, token) = start_session(
        &mut conn,
        secret(state),
        cfg.session_ttl,
        user.id,
        ip.as_deref(),
        client.user_agent.as_deref(),
    )
    .await?;
    Ok(LoggedIn {
        token,
        user,
        device,
    })
}

/// The account when the password opens it.
async fn password_matches(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<Option<users::UserRow>, AccountError> {
    let mut conn = state.db.pool().acquire().await?;
    let user = users::find_by_email(&mut conn, email).await?;
    drop(conn);
    let gate = &state.password_hashing;
    match user {
        Some(user) => {
            if !verify_password(gate, password, &user.password_hash).await? {
                return Ok(None);
            }
            if is_bcrypt_hash(&user.password_hash) {
                upgrade_to_argon2(state, &user, password).await;
            }
            Ok(Some(user))
        }
        None => {
            // Hashing costs what verifying costs: an unknown email answers no faster.
            hash_password(gate, password, state.config.accounts.hash).await?;
            Ok(None)
        }
    }
}

/// Replaces a bcrypt hash imported from the Node system by argon2id, now that the password is
/// known to be right. Best effort: the login has succeeded either way, and a failure (the
/// hashing gate busy, the database away) only means the next login tries again.
async fn upgrade_to_argon2(state: &AppState, user: &users::UserRow, password: &str) {
    let upgraded = async {
        let hash = hash_password(
            &state.password_hashing,
            password,
            state.config.accounts.hash,
        )
        .await?;
        let mut conn = state.db.pool().acquire().await?;
        users::rehash_password(&mut conn, user.id, &user.password_hash, &hash).await?;
        Ok::<_, AccountError>(())
    };
    if let Err(e) = upgraded.await {
        tracing::warn!(user = %user.id, "bcrypt hash not yet replaced by argon2id: {e}");
    }
}

/// Ends the session of this token, if live.
pub async fn logout(state: &AppState, token: &str) -> Result<(), AccountError> {
    let hash = token_hash(secret(state), token);
    sessions::revoke_by_hash(&state.db, &hash).await?;
    forget_sessions(&state.cache, vec![hash]).await;
    Ok(())
}

/// Whether a verification did the change or found it done.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Now,
    Already,
}

pub async fn verify_email(state: &AppState, token: &str) -> Result<Verified, AccountError> {
    let hash = token_hash(secret(state), token);
    let mut tx = state.db.begin().await?;
    let row = tokens::find_usable_by_hash(&mut tx, Purpose::VerifyEmail, &hash, i64::MAX)
        .await?
        .ok_or(AccountError::BadToken)?;
    if !tokens::mark_used(&mut tx, &row.id).await? {
        return Err(AccountError::BadToken);
    }
    // One link proved the address; the others (resends) have nothing left to prove.
    tokens::void_all(&mut tx, row.user_id, Purpose::VerifyEmail).await?;
    let changed = users::mark_verified(&mut tx, row.user_id).await?;
    tx.commit().await?;
    invalidate_profile(state, row.user_id).await;
    forget_sessions_of(state, row.user_id).await;
    Ok(if changed {
        Verified::Now
    } else {
        Verified::Already
    })
}

/// Asks for a new verification link for the address; the email worker sends one if it belongs
/// to an unverified account ([`act_on_request`]). Answers the same in every case, and in the
/// same time, for the reason [`forgot_password`] gives.
pub async fn resend_verification(
    state: &AppState,
    client: &Client,
    email: &str,
) -> Result<(), AccountError> {
    let email = Email::parse(email)?;
    limit(state, Action::Resend, client, Some(email.as_str())).await?;
    let mut tx = state.begin().await?;
    tx.request_account_email(email.as_str(), AccountRequest::Verification)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The worker's half of [`resend_verification`], on the transaction that settles the request.
pub(super) async fn resend_link(
    state: &AppState,
    tx: &mut UnitOfWork,
    address: &str,
) -> Result<(), AccountError> {
    if let Some(user) = users::find_by_email(tx, address).await?
        && !user.email_verified
    {
        queue_verification(state, tx, user.id, &user.email, &user.full_name).await?;
    }
    Ok(())
}
