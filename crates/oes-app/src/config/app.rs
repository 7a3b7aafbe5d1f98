//! The deployment as a whole: `APP_ENV`, `APP_BASE_URL` and `APP_SECRET`.

use std::fmt;

use url::Url;

use super::{ConfigError, Lookup, bad};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

impl AppEnv {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        match get("APP_ENV").as_deref() {
            None | Some("development") => Ok(AppEnv::Development),
            Some("production") => Ok(AppEnv::Production),
            Some(other) => Err(bad(
                "APP_ENV",
                format!("must be `development` or `production`, got `{other}`"),
            )),
        }
    }
}

/// The secret used to derive session and token hashes. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(pub(super) String);

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

/// The development secret: sessions survive restarts in development, and production refuses it.
const DEV_SECRET: &str = "oes-development-secret-do-not-use-in-production";

/// `APP_SECRET`: required in production, at least 32 characters, never the development one.
pub(super) fn secret(get: Lookup<'_>, env: AppEnv) -> Result<Secret, ConfigError> {
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
    Ok(secret)
}

/// `APP_BASE_URL`: where users reach the app (links in emails, the CSRF origin).
pub(super) fn base_url(get: Lookup<'_>) -> Result<Url, ConfigError> {
    match get("APP_BASE_URL") {
        None => Url::parse("http://localhost:8000").map_err(|e| bad("APP_BASE_URL", e.to_string())),
        Some(u) => {
            let parsed =
                Url::parse(&u).map_err(|e| bad("APP_BASE_URL", format!("is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(bad("APP_BASE_URL", "must be an http or https URL"));
            }
            Ok(parsed)
        }
    }
}
