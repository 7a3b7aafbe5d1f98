//! Accounts: roles, email and password rules, and the profile's enumerations. Pure: no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Lifetimes stated in the emails; the account service enforces the same figures.
pub const VERIFY_LINK_HOURS: u32 = 24;
pub const RESET_CODE_MINUTES: u32 = 15;

/// What a user may do. Admins are made only by `oes admin create`, never through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "USER",
            Role::Admin => "ADMIN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "USER" => Some(Role::User),
            "ADMIN" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule an input broke, with a message fit for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Invalid {
            field,
            message: message.into(),
        }
    }
}

/// An email address in its one stored form: trimmed and lower-cased, so `A@x` and `a@x` are
/// one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        let bad = || Invalid::new("email", "a valid email address is required");
        if email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || !domain.contains('.')
            || !labels_ok
        {
            return Err(bad());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const PASSWORD_MIN_CHARS: usize = 10;
/// Argon2 takes any length, but an unbounded one lets a client buy CPU cheaply.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// The password policy, stated the same way in every refusal.
pub const PASSWORD_POLICY: &str =
    "a password must be 10 to 128 characters long and contain at least one letter and one digit";

/// Checks a new password against the policy (existing passwords are only verified, never
/// re-checked, so a policy change does not lock anyone out).
pub fn check_new_password(password: &str, field: &'static str) -> Result<(), Invalid> {
    let chars = password.chars().count();
    let ok = (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars)
        && password.chars().any(char::is_alphabetic)
        && password.chars().any(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(field, PASSWORD_POLICY))
    }
}

/// A display name: trimmed, inner runs of whitespace collapsed to one space, 1 to 100
/// characters, and nothing a reader cannot see. Names are shown to other people (rosters,
/// leaderboards, emails), so invisible or direction-changing characters would let one name pass
/// for another or reorder the text around it.
pub fn check_full_name(raw: &str) -> Result<String, Invalid> {
    check_person_name(raw, "fullName", "full name")
}

/// The rules of [`check_full_name`] for any field that holds a person's name.
fn check_person_name(
    raw: &str,
    field: &'static str,
    what: &'static str,
) -> Result<String, Invalid> {
    // Whitespace around the name (a pasted newline, a tab) is trimmed, as it always was; inside
    // the name a control character is refused rather than silently turned into a space.
    let trimmed = raw.trim();
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!("a {what} must not contain control characters"),
        ));
    }
    if trimmed.chars().any(is_bidi_control) {
        return Err(Invalid::new(
            field,
            format!("a {what} must not contain bidirectional text overrides"),
        ));
    }
    if trimmed.chars().any(is_invisible_format) {
        return Err(Invalid::new(
            field,
            format!("a {what} must not contain invisible (zero-width or format) characters"),
        ));
    }
    let name = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = name.chars().count();
    if chars == 0 || chars > 100 {
        return Err(Invalid::new(
            field,
            format!("a {what} of 1 to 100 characters is required"),
        ));
    }
    Ok(name)
}

/// Embeddings, overrides and isolates, and the marks that only steer direction: each can make
/// the text after it read in a different order than it is stored.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Characters of Unicode's format category (and the like) that render as nothing, so two names
/// that look the same can differ by them.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// An enrollment number: trimmed, 3 to 50 characters.
pub fn check_enrollment_number(raw: &str) -> Result<String, Invalid> {
    let value = raw.trim();
    let chars = value.chars().count();
    if !(3..=50).contains(&chars) || value.chars().any(char::is_control) {
        return Err(Invalid::new(
            "enrollmentNumber",
            "the enrollment number must be 3 to 50 characters long",
        ));
    }
    Ok(value.to_owned())
}

/// A closed set of upper-case values stored as TEXT, as the original's enums.
pub trait ProfileEnum: Sized + Copy {
    /// The JSON field name, for error messages.
    const FIELD: &'static str;
    const ALLOWED: &'static [&'static str];
    fn from_index(i: usize) -> Self;
    fn index(self) -> usize;

    fn as_str(self) -> &'static str {
        Self::ALLOWED[self.index()]
    }

    /// Case-insensitive, as the original upper-cased inputs; the error carries the allowed values.
    fn parse(raw: &str) -> Result<Self, InvalidChoice> {
        let upper = raw.trim().to_ascii_uppercase();
        Self::ALLOWED
            .iter()
            .position(|v| *v == upper)
            .map(Self::from_index)
            .ok_or(InvalidChoice {
                field: Self::FIELD,
                allowed: Self::ALLOWED,
            })
    }
}

/// A value outside an enumeration; answered as 400 with `allowed` in the details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidChoice {
    pub field: &'static str,
    pub allowed: &'static [&'static str],
}

