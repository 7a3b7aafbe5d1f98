//! Accounts and their security: password hashing cost, sessions, allowed origins and cookies
//! (read by `origins`), proxy headers, rate limits and the lifetimes of emailed links and codes.
//! `service::accounts` re-exports these types and enforces them.

use std::net::IpAddr;
use std::time::Duration;

use super::ConfigError;
use super::origins::{CookiePolicy, Origins};
use crate::domain::accounts::{PasswordPolicy, RESET_CODE_MINUTES, VERIFY_LINK_HOURS};

/// The accounts area's settings, read with the rest of [`crate::Config`].
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// What a new password must be: PASSWORD_MIN_LENGTH characters at least (8 by default).
    pub password_policy: PasswordPolicy,
    pub hash: HashCost,
    /// Password hashes computed at once (each holds `hash.memory_kib` of memory while it runs).
    pub hash_concurrency: usize,
    /// Password hashes that may wait for a free slot; past that the request answers 503.
    pub hash_queue: usize,
    pub session_ttl: Duration,
    /// Origins allowed to call the API from a page (CORS) and to make cookie-authenticated
    /// writes (CSRF): APP_BASE_URL's, API_BASE_URL's and ALLOWED_ORIGINS (see `origins`).
    pub allowed_origins: Vec<String>,
    /// Domain, SameSite and Secure of every cookie the server sets.
    pub cookies: CookiePolicy,
    /// Read the client address from X-Forwarded-For, as far as `trusted_proxies` vouch for it.
    pub trust_proxy_headers: bool,
    /// The proxies whose X-Forwarded-For entries are believed: TRUSTED_PROXIES, loopback by
    /// default; empty when TRUST_PROXY_HEADERS is off.
    pub trusted_proxies: Vec<ProxyNet>,
    pub rate_limit_window: Duration,
    /// Requests per client address, per action, per window (signup, resend, forgot, reset;
    /// login counts failures instead, under `login_failures_per_ip`).
    pub rate_limit_per_ip: u64,
    /// Requests (failed logins, for login) per account from one client address, or from one
    /// device that signed in to the account before, per action, per window.
    pub rate_limit_per_account: u64,
    /// Requests (failed logins, for login) per account from all addresses together, per action,
    /// per window: what a guesser with many addresses gets. Devices that signed in to the
    /// account before are not held by it.
    pub rate_limit_account_ceiling: u64,
    /// Failed logins per client address, for all accounts together, per window. Successful
    /// logins are not counted: a campus behind one address signs in hundreds of students.
    pub login_failures_per_ip: u64,
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

/// A network of trusted proxies, like `10.0.0.0/8` or `fd00::/8`; a bare address is one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    pub fn parse(raw: &str) -> Option<ProxyNet> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr.trim(), Some(prefix.trim())),
            None => (raw.trim(), None),
        };
        let addr = addr.parse::<IpAddr>().ok()?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only: `+8` or ` 8` are typos, not prefixes.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
        };
        (prefix <= max).then_some(ProxyNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; they are the IPv4 address.
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies trusted when TRUST_PROXY_HEADERS is on and TRUSTED_PROXIES is not set: one on
/// the same host.
pub const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1/128";

/// The client behind `peer`. Each trusted proxy appends the address it received the request
/// from, so the header is read from the right: entries added by trusted proxies are skipped and
/// the first address a trusted proxy saw that is not itself a trusted proxy is the client.
/// Anything left of it was written by the client and is ignored. `forwarded` holds the
/// X-Forwarded-For values in the order received.
pub fn forwarded_client<'a>(
    peer: IpAddr,
    forwarded: impl IntoIterator<Item = &'a str>,
    trusted: &[ProxyNet],
) -> IpAddr {
    let trusts = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer.to_canonical();
    if !trusts(client) {
        return client;
    }
    let entries: Vec<&str> = forwarded
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter(|e| !e.trim().is_empty())
        .collect();
    for entry in entries.into_iter().rev() {
        match parse_forwarded(entry) {
            Some(ip) => {
                client = ip;
                if !trusts(ip) {
                    break;
                }
            }
            // Not an address: nothing to its left can be vouched for, and the nearest proxy
            // that wrote something readable stands for the client.
            None => break,
        }
    }
    client
}

/// One X-Forwarded-For entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

