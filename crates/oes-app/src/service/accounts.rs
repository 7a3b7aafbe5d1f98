//! Accounts: sign-up, sessions, verification, password reset and change, profile, email change.
//!
//! Secrets are handled in three forms:
//! - passwords: argon2id (cost from [`AccountsConfig`]), hashed and verified on the blocking pool;
//! - session tokens, verification links, reset codes, email-change links: drawn from the OS
//!   CSPRNG, given to the user once, and stored only as HMAC-SHA256(APP_SECRET, token);
//! - reset codes are short, so they also carry a counter of wrong tries and are compared in
//!   constant time.
//!
//! Answers never tell whether an email is registered: signup, resend and forgot answer the same
//! whatever the address, and login has one generic failure.

use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use url::Url;

use subtle::ConstantTimeEq;

use crate::config::{AppEnv, ConfigError};
use crate::db::{Db, now_ms};
use crate::domain::accounts::{
    Course, Department, Email, Invalid, InvalidChoice, Profile, ProfileEnum, Role, Semester, Year,
    check_enrollment_number, check_full_name, check_new_password,
};
use crate::domain::ids::{SessionId, UserId};
use crate::service::email::{EmailError, EmailMessage, QueuedEmail, SendOptions};
use crate::service::rate_limit::Limited;
use crate::state::AppState;
use crate::store::tokens::{self, Purpose};
use crate::store::{profiles, sessions, users};

/// The accounts area's settings, read with the rest of [`crate::Config`].
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub hash: HashCost,
    pub session_ttl: Duration,
    /// Origins allowed to make cookie-authenticated writes: APP_BASE_URL's plus ALLOWED_ORIGINS.
    pub allowed_origins: Vec<String>,
    /// Read the client address from X-Forwarded-For (only behind a proxy that sets it).
    pub trust_proxy_headers: bool,
    /// `Secure` on the session cookie (production).
    pub secure_cookie: bool,
    pub rate_limit_window: Duration,
    /// Requests per client address, per action, per window.
    pub rate_limit_per_ip: u64,
    /// Requests (failed logins, for login) per account, per action, per window.
    pub rate_limit_per_account: u64,
    pub verify_link_ttl: Duration,
    pub reset_code_ttl: Duration,
    pub email_change_ttl: Duration,
}

/// Argon2id cost. The default is OWASP's minimum for argon2id (19 MiB, 2 passes); tests lower it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// Wrong tries a reset code survives; the next wrong try voids it.
pub const RESET_CODE_MAX_TRIES: i64 = 5;

