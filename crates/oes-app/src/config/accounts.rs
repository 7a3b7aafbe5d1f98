//! Accounts and their security: password hashing cost, sessions, CSRF origins, proxy headers,
//! rate limits and the lifetimes of emailed links and codes. `service::accounts` re-exports
//! these types and enforces them.

use std::time::Duration;

use url::Url;

use super::{AppEnv, ConfigError};
use crate::domain::accounts::{RESET_CODE_MINUTES, VERIFY_LINK_HOURS};

/// The accounts area's settings, read with the rest of [`crate::Config`].
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub hash: HashCost,
    /// Password hashes computed at once (each holds `hash.memory_kib` of memory while it runs).
    pub hash_concurrency: usize,
    /// Password hashes that may wait for a free slot; past that the request answers 503.
    pub hash_queue: usize,
    pub session_ttl: Duration,
    /// Origins allowed to make cookie-authenticated writes: APP_BASE_URL's plus ALLOWED_ORIGINS.
    pub allowed_origins: Vec<String>,
    /// Read the client address from X-Forwarded-For (only behind a proxy that sets it).
    pub trust_proxy_headers: bool,
    /// `Secure` on the session cookie: in production, and wherever the app is served over https
    /// (a staging or development deployment on https must not leak the session over plain http).
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

/// Queue places per hashing slot by default. A waiter costs only its request's memory, not an
/// argon2 block, and at the default cost (tens of milliseconds a hash) the last of 64 waits a few
/// seconds: a room of students signing in at once is served, while a flood past it is refused
/// at once instead of piling up.
pub const HASH_QUEUE_PER_SLOT: usize = 64;

impl AccountsConfig {
    /// Reads PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_ITERATIONS, PASSWORD_HASH_CONCURRENCY
    /// (default: the number of cores), PASSWORD_HASH_QUEUE (default: 64 per slot), SESSION_TTL_HOURS,
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
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let hash_concurrency = num(get, "PASSWORD_HASH_CONCURRENCY", cores, 1)?;
        let hash_queue = num(
            get,
            "PASSWORD_HASH_QUEUE",
            hash_concurrency.saturating_mul(HASH_QUEUE_PER_SLOT),
            0,
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
            hash_concurrency,
            hash_queue,
            session_ttl: Duration::from_secs(session_hours * 3600),
            allowed_origins,
            trust_proxy_headers,
            secure_cookie: env == AppEnv::Production || app_base_url.scheme() == "https",
            rate_limit_window: Duration::from_secs(num(get, "RATE_LIMIT_WINDOW_SECS", 900, 1)?),
            rate_limit_per_ip: num(get, "RATE_LIMIT_PER_IP", 30, 1)?,
            rate_limit_per_account: num(get, "RATE_LIMIT_PER_ACCOUNT", 5, 1)?,
            verify_link_ttl: Duration::from_secs(u64::from(VERIFY_LINK_HOURS) * 3600),
            reset_code_ttl: Duration::from_secs(u64::from(RESET_CODE_MINUTES) * 60),
            email_change_ttl: Duration::from_secs(u64::from(VERIFY_LINK_HOURS) * 3600),
        })
    }
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
        assert!(c.hash_concurrency >= 1);
        assert_eq!(c.hash_queue, c.hash_concurrency * HASH_QUEUE_PER_SLOT);
        assert!(!c.trust_proxy_headers);
        let c = config(&[
            ("PASSWORD_HASH_MEMORY_KIB", "64"),
            ("RATE_LIMIT_PER_IP", "2"),
            ("PASSWORD_HASH_CONCURRENCY", "3"),
        ])
        .expect("valid");
        assert_eq!(c.hash.memory_kib, 64);
        assert_eq!(c.rate_limit_per_ip, 2);
        assert_eq!(
            (c.hash_concurrency, c.hash_queue),
            (3, 3 * HASH_QUEUE_PER_SLOT)
        );
        let c = config(&[("PASSWORD_HASH_QUEUE", "0")]).expect("no queue is valid");
        assert_eq!(c.hash_queue, 0);
        for (var, value) in [
            ("PASSWORD_HASH_MEMORY_KIB", "4"),
            ("RATE_LIMIT_PER_ACCOUNT", "0"),
            ("PASSWORD_HASH_CONCURRENCY", "0"),
            ("PASSWORD_HASH_QUEUE", "-1"),
            ("TRUST_PROXY_HEADERS", "maybe"),
        ] {
            assert_eq!(config(&[(var, value)]).expect_err(var).var, var);
        }
    }
}
