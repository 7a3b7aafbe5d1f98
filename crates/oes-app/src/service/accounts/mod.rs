//! Accounts: sign-up, sessions, verification, password reset and change, profile, email change.
//!
//! Secrets are handled in three forms:
//! - passwords: argon2id (cost from [`AccountsConfig`]), hashed and verified on the blocking pool
//!   through the app's [`BlockingGate`], so a flood of logins is answered `Busy` instead of
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

mod lockout;
mod passwords;
mod profile;
mod registration;

pub use lockout::{DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, DEVICE_COOKIE_PATH};
pub use passwords::*;
pub use profile::*;
pub use registration::*;

use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
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

/// The most working memory a stored hash may ask of a verification (1 GiB): a hash imported
/// or tampered with must not make one login allocate without bound.
const MAX_VERIFY_MEMORY_KIB: u32 = 1024 * 1024;

thread_local! {
    /// argon2's working memory (19 MiB at the default cost), kept by each thread that hashes
    /// and reused by its next hash. Allocating and freeing it per hash left glibc holding
    /// freed blocks it could not reuse: a 1,000-login storm on two hashing threads grew the
    /// process by some 250 MB that never came back. Reused, the cost is one block per
    /// hashing thread, whatever the storm. Every pass of argon2 writes each block before it
    /// reads it, so what a previous hash left in the memory does not matter.
    static WORKING_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Allocations of this size and more get a mapping of their own from glibc (its largest
/// mmap threshold is 32 MiB on 64-bit systems), which goes back to the system when freed;
/// smaller ones may stay in the allocator's heap after they are freed.
const OWN_MAPPING_BYTES: usize = 32 << 20;

/// Runs argon2 with this thread's working memory, grown to the size `params` need.
fn with_working_memory<T>(params: &Params, hash: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    WORKING_MEMORY.with_borrow_mut(|memory| {
        let blocks = params.block_count();
        if memory.len() < blocks {
            // Reserved past the mapping size so that [`release_working_memory`] gives it back
            // to the system; only the blocks argon2 uses are ever written, so the rest of the
            // reservation costs address space, not memory.
            let reserve = blocks.max(OWN_MAPPING_BYTES / argon2::Block::SIZE + 1);
            let mut fresh = Vec::with_capacity(reserve);
            fresh.resize(blocks, argon2::Block::default());
            *memory = fresh;
        }
        hash(&mut memory[..blocks])
    })
}

/// Lets go of this thread's argon2 working memory: the hashing gate's threads call it when they
/// have been idle for [`HASH_MEMORY_IDLE`], so a server goes back near its baseline after a
/// storm of logins, and keeps the memory while logins keep coming.
pub fn release_working_memory() {
    WORKING_MEMORY.with_borrow_mut(|memory| *memory = Vec::new());
}

/// How long a hashing thread keeps its working memory without work.
pub const HASH_MEMORY_IDLE: Duration = Duration::from_secs(10);

fn hash_err(e: impl std::fmt::Display) -> AccountError {
    AccountError::Hash(e.to_string())
}

/// A PHC string (`$argon2id$v=19$m=…,t=…,p=1$salt$hash`) for `password` at `cost`.
fn hash_now(password: &str, cost: HashCost) -> Result<String, AccountError> {
    use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(hash_err)?;
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_working_memory(&params, |memory| {
        hasher.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .map_err(hash_err)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(hash_err)?,
        salt: Some(Salt::new(&salt).map_err(hash_err)?),
        hash: Some(Output::new(&out).map_err(hash_err)?),
    };
    Ok(phc.to_string())
}

/// The most work a stored bcrypt hash may ask of a verification: each step doubles it, and 14
/// is 16 times the Node system's 10. A higher cost is a mismatch, not a login that holds a
/// hashing slot for minutes.
const MAX_BCRYPT_COST: u32 = 14;

/// Whether a stored hash is bcrypt (`$2a$`, `$2b$`, `$2y$`): what the Node system stored and
/// `oes import node` keeps, so that nobody has to reset a password; the first successful login
/// replaces it with argon2id.
pub fn is_bcrypt_hash(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

/// bcrypt's own comparison (constant time). Like the Node system's bcryptjs it reads only the
/// first 72 bytes of the password, so a password Node accepted verifies here as it did there.
fn verify_bcrypt(password: &str, stored: &str) -> bool {
    match stored.parse::<bcrypt::HashParts>() {
        Ok(parts) if parts.get_cost() <= MAX_BCRYPT_COST => {
            bcrypt::verify(password, stored).unwrap_or(false)
        }
        _ => false,
    }
}

/// Whether `password` gives the stored hash: a PHC string's, with the string's own parameters,
/// or a bcrypt hash imported from the Node system. An unreadable hash (or one that asks for more
/// than [`MAX_VERIFY_MEMORY_KIB`] or [`MAX_BCRYPT_COST`]) counts as a mismatch.
fn verify_now(password: &str, stored: &str) -> Result<bool, AccountError> {
    use argon2::password_hash::phc::PasswordHash;
    if is_bcrypt_hash(stored) {
        return Ok(verify_bcrypt(password, stored));
    }
    let Ok(phc) = PasswordHash::new(stored) else {
        return Ok(false);
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(phc.algorithm.as_str()),
        Params::try_from(&phc),
        phc.salt.as_ref(),
        phc.hash.as_ref(),
    ) else {
        return Ok(false);
    };
    let version = match phc.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return Ok(false),
    };
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB {
        return Ok(false);
    }
    let mut out = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params.clone());
    let computed = with_working_memory(&params, |memory| {
        hasher.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, memory)
    });
    Ok(computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes())))
}