impl AccountsConfig {
    /// Reads PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_ITERATIONS, SESSION_TTL_HOURS,
    /// ALLOWED_ORIGINS (comma-separated origins), TRUST_PROXY_HEADERS, RATE_LIMIT_WINDOW_SECS,
    /// RATE_LIMIT_PER_IP and RATE_LIMIT_PER_ACCOUNT.
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        app_base_url: &Url,
        env: AppEnv,
    ) -> Result<Self, ConfigError> {
        fn num<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
            get: &dyn Fn(&str) -> Option<String>,
            var: &'static str,
            default: T,
            min: T,
        ) -> Result<T, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(raw) => match raw.parse::<T>() {
                    Ok(v) if v >= min => Ok(v),
                    _ => Err(ConfigError {
                        var,
                        problem: format!("expected a number of at least {min}, got `{raw}`"),
                    }),
                },
            }
        }
        let memory_kib = num(
            get,
            "PASSWORD_HASH_MEMORY_KIB",
            HashCost::default().memory_kib,
            8,
        )?;
        let iterations = num(
            get,
            "PASSWORD_HASH_ITERATIONS",
            HashCost::default().iterations,
            1,
        )?;
        let session_hours: u64 = num(get, "SESSION_TTL_HOURS", 7 * 24, 1)?;
        let trust_proxy_headers = match get("TRUST_PROXY_HEADERS")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: "TRUST_PROXY_HEADERS",
                    problem: format!("expected true or false, got `{other}`"),
                });
            }
        };
        let mut allowed_origins = vec![app_base_url.origin().ascii_serialization()];
        for raw in get("ALLOWED_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let origin = Url::parse(raw)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .map(|u| u.origin().ascii_serialization())
                .ok_or_else(|| ConfigError {
                    var: "ALLOWED_ORIGINS",
                    problem: format!(
                        "`{raw}` is not an http(s) origin like https://app.example.org"
                    ),
                })?;
            allowed_origins.push(origin);
        }
        Ok(AccountsConfig {
            hash: HashCost {
                memory_kib,
                iterations,
            },
            session_ttl: Duration::from_secs(session_hours * 3600),
            allowed_origins,
            trust_proxy_headers,
            secure_cookie: env == AppEnv::Production,
            rate_limit_window: Duration::from_secs(num(get, "RATE_LIMIT_WINDOW_SECS", 900, 1)?),
            rate_limit_per_ip: num(get, "RATE_LIMIT_PER_IP", 30, 1)?,
            rate_limit_per_account: num(get, "RATE_LIMIT_PER_ACCOUNT", 5, 1)?,
            verify_link_ttl: Duration::from_secs(
                u64::from(crate::service::email::VERIFY_LINK_HOURS) * 3600,
            ),
            reset_code_ttl: Duration::from_secs(
                u64::from(crate::service::email::RESET_CODE_MINUTES) * 60,
            ),
            email_change_ttl: Duration::from_secs(
                u64::from(crate::service::email::VERIFY_LINK_HOURS) * 3600,
            ),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{}", .0.message)]
    Invalid(Invalid),
    #[error("{} must be one of {:?}", .0.field, .0.allowed)]
    InvalidChoice(InvalidChoice),
    /// The one answer to a failed login, whatever failed.
    #[error("invalid email or password")]
    BadCredentials,
    #[error("the current password is incorrect")]
    WrongPassword,
    #[error("the new password must differ from the current one")]
    SamePassword,
    #[error("this link or code is invalid, expired or already used")]
    BadToken,
    #[error("email is not verified")]
    NotVerified,
    #[error("no such user")]
    UserNotFound,
    #[error("this email address is already in use")]
    EmailTaken,
    #[error("this enrollment number is already in use")]
    EnrollmentTaken,
    #[error("too many requests")]
    RateLimited(Limited),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("email: {0}")]
    Email(#[from] EmailError),
    #[error("password hashing: {0}")]
    Hash(String),
    /// A failure shared out of the cache's single-flight load.
    #[error("{0}")]
    Internal(String),
}

impl From<Invalid> for AccountError {
    fn from(e: Invalid) -> Self {
        AccountError::Invalid(e)
    }
}

impl From<InvalidChoice> for AccountError {
    fn from(e: InvalidChoice) -> Self {
        AccountError::InvalidChoice(e)
    }
}

impl From<Limited> for AccountError {
    fn from(e: Limited) -> Self {
        AccountError::RateLimited(e)
    }
}

fn argon2(cost: HashCost) -> Result<Argon2<'static>, AccountError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password on the blocking pool: argon2 is deliberately slow and would stall the
/// async workers.
pub async fn hash_password(password: &str, cost: HashCost) -> Result<String, AccountError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let hasher = argon2(cost)?;
        hasher
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| AccountError::Hash(e.to_string()))?
}

/// Verifies a password against a stored PHC string (whose own parameters are used). An
/// unreadable hash counts as a mismatch.
pub async fn verify_password(password: &str, hash: &str) -> Result<bool, AccountError> {
    let password = password.to_owned();
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        let hasher = argon2(HashCost::default())?;
        Ok(PasswordVerifier::<str>::verify_password(&hasher, password.as_bytes(), &hash).is_ok())
    })
    .await
    .map_err(|e| AccountError::Hash(e.to_string()))?
}

/// A fresh secret token: 32 bytes of OS randomness, hex-encoded (URL- and cookie-safe).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    to_hex(&bytes)
}

