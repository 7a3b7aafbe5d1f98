//! Configuration, read once at start-up from the environment (and an optional `.env` file) into
//! typed structs. Every bad value stops start-up with one line naming the variable.
//!
//! `.env.example` at the repository root lists every variable with its default and meaning; keep
//! the two in step.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

/// A configuration error: which variable, and what is wrong with it. The value itself is only
/// echoed for variables that are not secret.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The secret used to derive session and token hashes. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the platform keeps its data.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    /// Apply pending migrations at start-up. Always done on SQLite; on PostgreSQL the default is
    /// to leave it to `oes migrate`, run once per deployment.
    pub auto_migrate: bool,
}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Queues (BullMQ). `None`: embedded mode, no Redis is used at all.
    pub url: Option<String>,
    /// The cache's Redis; defaults to `url`. Kept separate so the cache may evict while the
    /// queues' Redis runs with `noeviction`.
    pub cache_url: Option<String>,
    /// Prefix of every cache key; `oes cache clear` deletes only under it.
    pub cache_namespace: String,
    /// A cache call to Redis slower than this counts as a miss (fail-open).
    pub cache_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `None`: emails are written as `.eml` files under `dir`.
    pub smtp_url: Option<String>,
    pub from: String,
    pub dir: PathBuf,
    pub email_concurrency: usize,
    /// Tries per email before it is marked failed.
    pub email_attempts: u32,
    /// First retry delay; each further retry waits twice as long.
    pub email_backoff: Duration,
    /// A job's lease: a worker that dies loses its jobs to another after about this plus two
    /// stalled-check intervals.
    pub job_lock: Duration,
    pub job_stalled_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// BullMQ key prefix; `bull` shares the queues with a Node BullMQ deployment.
    pub prefix: String,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub host: IpAddr,
    pub port: u16,
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub env: AppEnv,
    pub log_format: LogFormat,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub mail: MailConfig,
    pub queues: QueueConfig,
    pub app_base_url: Url,
    pub secret: Secret,
    /// Whether `oes serve` also runs the job workers (a deployment may run them only in `oes worker`).
    pub run_workers: bool,
    /// How long workers may finish their active jobs after a shutdown signal.
    pub worker_shutdown_timeout: Duration,
    /// Start-up notes worth logging once logging is up (for example "production on SQLite").
    pub warnings: Vec<String>,
    /// Passwords, sessions, CSRF origins and rate limits (`service::accounts`).
    pub accounts: crate::service::accounts::AccountsConfig,
    /// `METRICS_TOKEN`: the Bearer token `/metrics` requires; unset, `/metrics` answers 404.
    pub metrics_token: Option<Secret>,
}

/// The development secret: sessions survive restarts in development, and production refuses it.
const DEV_SECRET: &str = "oes-development-secret-do-not-use-in-production";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/oes.db";