macro_rules! profile_enum {
    ($name:ident, $field:literal, [$($variant:ident = $text:literal),+ $(,)?]) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl ProfileEnum for $name {
            const FIELD: &'static str = $field;
            const ALLOWED: &'static [&'static str] = &[$($text),+];
            fn from_index(i: usize) -> Self {
                const ALL: &[$name] = &[$($name::$variant),+];
                ALL[i]
            }
            fn index(self) -> usize {
                self as usize
            }
        }

        impl FromStr for $name {
            type Err = InvalidChoice;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <Self as ProfileEnum>::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

profile_enum!(
    Course,
    "course",
    [Btech = "BTECH", Barch = "BARCH", Mtech = "MTECH"]
);
profile_enum!(
    Department,
    "department",
    [
        Aeam = "AEAM",
        Ce = "CE",
        Cst = "CST",
        Ee = "EE",
        Etc = "ETC",
        It = "IT",
        Me = "ME",
        Min = "MIN",
        Mme = "MME",
    ]
);
profile_enum!(
    Year,
    "year",
    [
        One = "ONE",
        Two = "TWO",
        Three = "THREE",
        Four = "FOUR",
        Five = "FIVE"
    ]
);
profile_enum!(
    Semester,
    "semester",
    [
        S1 = "S1",
        S2 = "S2",
        S3 = "S3",
        S4 = "S4",
        S5 = "S5",
        S6 = "S6",
        S7 = "S7",
        S8 = "S8",
    ]
);

/// A student's academic profile, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub enrollment_number: String,
    pub course: Course,
    pub department: Department,
    pub year: Year,
    pub semester: Semester,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let e = Email::parse("  Asha.K@Example.ORG ").expect("valid");
        assert_eq!(e.as_str(), "asha.k@example.org");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "a",
            "a@",
            "@x.org",
            "a@x",
            "a b@x.org",
            "a@x..org",
            "a@-x.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn full_names_are_trimmed_and_inner_whitespace_collapsed() {
        assert_eq!(
            check_full_name(" \t Asha   K.\u{3000}\u{A0}Rao \n").as_deref(),
            Ok("Asha K. Rao")
        );
        assert_eq!(
            check_full_name("Zoë Ångström").as_deref(),
            Ok("Zoë Ångström")
        );
        assert_eq!(check_full_name("अनन्या राव").as_deref(), Ok("अनन्या राव"));
    }

    #[test]
    fn full_names_with_control_characters_are_refused_saying_so() {
        for bad in [
            "Asha\nRao",
            "Asha\tRao",
            "Asha\u{0}",
            "Asha\u{7F}Rao",
            "Asha\u{9B}Rao",
        ] {
            let e = check_full_name(bad).expect_err(bad);
            assert_eq!(e.field, "fullName");
            assert!(
                e.message.contains("control characters"),
                "{bad:?}: {}",
                e.message
            );
        }
    }

    #[test]
    fn full_names_with_bidirectional_overrides_are_refused_saying_so() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            let name = format!("Asha {c}oaR");
            let e = check_full_name(&name).expect_err("bidi");
            assert_eq!(e.field, "fullName");
            assert!(
                e.message.contains("bidirectional"),
                "U+{:04X}: {}",
                c as u32,
                e.message
            );
        }
    }

    #[test]
    fn full_names_with_invisible_characters_are_refused_saying_so() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}',
        ] {
            let name = format!("As{c}ha Rao");
            let e = check_full_name(&name).expect_err("invisible");
            assert_eq!(e.field, "fullName");
            assert!(
                e.message.contains("invisible"),
                "U+{:04X}: {}",
                c as u32,
                e.message
            );
        }
        // Only invisible characters: refused for them, not for being empty after a trim.
        let e = check_full_name("\u{FEFF}").expect_err("invisible");
        assert!(e.message.contains("invisible"), "{}", e.message);
    }

    #[test]
    fn full_names_must_hold_1_to_100_characters_after_normalising() {
        assert!(check_full_name(" \t ").is_err());
        assert!(check_full_name(&"a".repeat(100)).is_ok());
        assert!(check_full_name(&"a".repeat(101)).is_err());
        // Collapsing comes first: 100 letters with a run of spaces inside still fit.
        let spaced = format!("{}     {}", "a".repeat(50), "b".repeat(49));
        assert_eq!(check_full_name(&spaced).map(|n| n.chars().count()), Ok(100));
    }

    #[test]
    fn the_password_policy_wants_length_a_letter_and_a_digit() {
        assert!(check_new_password("short1", "password").is_err());
        assert!(check_new_password("onlyletterslong", "password").is_err());
        assert!(check_new_password("1234567890", "password").is_err());
        assert!(check_new_password("letters4ever", "password").is_ok());
        let e = check_new_password("x", "newPassword").expect_err("too short");
        assert_eq!(e.field, "newPassword");
        assert_eq!(e.message, PASSWORD_POLICY);
    }

    #[test]
    fn enums_parse_case_insensitively_and_list_the_allowed_values() {
        assert_eq!(Course::parse("btech"), Ok(Course::Btech));
        assert_eq!(Semester::parse("S8"), Ok(Semester::S8));
        assert_eq!(Department::parse("mme").map(|d| d.as_str()), Ok("MME"));
        let e = Year::parse("SIX").expect_err("not a year");
        assert_eq!(e.field, "year");
        assert_eq!(e.allowed, &["ONE", "TWO", "THREE", "FOUR", "FIVE"]);
    }

    #[test]
    fn roles_serialise_in_upper_case() {
        assert_eq!(
            serde_json::to_string(&Role::Admin).expect("json"),
            "\"ADMIN\""
        );
        assert_eq!(Role::parse("USER"), Some(Role::User));
    }
}