/// The stored form of a token: HMAC-SHA256 keyed with APP_SECRET, hex. Keyed so that the
/// table alone (a backup, a leak) does not let anyone test guesses offline.
pub fn token_hash(secret: &str, token: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(token.as_bytes());
    to_hex(&mac.finalize().into_bytes())
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Creates an account directly (the `oes admin create` command, seeds and tests): the only way
/// to make an admin. Hashes with the default (production) cost.
pub async fn create_user(
    db: &Db,
    email: &str,
    full_name: &str,
    password: &str,
    role: Role,
    verified: bool,
) -> Result<UserId, AccountError> {
    let email = Email::parse(email)?;
    let full_name = check_full_name(full_name)?;
    check_new_password(password, "password")?;
    let hash = hash_password(password, HashCost::default()).await?;
    let id = UserId::new();
    let mut conn = db.pool().acquire().await?;
    if !users::insert(
        &mut conn,
        id,
        email.as_str(),
        &full_name,
        &hash,
        role,
        verified,
    )
    .await?
    {
        return Err(AccountError::EmailTaken);
    }
    Ok(id)
}

/// The user behind a session token, if the session is live.
pub async fn authenticate(
    db: &Db,
    secret: &str,
    token: &str,
) -> Result<Option<sessions::SessionUser>, AccountError> {
    if token.is_empty() || token.len() > 256 {
        return Ok(None);
    }
    Ok(sessions::find_live(db, &token_hash(secret, token)).await?)
}

/// Starts a session for a user; returns the token to hand to the client.
pub async fn start_session(
    conn: &mut sqlx::AnyConnection,
    secret: &str,
    ttl: Duration,
    user_id: UserId,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(SessionId, String), AccountError> {
    let token = new_token();
    let hash = token_hash(secret, &token);
    let id = SessionId::new();
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
    sessions::insert(
        conn,
        &sessions::NewSession {
            id,
            user_id,
            token_hash: &hash,
            expires_at: now_ms().saturating_add(ttl_ms),
            ip,
            user_agent,
        },
    )
    .await?;
    Ok((id, token))
}

/// Who is asking: for rate limits and the "password changed" notice.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

impl Client {
    fn ip_key(&self) -> String {
        self.ip
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".to_owned())
    }
}

/// The rate-limited actions; each has its own counters.
#[derive(Debug, Clone, Copy)]
enum Action {
    Login,
    Signup,
    Resend,
    Forgot,
    Reset,
    ChangeEmail,
    ChangePassword,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Signup => "signup",
            Action::Resend => "resend",
            Action::Forgot => "forgot",
            Action::Reset => "reset",
            Action::ChangeEmail => "change-email",
            Action::ChangePassword => "change-password",
        }
    }
}

/// Counts a request against the client address and, when given, the account.
async fn limit(
    state: &AppState,
    action: Action,
    client: &Client,
    account: Option<&str>,
) -> Result<(), AccountError> {
    let cfg = &state.config.accounts;
    let window = cfg.rate_limit_window;
    state
        .rate_limiter
        .hit(
            &format!("{}:ip:{}", action.name(), client.ip_key()),
            cfg.rate_limit_per_ip,
            window,
        )
        .await?;
    if let Some(account) = account {
        state
            .rate_limiter
            .hit(
                &format!("{}:acct:{account}", action.name()),
                cfg.rate_limit_per_account,
                window,
            )
            .await?;
    }
    Ok(())
}

fn secret(state: &AppState) -> &str {
    state.config.secret.expose()
}

fn link(state: &AppState, page: &str, token: &str) -> String {
    let mut url = state.config.app_base_url.clone();
    url.set_path(page);
    url.set_query(Some(&format!("token={token}")));
    url.to_string()
}

fn expires_in(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2))
}

/// A reset code's stored form: keyed with the user id too, so two users' equal codes do not
/// collide in the unique index.
fn reset_code_hash(secret: &str, user_id: UserId, code: &str) -> String {
    token_hash(secret, &format!("reset:{user_id}:{code}"))
}

