//! Exam rules: the life cycle (DRAFT → PUBLISHED, immutable once published), instants that
//! must carry an explicit offset, and the window (start < end, 0 < duration ≤ window, an end
//! still ahead when an admin saves it).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExamState {
    Draft,
    Published,
    /// Kept for schema compatibility; nothing assigns it: "ended" is derived from `end_time`.
    Closed,
}

impl ExamState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Published => "PUBLISHED",
            Self::Closed => "CLOSED",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "PUBLISHED" => Self::Published,
            "CLOSED" => Self::Closed,
            _ => Self::Draft,
        }
    }
}

/// Parses an RFC 3339 instant (`2026-03-01T10:00:00+05:30`, `…Z`) into epoch milliseconds.
/// A time without an offset is refused: guessing a zone is how the original got hard ends wrong.
pub fn parse_instant(field: &str, raw: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            format!(
                "{field} must be an RFC 3339 instant with an offset, e.g. 2026-03-01T10:00:00+05:30"
            )
        })
}

/// Epoch milliseconds as an RFC 3339 UTC string, the API's output form.
pub fn format_instant(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The longest exam accepted: a week, far beyond any sitting, to catch unit mistakes.
pub const MAX_DURATION_MINUTES: i64 = 7 * 24 * 60;

/// The longest grace after a deadline: an hour covers any network trouble at the end.
pub const MAX_GRACE_SECONDS: i64 = 3600;

/// Checks the grace period: `0 ≤ grace ≤ MAX_GRACE_SECONDS`.
pub fn check_grace(grace_seconds: i64) -> Result<(), String> {
    if (0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        Ok(())
    } else {
        Err(format!(
            "graceSeconds must be between 0 and {MAX_GRACE_SECONDS}"
        ))
    }
}

/// A valid exam schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub start_ms: i64,
    pub end_ms: i64,
    pub duration_minutes: i64,
}

impl Schedule {
    pub fn new(start_ms: i64, end_ms: i64, duration_minutes: i64) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        if start_ms >= end_ms {
            errors.push("startTime must be before endTime".to_owned());
        }
        if !(1..=MAX_DURATION_MINUTES).contains(&duration_minutes) {
            errors.push(format!(
                "durationMinutes must be between 1 and {MAX_DURATION_MINUTES}"
            ));
        } else if start_ms < end_ms
            && duration_minutes.saturating_mul(60_000) > end_ms - start_ms
            // A window shorter than a minute still admits a one-minute duration: the hard end
            // is capped by the window's end anyway.
            && !(duration_minutes == 1 && end_ms - start_ms < 60_000)
        {
            errors.push(
                "durationMinutes must not exceed the window from startTime to endTime".to_owned(),
            );
        }
        if errors.is_empty() {
            Ok(Schedule {
                start_ms,
                end_ms,
                duration_minutes,
            })
        } else {
            Err(errors)
        }
    }
}

/// An admin's create or update must leave a window that has not wholly passed: an exam that
/// ended before it was saved can never be sat. (Tests and sweeps that end an exam move its end
/// in the store directly, not through this check.)
pub fn check_not_over(end_ms: i64, now_ms: i64) -> Result<(), String> {
    if end_ms > now_ms {
        Ok(())
    } else {
        Err("endTime must be in the future".to_owned())
    }
}

/// Where an exam stands relative to `now`, for students.
pub fn is_live(start_ms: i64, end_ms: i64, now: i64) -> bool {
    start_ms <= now && now <= end_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_need_an_offset() {
        assert_eq!(
            parse_instant("startTime", "2026-03-01T10:00:00+05:30"),
            parse_instant("startTime", "2026-03-01T04:30:00Z")
        );
        assert!(parse_instant("startTime", "2026-03-01T10:00:00").is_err());
        assert!(parse_instant("startTime", "tomorrow").is_err());
    }

    #[test]
    fn a_schedule_needs_start_before_end_and_a_duration_within_the_window() {
        assert!(Schedule::new(0, 3_600_000, 60).is_ok());
        assert!(Schedule::new(3_600_000, 0, 10).is_err());
        assert!(Schedule::new(0, 3_600_000, 61).is_err());
        assert!(Schedule::new(0, 3_600_000, 0).is_err());
    }

    #[test]
    fn a_window_of_seconds_admits_a_one_minute_duration() {
        assert!(Schedule::new(0, 5_000, 1).is_ok());
        assert!(Schedule::new(0, 5_000, 2).is_err());
    }

    #[test]
    fn a_window_that_has_already_ended_is_refused_naming_end_time() {
        assert_eq!(check_not_over(1_001, 1_000), Ok(()));
        for end in [1_000, 0, -5] {
            assert_eq!(
                check_not_over(end, 1_000),
                Err("endTime must be in the future".to_owned())
            );
        }
    }

    #[test]
    fn instants_format_as_utc() {
        assert_eq!(format_instant(0), "1970-01-01T00:00:00.000Z");
    }
}
