//! Parsers shared by the concern modules. Each names its variable in the error and echoes the
//! value only where the caller allows it (see `check_redis_url` for a URL that may hold a
//! password).

use std::time::Duration;

use super::{ConfigError, bad};

pub(super) fn parse_or<T: std::str::FromStr>(
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

pub(super) fn secs(
    var: &'static str,
    raw: Option<String>,
    default: u64,
) -> Result<Duration, ConfigError> {
    parse_or(var, raw, Some(default), "a number of seconds").map(Duration::from_secs)
}

pub(super) fn millis(
    var: &'static str,
    raw: Option<String>,
    default: u64,
) -> Result<Duration, ConfigError> {
    parse_or(var, raw, Some(default), "a number of milliseconds").map(Duration::from_millis)
}

/// `value` unless it is zero (a count or a duration): zero would mean "nothing" or "at once"
/// where the setting exists to bound something, so it is refused.
pub(super) fn at_least_one<T: Default + PartialEq>(
    var: &'static str,
    value: T,
) -> Result<T, ConfigError> {
    if value == T::default() {
        return Err(bad(var, "must be at least 1"));
    }
    Ok(value)
}

pub(super) fn parse_bool(
    var: &'static str,
    raw: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(bad(var, format!("expected true or false, got `{other}`"))),
    }
}