/// A six-digit code from the OS CSPRNG.
fn new_reset_code() -> String {
    use rand::Rng;
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// Writes a fresh verification link for a user (voiding older ones) to the outbox.
async fn queue_verification(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    user_id: UserId,
    email: &str,
    name: &str,
) -> Result<QueuedEmail, AccountError> {
    tokens::void_all(conn, user_id, Purpose::VerifyEmail).await?;
    let token = new_token();
    tokens::insert(
        conn,
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
    Ok(state
        .emails
        .send_queued(conn, email, &message, &SendOptions::default())
        .await?)
}

pub struct SignupInput<'a> {
    pub full_name: &'a str,
    pub email: &'a str,
    pub password: &'a str,
}

/// Registers a user and emails a verification link. An email already registered gets the same
/// answer; its owner is sent a new link if still unverified, nothing otherwise.
pub async fn signup(
    state: &AppState,
    client: &Client,
    input: SignupInput<'_>,
) -> Result<(), AccountError> {
    let full_name = check_full_name(input.full_name)?;
    let email = Email::parse(input.email)?;
    check_new_password(input.password, "password")?;
    limit(state, Action::Signup, client, Some(email.as_str())).await?;
    // Hashed whether or not the email is free, so timing does not tell either.
    let hash = hash_password(input.password, state.config.accounts.hash).await?;
    let mut tx = state.db.pool().begin().await?;
    let id = UserId::new();
    let queued = if users::insert(
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
        Some(queue_verification(state, &mut tx, id, email.as_str(), &full_name).await?)
    } else {
        match users::find_by_email(&mut tx, email.as_str()).await? {
            Some(existing) if !existing.email_verified => Some(
                queue_verification(
                    state,
                    &mut tx,
                    existing.id,
                    &existing.email,
                    &existing.full_name,
                )
                .await?,
            ),
            _ => None,
        }
    };
    tx.commit().await?;
    state.emails.dispatch(queued).await;
    Ok(())
}

/// A successful login: the session token (for the cookie, and for Bearer clients) and the user.
#[derive(Debug)]
pub struct LoggedIn {
    pub token: String,
    pub user: users::UserRow,
}

pub async fn login(
    state: &AppState,
    client: &Client,
    email: &str,
    password: &str,
) -> Result<LoggedIn, AccountError> {
    let cfg = &state.config.accounts;
    let email = Email::parse(email).map_err(|_| AccountError::BadCredentials)?;
    let failures_key = format!("login-fail:{email}");
    limit(state, Action::Login, client, None).await?;
    // Brute-force lockout: too many failures on this account refuse even the right password
    // until the window ends.
    state
        .rate_limiter
        .check(&failures_key, cfg.rate_limit_per_account)
        .await?;
    let mut conn = state.db.pool().acquire().await?;
    let user = users::find_by_email(&mut conn, email.as_str()).await?;
    drop(conn);
    let ok = match &user {
        Some(user) => verify_password(password, &user.password_hash).await?,
        None => {
            // Hashing costs what verifying costs: an unknown email answers no faster.
            hash_password(password, cfg.hash).await?;
            false
        }
    };
    let user = match (ok, user) {
        (true, Some(user)) => user,
        _ => {
            // Counted even when this very failure crosses the limit; the next try is refused.
            let _ = state
                .rate_limiter
                .hit(
                    &failures_key,
                    cfg.rate_limit_per_account,
                    cfg.rate_limit_window,
                )
                .await;
            return Err(AccountError::BadCredentials);
        }
    };
    state.rate_limiter.reset(&failures_key).await;
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
    Ok(LoggedIn { token, user })
}

/// Ends the session of this token, if live.
pub async fn logout(state: &AppState, token: &str) -> Result<(), AccountError> {
    sessions::revoke_by_hash(&state.db, &token_hash(secret(state), token)).await?;
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
    let mut tx = state.db.pool().begin().await?;
    let row = tokens::find_usable_by_hash(&mut tx, Purpose::VerifyEmail, &hash, i64::MAX)
        .await?
        .ok_or(AccountError::BadToken)?;
    if !tokens::mark_used(&mut tx, &row.id).await? {
        return Err(AccountError::BadToken);
    }
    let changed = users::mark_verified(&mut tx, row.user_id).await?;
    tx.commit().await?;
    invalidate_profile(state, row.user_id).await;
    Ok(if changed {
        Verified::Now
    } else {
        Verified::Already
    })
}

/// Sends a new verification link when the address belongs to an unverified account; answers the
/// same in every case.
pub async fn resend_verification(
    state: &AppState,
    client: &Client,
    email: &str,
) -> Result<(), AccountError> {
    let email = Email::parse(email)?;
    limit(state, Action::Resend, client, Some(email.as_str())).await?;
    let mut tx = state.db.pool().begin().await?;
    let queued = match users::find_by_email(&mut tx, email.as_str()).await? {
        Some(user) if !user.email_verified => {
            Some(queue_verification(state, &mut tx, user.id, &user.email, &user.full_name).await?)
        }
        _ => None,
    };
    tx.commit().await?;
    state.emails.dispatch(queued).await;
    Ok(())
}

/// Emails a reset code when the address is registered; answers the same in every case.
pub async fn forgot_password(
    state: &AppState,
    client: &Client,
    email: &str,
) -> Result<(), AccountError> {
    let email = Email::parse(email)?;
    limit(state, Action::Forgot, client, Some(email.as_str())).await?;
    let mut tx = state.db.pool().begin().await?;
    let queued = match users::find_by_email(&mut tx, email.as_str()).await? {
        Some(user) => {
            tokens::void_all(&mut tx, user.id, Purpose::ResetPassword).await?;
            let code = new_reset_code();
            tokens::insert(
                &mut tx,
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
            Some(
                state
                    .emails
                    .send_queued(&mut tx, &user.email, &message, &SendOptions::default())
                    .await?,
            )
        }
        None => None,
    };
    tx.commit().await?;
    state.emails.dispatch(queued).await;
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
    check_new_password(input.new_password, "newPassword")?;
    limit(state, Action::Reset, client, Some(email.as_str())).await?;
    let mut tx = state.db.pool().begin().await?;
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
    if !tokens::mark_used(&mut tx, &row.id).await? {
        return Err(AccountError::BadToken);
    }
    let hash = hash_password(input.new_password, state.config.accounts.hash).await?;
    users::set_password(&mut tx, user.id, &hash).await?;
    sessions::revoke_all_for_user(&mut tx, user.id, None).await?;
    let notice = password_changed_notice(client, &user.full_name);
    let queued = state
        .emails
        .send_queued(&mut tx, &user.email, &notice, &SendOptions::default())
        .await?;
    tx.commit().await?;
    state.emails.dispatch([queued]).await;
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
    check_new_password(new, "newPassword")?;
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
    if !verify_password(current, &user.password_hash).await? {
        return Err(AccountError::WrongPassword);
    }
    let hash = hash_password(new, state.config.accounts.hash).await?;
    let mut tx = state.db.pool().begin().await?;
    users::set_password(&mut tx, user_id, &hash).await?;
    sessions::revoke_all_for_user(&mut tx, user_id, Some(session_id)).await?;
    let notice = password_changed_notice(client, &user.full_name);
    let queued = state
        .emails
        .send_queued(&mut tx, &user.email, &notice, &SendOptions::default())
        .await?;
    tx.commit().await?;
    state.emails.dispatch([queued]).await;
    Ok(())
}

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
    let key = oes_cache::keys::user_profile(user_id);
    match state
        .cache
        .get_or_set(&key, oes_cache::keys::ttl::PROFILE, || {
            load_profile(state, user_id)
        })
        .await
    {
        Ok(view) => Ok(view),
        Err(shared) => Err(match &*shared {
            AccountError::UserNotFound => AccountError::UserNotFound,
            other => AccountError::Internal(format!("profile load: {other}")),
        }),
    }
}

async fn invalidate_profile(state: &AppState, user_id: UserId) {
    if let Err(e) = state
        .cache
        .delete(&oes_cache::keys::user_profile(user_id))
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
    let mut tx = state.db.pool().begin().await?;
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
    if !verify_password(password, &user.password_hash).await? {
        return Err(AccountError::WrongPassword);
    }
    if new_email.as_str() == user.email.to_lowercase() {
        return Err(AccountError::Invalid(Invalid {
            field: "newEmail",
            message: "the new email address is the current one".to_owned(),
        }));
    }
    let mut tx = state.db.pool().begin().await?;
    let mut queued = Vec::new();
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
        queued.push(
            state
                .emails
                .send_queued(
                    &mut tx,
                    new_email.as_str(),
                    &confirm,
                    &SendOptions::default(),
                )
                .await?,
        );
    }
    let notice = EmailMessage::EmailChangeNotice {
        name: user.full_name.clone(),
        new_email: new_email.to_string(),
    };
    queued.push(
        state
            .emails
            .send_queued(&mut tx, &user.email, &notice, &SendOptions::default())
            .await?,
    );
    tx.commit().await?;
    state.emails.dispatch(queued).await;
    Ok(())
}

