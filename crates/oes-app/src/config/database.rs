//! The database: `DATABASE_URL`, `DATABASE_MAX_CONNECTIONS`, `AUTO_MIGRATE`.

use super::parse::{at_least_one, parse_bool, parse_or};
use super::{ConfigError, Lookup, bad};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/oes.db";

/// Where the platform keeps its data.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    /// Apply pending migrations at start-up. Always done on SQLite; on PostgreSQL the default is
    /// to leave it to `oes migrate`, run once per deployment.
    pub auto_migrate: bool,
}

impl DatabaseConfig {
    pub(super) fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        let url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let max_connections = at_least_one(
            "DATABASE_MAX_CONNECTIONS",
            parse_or(
                "DATABASE_MAX_CONNECTIONS",
                get("DATABASE_MAX_CONNECTIONS"),
                Some(20),
                "a positive number",
            )?,
        )?;
        Ok(DatabaseConfig {
            url,
            max_connections,
            auto_migrate: parse_bool("AUTO_MIGRATE", get("AUTO_MIGRATE"), false)?,
        })
    }

    pub(super) fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }
}
