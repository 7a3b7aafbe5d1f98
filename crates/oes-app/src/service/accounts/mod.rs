//! Accounts: sign-up, sessions, verification, password reset and change, profile, email change.
//!
//! Secrets are handled in three forms:
//! - passwords: argon2id (cost from [`AccountsConfig`]), hashed and verified on the threads of
//!   the app's [`BlockingGate`], so a flood of logins is answered `Busy` instead of
//!   holding an argon2 block of memory per request; bcrypt hashes imported from the Node system
//!   verify on the same gate and are replaced by argon2id at the first successful login;
//! - session tokens, verification links, reset codes, email-change links: drawn from the OS
//!   CSPRNG, given to the user once, and stored only as HMAC-SHA256(APP_SECRET, token);
//! - reset codes are short, so they also carry a counter of wrong tries and are compared in
//!   constant time.
//!
//! Answers never tell whether an email is registered: signup, resend and forgot answer the same
//! whatever the address, and login has one generic failure. Resend and forgot also take the
//! same time: the request only records an [`AccountRequest`] in the outbox, and the email worker
//! looks the address up and sends the link or code ([`act_on_request`]).

mod hashing;
mod lockout;
mod passwords;
mod profile;
mod registration;
mod session_cache;

pub use hashing::*;
pub use lockout::{DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, DEVICE_COOKIE_PATH};
pub use passwords::*;
pub use profile::*;
pub use registration::*;
pub use session_cache::authenticate;
use session_cache::{forget_sessions, forget_sessions_of};

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use subtle::ConstantTimeEq;

use crate::db::{Db, now_ms};
use crate::domain::accounts::{
    Course, Department, Email, Invalid, InvalidChoice, PasswordPolicy, Profile, ProfileEnum, Role,
    Semester, Year, check_enrollment_number, check_full_name, check_new_password,
    check_not_personal,
};
use crate::domain::ids::{OutboxId, SessionId, UserId};
use crate::email::{AccountRequest, EmailError, EmailMessage};
use crate::rate_limit::{BlockingGate, GateError, Limited};
use crate::state::AppState;
use crate::store::tokens::{self, Purpose};
use crate::store::{profiles, sessions, users};
use crate::unit_of_work::UnitOfWork;

pub use crate::config::{AccountsConfig, HashCost, ProxyNet, forwarded_client};

/// Wrong tries a reset code survives; the next wrong try voids it.
pub const RESET_CODE_MAX_TRIES: i64 = 5;

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
    /// Every password-hashing slot is busy and the queue behind them is full.
    #[error("busy; try again shortly")]
    Busy(Limited),
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

impl From<GateError> for AccountError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::Busy(busy) => AccountError::Busy(busy),
            GateError::Failed(cause) => AccountError::Hash(cause),
        }
    }
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
/// to make an admin. Hashes with the default (production) cost, outside any request's gate:
/// its callers are operators, and the seeder bounds its own concurrency. The password follows
/// the deployment's `policy` like any other: an admin's is the last that should be weaker.
pub async fn create_user(
    db: &Db,
    policy: PasswordPolicy,
    email: &str,
    full_name: &str,
    password: &str,
    role: Role,
    verified: bool,
) -> Result<UserId, AccountError> {
    let email = Email::parse(email)?;
    let full_name = check_full_name(full_name)?;
    check_new_password(password, "password", policy, &[email.as_str(), &full_name])?;
    let owned = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_now(&owned, HashCost::default()))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))??;
    insert_account(db, &email, &full_name, &hash, role, verified).await
}

/// Stores a validated account; `EmailTaken` when the address is registered already.
async fn insert_account(
    db: &Db,
    email: &Email,
    full_name: &str,
    password_hash: &str,
    role: Role,
    verified: bool,
) -> Result<UserId, AccountError> {
    let id = UserId::new();
    let mut conn = db.pool().acquire().await?;
    if !users::insert(
        &mut conn,
        id,
        email.as_str(),
        full_name,
        password_hash,
        role,
        verified,
    )
    .await?
    {
        return Err(AccountError::EmailTaken);
    }
    Ok(id)
}

/// Creates a verified account that no password opens (the load generator's students: it starts
/// their sessions directly with [`start_session`]), skipping the cost of hashing.
pub async fn create_passwordless_user(
    db: &Db,
    email: &str,
    full_name: &str,
    role: Role,
) -> Result<UserId, AccountError> {
    let email = Email::parse(email)?;
    let full_name = check_full_name(full_name)?;
    // "!" is no PHC string, so every password check against it fails.
    insert_account(db, &email, &full_name, "!", role, true).await
}

/// Acts on an account request that [`forgot_password`] or [`resend_verification`] wrote to the
/// outbox: the email worker's half of them. The request is settled in the transaction that
/// writes the code or link and its email, so it is acted on once however often its job runs.
pub async fn act_on_request(
    state: &AppState,
    id: OutboxId,
    request: AccountRequest,
    address: &str,
) -> Result<(), AccountError> {
    let mut tx = state.begin().await?;
    if !tx.settle_request(id).await? {
        tx.rollback().await?;
        return Ok(());
    }
    match request {
        AccountRequest::PasswordReset => send_reset_code(state, &mut tx, address).await?,
        AccountRequest::Verification => resend_link(state, &mut tx, address).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// The id and role of the account with this email, if there is one.
pub async fn find_user_by_email(
    db: &Db,
    email: &str,
) -> Result<Option<(UserId, Role)>, AccountError> {
    let mut conn = db.pool().acquire().await?;
    Ok(users::find_by_email(&mut conn, email)
        .await?
        .map(|u| (u.id, u.role)))
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
            Action::Signup => "signup",
            Action::Resend => "resend",
            Action::Forgot => "forgot",
            Action::Reset => "reset",
            Action::ChangeEmail => "change-email",
            Action::ChangePassword => "change-password",
        }
    }
}

/// Counts a request against the client address and, when given, the account: from this
/// address, and from all addresses under the higher ceiling. An account's budget is per
/// address first so that requests from elsewhere cannot use up its owner's (five forgot-password
/// requests from an attacker must not refuse the student's own).
async fn limit(
    state: &AppState,
    action: Action,
    client: &Client,
    account: Option<&str>,
) -> Result<(), AccountError> {
    let cfg = &state.config.accounts;
    let name = action.name();
    let ip = client.ip_key();
    let address = format!("{name}:ip:{ip}");
    let mut hits = vec![(address.as_str(), cfg.rate_limit_per_ip)];
    let per_account = account.map(|account| {
        (
            format!("{name}:acct:{account}:ip:{ip}"),
            format!("{name}:acct:{account}"),
        )
    });
    if let Some((from_here, everywhere)) = &per_account {
        hits.push((from_here, cfg.rate_limit_per_account));
        hits.push((everywhere, cfg.rate_limit_account_ceiling));
    }
    state
        .rate_limiter
        .hit_all(&hits, cfg.rate_limit_window)
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
