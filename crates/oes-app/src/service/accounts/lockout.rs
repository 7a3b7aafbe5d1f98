//! How often a password may be tried for an account, and by whom.
//!
//! The limits must stop guessing without letting a guesser lock the owner out, and must let a
//! campus behind one address (a NAT or proxy) sign in its hundreds of students within minutes:
//! - each address may fail `rate_limit_per_account` times per account (an attacker elsewhere
//!   uses up only their own address's share);
//! - all addresses together may fail `rate_limit_account_ceiling` times per account (a guesser
//!   with many addresses is stopped there);
//! - each address may fail `login_failures_per_ip` times across all accounts (one address
//!   sweeping many accounts); successful logins are not counted at all;
//! - a device that signed in to the account before (it holds a device cookie bound to the
//!   account) is held only by its own count of `rate_limit_per_account` failures, so neither
//!   the ceiling nor its address's count can keep the owner out.
//!
//! Every try takes its places before the password is checked, so concurrent guesses cannot all
//! pass a check made before any of them failed.

use super::*;

/// The device cookie's name and lifetime. Sent only to the login route.
pub const DEVICE_COOKIE: &str = "oesDevice";
pub const DEVICE_COOKIE_PATH: &str = "/api/auth/login";
pub const DEVICE_COOKIE_MAX_AGE: Duration = Duration::from_secs(180 * 24 * 3600);

/// A device token: a random nonce and an HMAC binding it to one account's address, so the
/// server checks it without storing anything; a device token of one account is worthless for
/// another.
pub fn new_device_token(secret: &str, email: &Email) -> String {
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    let nonce = to_hex(&nonce);
    let mac = device_mac(secret, email, &nonce);
    format!("{nonce}.{mac}")
}

fn device_mac(secret: &str, email: &Email, nonce: &str) -> String {
    token_hash(secret, &format!("device:{email}:{nonce}"))
}

/// The nonce of `token` when it was issued for `email`.
fn device_nonce<'a>(secret: &str, email: &Email, token: &'a str) -> Option<&'a str> {
    let (nonce, mac) = token.split_once('.')?;
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let expected = device_mac(secret, email, nonce);
    bool::from(expected.as_bytes().ct_eq(mac.as_bytes())).then_some(nonce)
}

/// The places one login try holds; settle it with what the password check found.
#[must_use]
pub(super) struct LoginTry {
    /// The count a success clears: this address's or this device's failures on the account.
    own: String,
    /// Counts a success gives back without clearing (the ceiling, the address's failures).
    shared: Vec<String>,
    /// The device token presented, when it is this account's.
    pub device: Option<String>,
}

/// Takes this try's places, or refuses it with the delay until the fullest window ends.
pub(super) async fn reserve(
    state: &AppState,
    client: &Client,
    email: &Email,
    device: Option<&str>,
) -> Result<LoginTry, AccountError> {
    let cfg = &state.config.accounts;
    let secret = secret(state);
    let trusted = device.and_then(|token| device_nonce(secret, email, token).map(|n| (n, token)));
    let (counts, device) = match trusted {
        Some((nonce, token)) => (
            vec![(
                format!("login-fail:{email}:dev:{nonce}"),
                cfg.rate_limit_per_account,
            )],
            Some(token.to_owned()),
        ),
        None => {
            let ip = client.ip_key();
            (
                vec![
                    (
                        format!("login-fail:{email}:ip:{ip}"),
                        cfg.rate_limit_per_account,
                    ),
                    (
                        format!("login-fail:{email}"),
                        cfg.rate_limit_account_ceiling,
                    ),
                    (format!("login-fail-ip:{ip}"), cfg.login_failures_per_ip),
                ],
                None,
            )
        }
    };
    let hits: Vec<(&str, u64)> = counts.iter().map(|(k, max)| (k.as_str(), *max)).collect();
    state
        .rate_limiter
        .hit_all(&hits, cfg.rate_limit_window)
        .await?;
    let mut keys = counts.into_iter().map(|(key, _)| key);
    Ok(LoginTry {
        own: keys.next().unwrap_or_default(),
        shared: keys.collect(),
        device,
    })
}

impl LoginTry {
    /// The password was wrong: the places stay taken.
    pub(super) fn failed(self) {}

    /// The password was never checked (hashing busy, database down): not a failure.
    pub(super) async fn not_evaluated(self, state: &AppState) {
        state.rate_limiter.undo(&self.own).await;
        for key in &self.shared {
            state.rate_limiter.undo(key).await;
        }
    }

    /// The password was right: this address's (or device's) failures are forgotten, and the
    /// try gives back its places in the shared counts (others' failures stay counted there).
    pub(super) async fn succeeded(self, state: &AppState) {
        state.rate_limiter.reset(&self.own).await;
        for key in &self.shared {
            state.rate_limiter.undo(key).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_token_opens_only_the_account_it_was_issued_for() {
        let alice = Email::parse("alice@example.org").expect("email");
        let bob = Email::parse("bob@example.org").expect("email");
        let token = new_device_token("secret", &alice);
        assert!(device_nonce("secret", &alice, &token).is_some());
        assert!(device_nonce("secret", &bob, &token).is_none());
        assert!(device_nonce("other secret", &alice, &token).is_none());
        let (nonce, _) = token.split_once('.').expect("two parts");
        for forged in [
            format!("{nonce}.{}", "0".repeat(64)),
            nonce.to_owned(),
            String::new(),
            format!("{}.{}", "zz".repeat(16), device_mac("secret", &alice, "zz")),
        ] {
            assert!(
                device_nonce("secret", &alice, &forged).is_none(),
                "{forged}"
            );
        }
        assert_ne!(token, new_device_token("secret", &alice), "fresh nonces");
    }
}