/// Applies a confirmed email change and ends every session of the account (sign in again with
/// the new address).
pub async fn confirm_email_change(state: &AppState, token: &str) -> Result<(), AccountError> {
    let hash = token_hash(secret(state), token);
    let mut tx = state.db.pool().begin().await?;
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
    sessions::revoke_all_for_user(&mut tx, row.user_id, None).await?;
    tx.commit().await?;
    invalidate_profile(state, row.user_id).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<AccountsConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let base = Url::parse("https://exams.example.org/app/").expect("url");
        AccountsConfig::from_lookup(&|k| map.get(k).cloned(), &base, AppEnv::Development)
    }

    #[test]
    fn allowed_origins_are_exact_origins_and_include_the_base_url() {
        let c = config(&[(
            "ALLOWED_ORIGINS",
            "https://admin.example.org/, http://localhost:5173/path",
        )])
        .expect("valid");
        assert_eq!(
            c.allowed_origins,
            [
                "https://exams.example.org",
                "https://admin.example.org",
                "http://localhost:5173"
            ]
        );
        let e = config(&[("ALLOWED_ORIGINS", "example.org")]).expect_err("not an origin");
        assert_eq!(e.var, "ALLOWED_ORIGINS");
    }

    #[test]
    fn cost_and_limits_are_configurable_and_checked() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.hash, HashCost::default());
        assert!(!c.trust_proxy_headers);
        assert!(!c.secure_cookie);
        let c = config(&[
            ("PASSWORD_HASH_MEMORY_KIB", "64"),
            ("RATE_LIMIT_PER_IP", "2"),
        ])
        .expect("valid");
        assert_eq!(c.hash.memory_kib, 64);
        assert_eq!(c.rate_limit_per_ip, 2);
        for (var, value) in [
            ("PASSWORD_HASH_MEMORY_KIB", "4"),
            ("RATE_LIMIT_PER_ACCOUNT", "0"),
            ("TRUST_PROXY_HEADERS", "maybe"),
        ] {
            assert_eq!(config(&[(var, value)]).expect_err(var).var, var);
        }
    }

    #[test]
    fn token_hashes_depend_on_the_secret_and_tokens_are_fresh() {
        let token = new_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, new_token());
        assert_eq!(token_hash("a", &token), token_hash("a", &token));
        assert_ne!(token_hash("a", &token), token_hash("b", &token));
        assert_ne!(token_hash("a", &token), token);
    }

    #[test]
    fn reset_codes_are_six_digits_and_keyed_per_user() {
        let code = new_reset_code();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let (a, b) = (UserId::new(), UserId::new());
        assert_ne!(
            reset_code_hash("s", a, "123456"),
            reset_code_hash("s", b, "123456")
        );
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let cost = HashCost {
            memory_kib: 64,
            iterations: 1,
        };
        let hash = hash_password("letters4ever", cost).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("letters4ever", &hash)
                .await
                .expect("verify")
        );
        assert!(
            !verify_password("letters5ever", &hash)
                .await
                .expect("verify")
        );
        assert!(
            !verify_password("letters4ever", "garbage")
                .await
                .expect("verify")
        );
    }
}