impl From<GateError> for AccountError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::Busy(busy) => AccountError::Busy(busy),
            GateError::Failed(cause) => AccountError::Hash(cause),
        }
    }
}

/// Hashes a password on the blocking pool (argon2 is deliberately slow and would stall the
/// async workers), waiting for a slot of `gate`.
pub async fn hash_password(
    gate: &BlockingGate,
    password: &str,
    cost: HashCost,
) -> Result<String, AccountError> {
    let password = password.to_owned();
    gate.run(move || hash_now(&password, cost)).await?
}

/// Verifies a password against a stored PHC string (whose own parameters are used), waiting
/// for a slot of `gate`. An unreadable hash counts as a mismatch.
pub async fn verify_password(
    gate: &BlockingGate,
    password: &str,
    hash: &str,
) -> Result<bool, AccountError> {
    let password = password.to_owned();
    let hash = hash.to_owned();
    gate.run(move || verify_now(&password, &hash)).await?
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

    #[test]
    fn hashes_match_the_crates_own_argon2id_both_ways_even_in_reused_memory() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let cost = HashCost {
            memory_kib: 256,
            iterations: 2,
        };
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None).expect("params");
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // Dirty the working memory with another password's hash first.
        let ours = hash_now("the first one 1", cost).expect("hash");
        let ours = [ours, hash_now("letters4ever", cost).expect("hash")];
        assert!(
            reference
                .verify_password(b"letters4ever", ours[1].as_str())
                .is_ok(),
            "the crate verifies ours: {}",
            ours[1]
        );
        let theirs = reference
            .hash_password(b"letters4ever")
            .expect("reference hash")
            .to_string();
        assert!(verify_now("letters4ever", &theirs).expect("verify"));
        assert!(!verify_now("letters5ever", &theirs).expect("verify"));
        assert!(!verify_now("the first one 1", &ours[1]).expect("verify"));
        // A smaller cost after a larger one reuses the front of the memory.
        let small = HashCost {
            memory_kib: 64,
            iterations: 1,
        };
        let hash = hash_now("letters4ever", small).expect("hash");
        assert!(verify_now("letters4ever", &hash).expect("verify"));
        assert!(
            reference
                .verify_password(b"letters4ever", hash.as_str())
                .is_ok()
        );
    }

    #[test]
    fn a_stored_hash_asking_for_huge_memory_is_a_mismatch_not_an_allocation() {
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$\
                    ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY";
        assert!(!verify_now("anything", huge).expect("verify"));
        assert!(!verify_now("anything", "$2b$10$bcryptbcryptbcryptbcrypt").expect("verify"));
    }

    #[test]
    fn bcrypt_hashes_from_the_node_system_verify_in_every_prefix_and_only_with_their_password() {
        // bcryptjs (the Node system's library) at its cost 10, password "Corr3ct-Horse-Battery!".
        let node = "$2b$10$OK9XOiv/.mdakEAl2lsMgOTmOUFhrBjUeyk8uKsgqcyxFlTp6Z.Rm";
        assert!(verify_now("Corr3ct-Horse-Battery!", node).expect("verify"));
        assert!(!verify_now("Corr3ct-Horse-Battery?", node).expect("verify"));
        let short = bcrypt::hash("abc123", 4).expect("hash");
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let hash = format!("{prefix}{}", &short[4..]);
            assert!(is_bcrypt_hash(&hash));
            assert!(verify_now("abc123", &hash).expect("verify"), "{hash}");
            assert!(!verify_now("abc124", &hash).expect("verify"), "{hash}");
        }
        assert!(!is_bcrypt_hash(
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"
        ));
    }

    #[test]
    fn a_bcrypt_hash_of_excessive_cost_is_a_mismatch_not_a_stall() {
        let cheap = bcrypt::hash("abc123", 4).expect("hash");
        let costly = format!("$2b$31${}", &cheap[7..]);
        assert!(!verify_now("abc123", &costly).expect("verify"));
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_own_hash() {
        let cost = HashCost {
            memory_kib: 64,
            iterations: 1,
        };
        let gate = BlockingGate::new(1, 0, Duration::from_secs(1));
        let hash = hash_password(&gate, "letters4ever", cost)
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        for (password, stored, matches) in [
            ("letters4ever", hash.as_str(), true),
            ("letters5ever", hash.as_str(), false),
            ("letters4ever", "garbage", false),
        ] {
            let verified = verify_password(&gate, password, stored)
                .await
                .expect("verify");
            assert_eq!(verified, matches, "{password} against {stored}");
        }
    }
}
