//! Logs and metrics: `LOG_FORMAT` and `METRICS_TOKEN`.

use super::{AppEnv, ConfigError, Lookup, Secret, bad};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// JSON by default in production, where logs go to a collector; text otherwise.
    pub(super) fn from_lookup(get: Lookup<'_>, env: AppEnv) -> Result<Self, ConfigError> {
        match get("LOG_FORMAT").as_deref() {
            None if env == AppEnv::Production => Ok(LogFormat::Json),
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(bad(
                "LOG_FORMAT",
                format!("must be `text` or `json`, got `{other}`"),
            )),
        }
    }
}

/// `METRICS_TOKEN`; unset, `/metrics` answers 404.
pub(super) fn metrics_token(get: Lookup<'_>) -> Option<Secret> {
    get("METRICS_TOKEN").map(Secret)
}