impl AccountsConfig {
    /// Reads PASSWORD_MIN_LENGTH (6 to 64), PASSWORD_HASH_MEMORY_KIB, PASSWORD_HASH_ITERATIONS, PASSWORD_HASH_CONCURRENCY
    /// (default: the number of cores), PASSWORD_HASH_QUEUE (default: 64 per slot), SESSION_TTL_HOURS,
    /// TRUST_PROXY_HEADERS, TRUSTED_PROXIES (comma-separated networks; only with
    /// TRUST_PROXY_HEADERS), RATE_LIMIT_WINDOW_SECS,
    /// RATE_LIMIT_PER_IP, RATE_LIMIT_PER_ACCOUNT, RATE_LIMIT_ACCOUNT_CEILING (at least the
    /// per-account limit) and LOGIN_FAILURES_PER_IP.
    /// The origins and cookies come read already (`Origins::from_lookup`), since reading them
    /// may also produce a start-up warning.
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        origins: Origins,
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
        let min_chars = num(
            get,
            "PASSWORD_MIN_LENGTH",
            PasswordPolicy::DEFAULT_MIN_CHARS,
            PasswordPolicy::LOWEST_MIN_CHARS,
        )?;
        let password_policy = PasswordPolicy::new(min_chars).ok_or_else(|| ConfigError {
            var: "PASSWORD_MIN_LENGTH",
            problem: format!(
                "expected {} to {} characters, got {min_chars}: a higher minimum would refuse \
                 the 64-character passwords everyone must be able to use",
                PasswordPolicy::LOWEST_MIN_CHARS,
                PasswordPolicy::HIGHEST_MIN_CHARS
            ),
        })?;
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
        let trusted_proxies = match (trust_proxy_headers, get("TRUSTED_PROXIES")) {
            (false, None) => Vec::new(),
            (false, Some(_)) => {
                // Set but unused would look like protection that is not there.
                return Err(ConfigError {
                    var: "TRUSTED_PROXIES",
                    problem: "is only read with TRUST_PROXY_HEADERS=true".to_owned(),
                });
            }
            (true, raw) => {
                let raw = raw.unwrap_or_else(|| DEFAULT_TRUSTED_PROXIES.to_owned());
                let mut nets = Vec::new();
                for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    nets.push(ProxyNet::parse(part).ok_or_else(|| ConfigError {
                        var: "TRUSTED_PROXIES",
                        problem: format!(
                            "`{part}` is not an address or network like 10.0.0.0/8 or fd00::/8"
                        ),
                    })?);
                }
                if nets.is_empty() {
                    return Err(ConfigError {
                        var: "TRUSTED_PROXIES",
                        problem: "lists no proxy; leave it unset for loopback".to_owned(),
                    });
                }
                nets
            }
        };
        let rate_limit_per_ip: u64 = num(get, "RATE_LIMIT_PER_IP", 200, 1)?;
        let rate_limit_per_account: u64 = num(get, "RATE_LIMIT_PER_ACCOUNT", 5, 1)?;
        // At least the per-address limit, so one address alone never meets the ceiling first.
        let rate_limit_account_ceiling = num(
            get,
            "RATE_LIMIT_ACCOUNT_CEILING",
            rate_limit_per_account.saturating_mul(4).max(20),
            rate_limit_per_account,
        )?;
        Ok(AccountsConfig {
            password_policy,
            hash: HashCost {
                memory_kib,
                iterations,
            },
            hash_concurrency,
            hash_queue,
            session_ttl: Duration::from_secs(session_hours * 3600),
            allowed_origins: origins.allowed,
            cookies: origins.cookies,
            trust_proxy_headers,
            trusted_proxies,
            rate_limit_window: Duration::from_secs(num(get, "RATE_LIMIT_WINDOW_SECS", 900, 1)?),
            rate_limit_per_ip,
            rate_limit_per_account,
            rate_limit_account_ceiling,
            login_failures_per_ip: num(get, "LOGIN_FAILURES_PER_IP", 300, 1)?,
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
        let get = |k: &str| map.get(k).cloned();
        let base = url::Url::parse("https://exams.example.org/app/").expect("url");
        let origins = Origins::from_lookup(&get, &base, crate::config::AppEnv::Development)?;
        AccountsConfig::from_lookup(&get, origins)
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
            ("LOGIN_FAILURES_PER_IP", "0"),
            ("PASSWORD_HASH_CONCURRENCY", "0"),
            ("PASSWORD_HASH_QUEUE", "-1"),
            ("TRUST_PROXY_HEADERS", "maybe"),
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
        ] {
            assert_eq!(config(&[(var, value)]).expect_err(var).var, var);
        }
    }

    #[test]
    fn the_password_minimum_defaults_to_eight_and_may_go_down_to_the_originals_six() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.password_policy, PasswordPolicy::default());
        assert_eq!(c.password_policy.min_chars, 8);
        let c = config(&[("PASSWORD_MIN_LENGTH", "6")]).expect("the original's minimum");
        assert_eq!(c.password_policy.min_chars, 6);
        let c = config(&[("PASSWORD_MIN_LENGTH", "64")]).expect("the highest minimum");
        assert_eq!(c.password_policy.min_chars, 64);
        for bad in ["5", "65", "eight", "-8"] {
            let e = config(&[("PASSWORD_MIN_LENGTH", bad)]).expect_err(bad);
            assert_eq!(e.var, "PASSWORD_MIN_LENGTH", "{bad}");
        }
    }

    #[test]
    fn the_account_ceiling_defaults_above_the_per_address_limit_and_never_below_it() {
        let c = config(&[]).expect("defaults");
        assert_eq!(
            (c.rate_limit_per_account, c.rate_limit_account_ceiling),
            (5, 20)
        );
        let c = config(&[("RATE_LIMIT_PER_ACCOUNT", "10")]).expect("valid");
        assert_eq!(c.rate_limit_account_ceiling, 40);
        let c = config(&[
            ("RATE_LIMIT_PER_ACCOUNT", "10"),
            ("RATE_LIMIT_ACCOUNT_CEILING", "10"),
        ])
        .expect("equal is valid");
        assert_eq!(c.rate_limit_account_ceiling, 10);
        let e = config(&[
            ("RATE_LIMIT_PER_ACCOUNT", "10"),
            ("RATE_LIMIT_ACCOUNT_CEILING", "9"),
        ])
        .expect_err("below the per-address limit");
        assert_eq!(e.var, "RATE_LIMIT_ACCOUNT_CEILING");
    }

    fn nets(list: &str) -> Vec<ProxyNet> {
        list.split(',')
            .map(|n| ProxyNet::parse(n).expect(n))
            .collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect(s)
    }

    #[test]
    fn trusted_proxies_default_to_loopback_and_are_checked() {
        let c = config(&[("TRUST_PROXY_HEADERS", "true")]).expect("defaults");
        assert_eq!(c.trusted_proxies, nets(DEFAULT_TRUSTED_PROXIES));
        let c = config(&[
            ("TRUST_PROXY_HEADERS", "true"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1, fd00::/8"),
        ])
        .expect("valid");
        assert_eq!(c.trusted_proxies.len(), 3);
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/",
            "10.0.0/8",
            "host",
            " , ",
        ] {
            let e = config(&[("TRUST_PROXY_HEADERS", "true"), ("TRUSTED_PROXIES", bad)])
                .expect_err(bad);
            assert_eq!(e.var, "TRUSTED_PROXIES", "{bad}");
        }
    }

    #[test]
    fn networks_contain_their_addresses_in_both_families() {
        let [ten, host, v6, all] = ["10.0.0.0/8", "192.0.2.1", "fd00::/8", "0.0.0.0/0"]
            .map(|n| ProxyNet::parse(n).expect(n));
        assert!(ten.contains(ip("10.255.0.1")));
        assert!(!ten.contains(ip("11.0.0.1")));
        assert!(ten.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped peer");
        assert!(host.contains(ip("192.0.2.1")) && !host.contains(ip("192.0.2.2")));
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(all.contains(ip("203.0.113.9")));
    }

    #[test]
    fn the_client_is_the_first_untrusted_address_from_the_right() {
        let trusted = nets("10.0.0.0/8,127.0.0.1/32");
        let peer = ip("10.0.0.2");
        // The client wrote 198.51.100.1 itself; the edge proxy appended what it saw.
        assert_eq!(
            forwarded_client(peer, ["198.51.100.1, 203.0.113.7, 10.0.0.1"], &trusted),
            ip("203.0.113.7"),
            "a spoofed leftmost entry is ignored"
        );
        assert_eq!(
            forwarded_client(peer, ["198.51.100.1", "203.0.113.7"], &trusted),
            ip("203.0.113.7"),
            "repeated headers read as one list"
        );
        assert_eq!(
            forwarded_client(peer, ["10.1.1.1, 127.0.0.1,10.0.0.9"], &trusted),
            ip("10.1.1.1"),
            "an all-trusted chain gives its leftmost entry"
        );
        assert_eq!(
            forwarded_client(ip("203.0.113.50"), ["198.51.100.1"], &trusted),
            ip("203.0.113.50"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            forwarded_client(peer, std::iter::empty(), &trusted),
            peer,
            "no header: the proxy itself"
        );
        assert_eq!(
            forwarded_client(peer, ["198.51.100.1, garbage, 10.0.0.1"], &trusted),
            ip("10.0.0.1"),
            "nothing left of an unreadable entry is believed"
        );
        assert_eq!(
            forwarded_client(peer, ["203.0.113.7:4711, [2001:db8::1]:80"], &trusted),
            ip("2001:db8::1"),
            "ports are dropped"
        );
        assert_eq!(
            forwarded_client(ip("::ffff:10.0.0.2"), ["203.0.113.7"], &trusted),
            ip("203.0.113.7"),
            "an IPv4-mapped peer is its IPv4 address"
        );
    }
}
