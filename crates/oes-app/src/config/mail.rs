//! Outgoing email and its worker: `SMTP_URL`, `MAIL_FROM`, `MAIL_DIR`, `EMAIL_CONCURRENCY`,
//! `EMAIL_ATTEMPTS`, `EMAIL_BACKOFF_MS`, `JOB_LOCK_MS`, `JOB_STALLED_INTERVAL_MS`.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::parse::{at_least_one, millis, parse_or};
use super::{ConfigError, Lookup, bad};

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

impl MailConfig {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        let smtp_url = get("SMTP_URL").map(check_smtp_url).transpose()?;
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
            email_backoff: millis("EMAIL_BACKOFF_MS", get("EMAIL_BACKOFF_MS"), 2000)?,
            job_lock: millis("JOB_LOCK_MS", get("JOB_LOCK_MS"), 30_000)?,
            job_stalled_interval: millis(
                "JOB_STALLED_INTERVAL_MS",
                get("JOB_STALLED_INTERVAL_MS"),
                15_000,
            )?,
        };
        if mail.job_lock.is_zero() || mail.job_stalled_interval.is_zero() {
            return Err(bad(
                "JOB_LOCK_MS",
                "JOB_LOCK_MS and JOB_STALLED_INTERVAL_MS must be positive",
            ));
        }
        at_least_one("EMAIL_ATTEMPTS", mail.email_attempts)?;
        at_least_one("EMAIL_CONCURRENCY", mail.email_concurrency)?;
        Ok(mail)
    }
}

fn check_smtp_url(url: String) -> Result<String, ConfigError> {
    // The URL may hold SMTP credentials, so neither it nor the parser's message is echoed.
    let parsed = Url::parse(&url)
        .map_err(|_| bad("SMTP_URL", "is not a URL (expected smtp://… or smtps://…)"))?;
    match parsed.scheme() {
        "smtp" | "smtps" | "memory" => Ok(url),
        other => Err(bad(
            "SMTP_URL",
            format!("scheme must be smtp or smtps, got `{other}`"),
        )),
    }
}
