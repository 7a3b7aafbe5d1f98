//! Configuration, read once at start-up from the environment (and an optional `.env` file) into
//! typed structs. Every bad value stops start-up with one line naming the variable.
//!
//! `.env.example` at the repository root lists every variable with its default and meaning; keep
//! the two in step.
//!
//! One module per concern, each reading its own variables: `app` (environment, base URL,
//! secret), `http`, `database`, `redis` (queues' and cache's Redis), `mail` (email and its
//! worker), `jobs` (queue prefix, workers), `accounts` (hashing cost, sessions, rate limits)
//! with `origins` (the allowed origins of CORS and CSRF, cookie attributes), `observability`
//! (log format, metrics token). [`Config::from_lookup`] composes them and adds the checks that
//! span concerns (production needs SMTP; production on SQLite warns). Nothing here depends on
//! the layers that use it.

mod accounts;
mod app;
mod database;
mod http;
mod jobs;
mod mail;
mod observability;
mod origins;
mod parse;
mod redis;

use url::Url;

pub use accounts::{AccountsConfig, DEFAULT_TRUSTED_PROXIES, HashCost, ProxyNet, forwarded_client};
pub use app::{AppEnv, Secret};
pub use database::{DEFAULT_DATABASE_URL, DatabaseConfig};
pub use http::HttpConfig;
pub use jobs::QueueConfig;
pub use mail::MailConfig;
pub use observability::{LogFormat, ObservabilityConfig};
pub use origins::{CookiePolicy, Origins};
pub use redis::RedisConfig;

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

/// A variable source with blank values already treated as unset.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Debug, Clone)]
pub struct Config {
    pub env: AppEnv,
    /// Logs, `/metrics` and trace export.
    pub observability: ObservabilityConfig,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub mail: MailConfig,
    pub queues: QueueConfig,
    pub app_base_url: Url,
    pub secret: Secret,
    /// Start-up notes worth logging once logging is up (for example "production on SQLite").
    pub warnings: Vec<String>,
    /// Passwords, sessions, CSRF origins and rate limits (`service::accounts`).
    pub accounts: AccountsConfig,
}

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
        let get: Lookup<'_> = &get;

        let env = AppEnv::from_lookup(get)?;
        let log_format = LogFormat::from_lookup(get, env)?;
        let http = HttpConfig::from_lookup(get)?;
        let database = DatabaseConfig::from_lookup(get)?;
        let redis = RedisConfig::from_lookup(get)?;
        let mail = MailConfig::from_lookup(get)?;
        let app_base_url = app::base_url(get)?;
        let secret = app::secret(get, env)?;

        let mut warnings = Vec::new();
        if env == AppEnv::Production {
            if mail.smtp_url.is_none() {
                return Err(bad("SMTP_URL", "must be set when APP_ENV=production"));
            }
            if database.is_sqlite() {
                warnings.push(
                    "running in production on SQLite: one process only; use PostgreSQL to scale out"
                        .to_owned(),
                );
            }
        }

        let origins = Origins::from_lookup(get, &app_base_url, env)?;
        warnings.extend(origins.warning.clone());
        let accounts = AccountsConfig::from_lookup(get, origins)?;
        let queues = QueueConfig::from_lookup(get)?;
        let observability = ObservabilityConfig {
            log_format,
            metrics_token: observability::metrics_token(get),
            otlp_endpoint: observability::otlp_endpoint(get)?,
        };
        Ok(Config {
            env,
            observability,
            http,
            database,
            redis,
            mail,
            queues,
            app_base_url,
            secret,
            warnings,
            accounts,
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == AppEnv::Production
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
    fn connection_limits_default_to_bounded_values_and_refuse_zero() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.http.header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.http.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.http.max_connections, 10_000);
        for var in [
            "HTTP_HEADER_READ_TIMEOUT_SECS",
            "HTTP_IDLE_TIMEOUT_SECS",
            "HTTP_MAX_CONNECTIONS",
        ] {
            let e = config(&[(var, "0")]).expect_err("zero would close or refuse everything");
            assert_eq!(e.var, var);
        }
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
        assert_eq!(c.observability.log_format, LogFormat::Json);
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
        assert!(!c.queues.run_workers);
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

    #[test]
    fn every_concern_names_its_own_bad_variable() {
        for (var, value) in [
            ("LOG_FORMAT", "xml"),
            ("HOST", "localhost"),
            ("BODY_LIMIT_BYTES", "1MB"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("AUTO_MIGRATE", "sometimes"),
            ("CACHE_REDIS_URL", "memcached://cache:11211"),
            ("CACHE_TIMEOUT_MS", "fast"),
            ("SMTP_URL", "http://mail"),
            ("MAIL_FROM", "nobody"),
            ("EMAIL_CONCURRENCY", "0"),
            ("EMAIL_ATTEMPTS", "0"),
            ("EMAIL_BACKOFF_MS", "soon"),
            ("JOB_LOCK_MS", "0"),
            ("APP_BASE_URL", "ftp://exams.example.org"),
            ("PASSWORD_HASH_ITERATIONS", "0"),
            ("WORKER_SHUTDOWN_TIMEOUT_SECS", "forever"),
        ] {
            let e = config(&[(var, value)]).expect_err(var);
            assert_eq!(e.var, var, "{var}={value} was reported as {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn defaults_of_every_concern_are_kept() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.observability.log_format, LogFormat::Text);
        assert_eq!(c.http.host.to_string(), "0.0.0.0");
        assert_eq!(c.http.body_limit_bytes, 1024 * 1024);
        assert_eq!(c.http.request_timeout, Duration::from_secs(30));
        assert_eq!(c.database.max_connections, 20);
        assert!(!c.database.auto_migrate);
        assert_eq!(c.redis.cache_namespace, "oes:cache:");
        assert_eq!(c.redis.cache_timeout, Duration::from_millis(50));
        assert_eq!(c.mail.from, "OES <no-reply@localhost>");
        assert_eq!(c.mail.email_backoff, Duration::from_millis(2000));
        assert_eq!(c.mail.job_lock, Duration::from_millis(30_000));
        assert_eq!(c.mail.job_stalled_interval, Duration::from_millis(15_000));
        assert_eq!(c.queues.prefix, "bull");
        assert_eq!(c.app_base_url.as_str(), "http://localhost:8000/");
        assert!(c.queues.run_workers);
        assert_eq!(c.queues.worker_shutdown_timeout, Duration::from_secs(30));
        assert!(c.observability.metrics_token.is_none());
        assert_eq!(c.accounts.allowed_origins, ["http://localhost:8000"]);
        assert!(c.warnings.is_empty());
    }
}
