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

/// The password policy, after NIST SP 800-63B (§3.1.1.2): length is what makes a password
/// strong, so there is a minimum and a generous maximum but no composition rules (they push
/// people to `Password1!`), and a new password is refused when it is one of the most common
/// passwords or is the account's own email address or name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// The fewest characters (Unicode code points) a new password may have.
    pub min_chars: usize,
}

impl PasswordPolicy {
    /// NIST's minimum for a password that is the only factor.
    pub const DEFAULT_MIN_CHARS: usize = 8;
    /// The original system's minimum: the lowest a deployment may configure, so that it can be
    /// a strict drop-in for the pages written against it.
    pub const LOWEST_MIN_CHARS: usize = 6;
    /// The highest minimum a deployment may configure: NIST asks that 64 characters be allowed,
    /// and a minimum above that would make 64 too short.
    pub const HIGHEST_MIN_CHARS: usize = 64;
    /// Argon2 takes any length, but an unbounded one lets a client buy CPU cheaply; 128 is
    /// twice what NIST asks to be allowed.
    pub const MAX_CHARS: usize = 128;

    /// A policy with `min_chars` within [`LOWEST_MIN_CHARS`](Self::LOWEST_MIN_CHARS) and
    /// [`HIGHEST_MIN_CHARS`](Self::HIGHEST_MIN_CHARS).
    pub fn new(min_chars: usize) -> Option<Self> {
        (Self::LOWEST_MIN_CHARS..=Self::HIGHEST_MIN_CHARS)
            .contains(&min_chars)
            .then_some(PasswordPolicy { min_chars })
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_chars: Self::DEFAULT_MIN_CHARS,
        }
    }
}

/// The built-in list of the most common passwords, lower case (see the file's header).
static COMMON_PASSWORDS: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| common_password_lines().collect());

fn common_password_lines() -> impl Iterator<Item = &'static str> {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// Whether `password` is on the built-in list of common passwords, whatever its case.
pub fn is_common_password(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str())
}

/// Checks a new password against `policy`. `about` holds what the account is known by (its
/// email address, its name): a password equal to one of them, whatever the case or spacing, is
/// the first thing anyone who knows the person tries. Existing passwords are only verified,
/// never re-checked, so a policy change does not lock anyone out.
pub fn check_new_password(
    password: &str,
    field: &'static str,
    policy: PasswordPolicy,
    about: &[&str],
) -> Result<(), Invalid> {
    let chars = password.chars().count();
    if chars < policy.min_chars {
        return Err(Invalid::new(
            field,
            format!(
                "a password must be at least {} characters long",
                policy.min_chars
            ),
        ));
    }
    if chars > PasswordPolicy::MAX_CHARS {
        return Err(Invalid::new(
            field,
            format!(
                "a password must be at most {} characters long",
                PasswordPolicy::MAX_CHARS
            ),
        ));
    }
    let mut distinct = password.chars();
    if let Some(first) = distinct.next()
        && distinct.all(|c| c == first)
    {
        return Err(Invalid::new(
            field,
            "a password must not be one character repeated",
        ));
    }
    if is_common_password(password) {
        return Err(Invalid::new(
            field,
            "this password is one of the most commonly used passwords; choose another",
        ));
    }
    check_not_personal(password, field, about)
}

/// The part of [`check_new_password`] that needs to know the account: refuses a password equal
/// to one of `about` (an email address, also by its local part, or a name), ignoring case and
/// whitespace. For flows that learn the name only after the other checks.
pub fn check_not_personal(
    password: &str,
    field: &'static str,
    about: &[&str],
) -> Result<(), Invalid> {
    let given = squeezed(password);
    let personal = about.iter().flat_map(|word| {
        // An address's local part too: `ananya.rao` is as guessable as `ananya.rao@example.org`.
        let local = word.rsplit_once('@').map(|(local, _)| local);
        std::iter::once(*word).chain(local)
    });
    for word in personal {
        if !word.trim().is_empty() && squeezed(word) == given {
            return Err(Invalid::new(
                field,
                "a password must not be your email address or name",
            ));
        }
    }
    Ok(())
}