impl Config {
    /// Reads `.env` (when present; real environment variables win) and then the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(bad(".env", format!("cannot be read: {e}"))),
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable source; tests use this to avoid touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let env = match get("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(bad(
                    "APP_ENV",
                    format!("must be `development` or `production`, got `{other}`"),
                ));
            }
        };
        let log_format = match get("LOG_FORMAT").as_deref() {
            None if env == AppEnv::Production => LogFormat::Json,
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("must be `text` or `json`, got `{other}`"),
                ));
            }
        };

        let http = HttpConfig {
            host: parse_or("HOST", get("HOST"), "0.0.0.0".parse().ok(), "an IP address")?,
            port: parse_or("PORT", get("PORT"), Some(8000), "a port number 0-65535")?,
            body_limit_bytes: parse_or(
                "BODY_LIMIT_BYTES",
                get("BODY_LIMIT_BYTES"),
                Some(1024 * 1024),
                "a byte count",
            )?,
            request_timeout: secs("REQUEST_TIMEOUT_SECS", get("REQUEST_TIMEOUT_SECS"), 30)?,
            shutdown_timeout: secs("SHUTDOWN_TIMEOUT_SECS", get("SHUTDOWN_TIMEOUT_SECS"), 30)?,
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let database = DatabaseConfig {
            max_connections: parse_or(
                "DATABASE_MAX_CONNECTIONS",
                get("DATABASE_MAX_CONNECTIONS"),
                Some(20),
                "a positive number",
            )
            .and_then(|n: u32| {
                if n == 0 {
                    Err(bad("DATABASE_MAX_CONNECTIONS", "must be at least 1"))
                } else {
                    Ok(n)
                }
            })?,
            auto_migrate: parse_bool("AUTO_MIGRATE", get("AUTO_MIGRATE"), false)?,
            url: database_url,
        };

        let redis_url = get("REDIS_URL")
            .map(|u| check_redis_url("REDIS_URL", u))
            .transpose()?;
        let cache_url = match get("CACHE_REDIS_URL") {
            Some(u) => Some(check_redis_url("CACHE_REDIS_URL", u)?),
            None => redis_url.clone(),
        };

        let smtp_url = get("SMTP_URL")
            .map(|u| {
                let parsed = Url::parse(&u).map_err(|_| {
                    bad("SMTP_URL", "is not a URL (expected smtp://… or smtps://…)")
                })?;
                match parsed.scheme() {
                    "smtp" | "smtps" | "memory" => Ok(u),
                    other => Err(bad(
                        "SMTP_URL",
                        format!("scheme must be smtp or smtps, got `{other}`"),
                    )),
                }
            })
            .transpose()?;
        let from = get("MAIL_FROM").unwrap_or_else(|| "OES <no-reply@localhost>".to_owned());
        if !from.contains('@') {
            return Err(bad(
                "MAIL_FROM",
                format!("is not an email address: `{from}`"),
            ));
        }
        let mail = MailConfig {
            smtp_url,
            from,
            dir: get("MAIL_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| "data/mail".into()),
            email_concurrency: parse_or(
                "EMAIL_CONCURRENCY",
                get("EMAIL_CONCURRENCY"),
                Some(5),
                "a positive number",
            )?,
            email_attempts: parse_or(
                "EMAIL_ATTEMPTS",
                get("EMAIL_ATTEMPTS"),
                Some(3),
                "a positive number",
            )?,
            email_backoff: Duration::from_millis(parse_or(
                "EMAIL_BACKOFF_MS",
                get("EMAIL_BACKOFF_MS"),
                Some(2000),
                "a number of milliseconds",
            )?),
            job_lock: Duration::from_millis(parse_or(
                "JOB_LOCK_MS",
                get("JOB_LOCK_MS"),
                Some(30_000),
                "a number of milliseconds",
            )?),
            job_stalled_interval: Duration::from_millis(parse_or(
                "JOB_STALLED_INTERVAL_MS",
                get("JOB_STALLED_INTERVAL_MS"),
                Some(15_000),
                "a number of milliseconds",
            )?),
        };
        if mail.job_lock.is_zero() || mail.job_stalled_interval.is_zero() {
            return Err(bad(
                "JOB_LOCK_MS",
                "JOB_LOCK_MS and JOB_STALLED_INTERVAL_MS must be positive",
            ));
        }
        if mail.email_attempts == 0 {
            return Err(bad("EMAIL_ATTEMPTS", "must be at least 1"));
        }
        if mail.email_concurrency == 0 {
            return Err(bad("EMAIL_CONCURRENCY", "must be at least 1"));
        }

        let app_base_url = match get("APP_BASE_URL") {
            None => Url::parse("http://localhost:8000")
                .map_err(|e| bad("APP_BASE_URL", e.to_string()))?,
            Some(u) => {
                let parsed = Url::parse(&u)
                    .map_err(|e| bad("APP_BASE_URL", format!("is not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(bad("APP_BASE_URL", "must be an http or https URL"));
                }
                parsed
            }
        };

        let secret = match (get("APP_SECRET"), env) {
            (Some(s), _) if s.len() < 32 => {
                // Never echo the secret itself.
                return Err(bad("APP_SECRET", "must be at least 32 characters long"));
            }
            (Some(s), _) => Secret(s),
            (None, AppEnv::Production) => {
                return Err(bad(
                    "APP_SECRET",
                    "must be set explicitly when APP_ENV=production",
                ));
            }
            (None, AppEnv::Development) => Secret(DEV_SECRET.to_owned()),
        };
        if env == AppEnv::Production && secret.expose() == DEV_SECRET {
            return Err(bad(
                "APP_SECRET",
                "the development secret cannot be used in production",
            ));
        }

        let mut warnings = Vec::new();
        if env == AppEnv::Production {
            if mail.smtp_url.is_none() {
                return Err(bad("SMTP_URL", "must be set when APP_ENV=production"));
            }
            if database.url.starts_with("sqlite:") {
                warnings.push(
                    "running in production on SQLite: one process only; use PostgreSQL to scale out"
                        .to_owned(),
                );
            }
        }

        let accounts =
            crate::service::accounts::AccountsConfig::from_lookup(&get, &app_base_url, env)?;
        Ok(Config {
            accounts,
            env,
            log_format,
            http,
            database,
            redis: RedisConfig {
                url: redis_url,
                cache_url,
                cache_namespace: get("CACHE_NAMESPACE").unwrap_or_else(|| "oes:cache:".to_owned()),
                cache_timeout: Duration::from_millis(parse_or(
                    "CACHE_TIMEOUT_MS",
                    get("CACHE_TIMEOUT_MS"),
                    Some(50),
                    "a number of milliseconds",
                )?),
            },
            mail,
            queues: QueueConfig {
                prefix: get("QUEUE_PREFIX").unwrap_or_else(|| "bull".to_owned()),
            },
            app_base_url,
            secret,
            run_workers: parse_bool("RUN_WORKERS", get("RUN_WORKERS"), true)?,
            worker_shutdown_timeout: secs(
                "WORKER_SHUTDOWN_TIMEOUT_SECS",
                get("WORKER_SHUTDOWN_TIMEOUT_SECS"),
                30,
            )?,
            warnings,
            metrics_token: get("METRICS_TOKEN").map(Secret),
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == AppEnv::Production
    }
}

fn parse_or<T: std::str::FromStr>(
    var: &'static str,
    raw: Option<String>,
    default: Option<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    match raw {
        Some(v) => v
            .parse()
            .map_err(|_| bad(var, format!("expected {expected}, got `{v}`"))),
        None => default.ok_or_else(|| bad(var, "is required")),
    }
}

fn secs(var: &'static str, raw: Option<String>, default: u64) -> Result<Duration, ConfigError> {
    parse_or(var, raw, Some(default), "a number of seconds").map(Duration::from_secs)
}

fn parse_bool(var: &'static str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(bad(var, format!("expected true or false, got `{other}`"))),
    }
}

fn check_redis_url(var: &'static str, url: String) -> Result<String, ConfigError> {
    // Parse with the url crate so a password in the URL never reaches the message.
    let parsed =
        Url::parse(&url).map_err(|_| bad(var, "is not a URL (expected redis://host:port)"))?;
    match parsed.scheme() {
        "redis" | "rediss" => Ok(url),
        other => Err(bad(
            var,
            format!("scheme must be redis or rediss, got `{other}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_describe_the_embedded_mode() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.http.port, 8000);
        assert_eq!(c.database.url, DEFAULT_DATABASE_URL);
        assert!(c.redis.url.is_none() && c.redis.cache_url.is_none());
        assert!(c.mail.smtp_url.is_none());
        assert_eq!(c.env, AppEnv::Development);
        assert_eq!(c.mail.email_concurrency, 5);
    }

    #[test]
    fn a_bad_port_names_the_variable() {
        let e = config(&[("PORT", "eighty")]).expect_err("must fail");
        assert_eq!(e.var, "PORT");
        assert!(e.to_string().starts_with("PORT: "), "{e}");
        assert!(e.to_string().contains("eighty"));
    }

    #[test]
    fn cache_redis_url_defaults_to_redis_url() {
        let c = config(&[("REDIS_URL", "redis://127.0.0.1:6379")]).expect("valid");
        assert_eq!(c.redis.cache_url.as_deref(), Some("redis://127.0.0.1:6379"));
        let c = config(&[
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("CACHE_REDIS_URL", "redis://127.0.0.1:6380/2"),
        ])
        .expect("valid");
        assert_eq!(
            c.redis.cache_url.as_deref(),
            Some("redis://127.0.0.1:6380/2")
        );
    }

    #[test]
    fn a_non_redis_url_is_refused_without_echoing_its_password() {
        let e = config(&[("REDIS_URL", "http://user:hunter2hunter2@x")]).expect_err("must fail");
        assert_eq!(e.var, "REDIS_URL");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn production_refuses_to_start_without_a_secret() {
        let e = config(&[("APP_ENV", "production"), ("SMTP_URL", "smtp://mail:25")])
            .expect_err("must fail");
        assert_eq!(e.var, "APP_SECRET");
    }

    #[test]
    fn production_refuses_to_start_without_smtp() {
        let e = config(&[("APP_ENV", "production"), ("APP_SECRET", &"s".repeat(40))])
            .expect_err("must fail");
        assert_eq!(e.var, "SMTP_URL");
    }

    #[test]
    fn production_on_sqlite_starts_with_a_warning() {
        let c = config(&[
            ("APP_ENV", "production"),
            ("APP_SECRET", &"s".repeat(40)),
            ("SMTP_URL", "smtp://mail.example:587"),
        ])
        .expect("valid");
        assert!(c.warnings.iter().any(|w| w.contains("SQLite")));
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn a_short_secret_is_refused_without_being_echoed() {
        let e = config(&[("APP_SECRET", "tooshort-secret")]).expect_err("must fail");
        assert_eq!(e.var, "APP_SECRET");
        assert!(!e.to_string().contains("tooshort"));
        assert!(!format!("{:?}", Secret("abc".into())).contains("abc"));
    }

    #[test]
    fn an_unknown_app_env_is_refused() {
        let e = config(&[("APP_ENV", "staging")]).expect_err("must fail");
        assert_eq!(e.var, "APP_ENV");
    }

    #[test]
    fn an_unsupported_database_url_is_refused() {
        let e = config(&[("DATABASE_URL", "mysql://localhost/oes")]).expect_err("must fail");
        assert_eq!(e.var, "DATABASE_URL");
    }

    #[test]
    fn booleans_and_durations_are_parsed_or_refused() {
        let c = config(&[("RUN_WORKERS", "false"), ("SHUTDOWN_TIMEOUT_SECS", "5")]).expect("valid");
        assert!(!c.run_workers);
        assert_eq!(c.http.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(
            config(&[("RUN_WORKERS", "maybe")]).expect_err("fails").var,
            "RUN_WORKERS"
        );
        assert_eq!(
            config(&[("SHUTDOWN_TIMEOUT_SECS", "-1")])
                .expect_err("fails")
                .var,
            "SHUTDOWN_TIMEOUT_SECS"
        );
    }
}