/// Lower case without whitespace, so `Asha Rao`, `asharao` and `ASHA  RAO` compare equal.
fn squeezed(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
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

    fn check(password: &str) -> Result<(), Invalid> {
        check_new_password(
            password,
            "password",
            PasswordPolicy::default(),
            &["ananya.rao@example.org", "Ananya Rao"],
        )
    }

    #[test]
    fn a_password_needs_the_minimum_length_and_nothing_more_of_its_make_up() {
        let e = check("kx7#qzw").expect_err("seven characters");
        assert_eq!(e.field, "password");
        assert_eq!(e.message, "a password must be at least 8 characters long");
        // No composition rules: letters only, digits only, spaces, any script.
        for fine in [
            "tigerlily",
            "73915284",
            "blue sky lake",
            "Zoë Ångström",
            "अनन्याराव",
        ] {
            assert_eq!(check(fine), Ok(()), "{fine}");
        }
        // Lengths count characters (code points), not bytes: seven of them in 21 bytes are seven.
        assert!(check("अनन्यार").is_err());
    }

    #[test]
    fn the_minimum_is_configurable_from_the_originals_six_up_to_sixty_four() {
        let six = PasswordPolicy::new(6).expect("the original's minimum");
        assert_eq!(check_new_password("kx7qzw", "password", six, &[]), Ok(()));
        assert!(check_new_password("kx7qz", "password", six, &[]).is_err());
        assert_eq!(PasswordPolicy::new(5), None);
        assert_eq!(PasswordPolicy::new(65), None);
        let strict = PasswordPolicy::new(64).expect("the highest minimum");
        assert_eq!(
            check_new_password(&"correct horse ".repeat(5)[..64], "password", strict, &[]),
            Ok(())
        );
    }

    #[test]
    fn long_passwords_are_welcome_up_to_the_maximum() {
        let long = "a sentence long enough to remember and far too long to guess, ".repeat(2);
        assert_eq!(long.chars().count(), 124);
        assert_eq!(check(&long), Ok(()));
        assert_eq!(check(&"x y".repeat(43)[..128]), Ok(()));
        let e = check(&"x y".repeat(43)).expect_err("129 characters");
        assert_eq!(e.message, "a password must be at most 128 characters long");
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in [
            "password",
            "Password123",
            "QWERTY123",
            "iloveyou",
            "P@ssw0rd",
            "India@123",
            "1q2w3e4r5t",
        ] {
            let e = check(common).expect_err(common);
            assert!(
                e.message.contains("most commonly used"),
                "{common}: {}",
                e.message
            );
        }
        assert!(is_common_password(" 12345678 "));
        assert!(!is_common_password("correct horse 42"));
    }

    #[test]
    fn one_character_repeated_is_refused() {
        let e = check("zzzzzzzzzzzz").expect_err("repeated");
        assert!(e.message.contains("repeated"), "{}", e.message);
    }

    #[test]
    fn a_password_equal_to_the_email_or_name_is_refused() {
        for personal in [
            "ananya.rao@example.org",
            "ANANYA.RAO@EXAMPLE.ORG",
            "ananya.rao",
            "Ananya Rao",
            "ananyarao",
            "ANANYA  RAO",
        ] {
            let e = check(personal).expect_err(personal);
            assert_eq!(
                e.message, "a password must not be your email address or name",
                "{personal}"
            );
        }
        // Containing the name is allowed: only equality is the guess everyone tries first.
        assert_eq!(check("ananya rao plays the sitar"), Ok(()));
    }

    #[test]
    fn the_common_password_list_is_lower_case_sorted_unique_and_long_enough_to_matter() {
        let lines: Vec<&str> = common_password_lines().collect();
        assert!(lines.len() >= 1000, "{} entries", lines.len());
        for pair in lines.windows(2) {
            assert!(pair[0] < pair[1], "not byte-sorted and unique: {pair:?}");
        }
        for line in &lines {
            assert_eq!(*line, line.to_lowercase(), "upper case in {line:?}");
            assert_eq!(*line, line.trim(), "whitespace around {line:?}");
            assert!(
                line.chars().count() >= PasswordPolicy::LOWEST_MIN_CHARS,
                "{line:?} is shorter than any minimum"
            );
        }
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
