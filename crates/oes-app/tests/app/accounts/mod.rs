//! `/api/auth` and `/api/profile` over HTTP on SQLite and PostgreSQL: signup, verification,
//! sessions, rate limits, password reset and the profile.

mod auth;
mod enumeration;
mod hashing;
mod limits;
mod lockout;
mod passwords;
mod profile;
mod reset;
mod sessions;

use oes_app::db::Backend;

use crate::support::TestApp;

/// An app for the account flows: cheap password hashing (every test signs up and logs in) and
/// emailed links that point at a fixed frontend.
pub async fn start(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    TestApp::builder(backend)
        .fast_password_hashing()
        .var("APP_BASE_URL", "http://app.oes.test")
        .vars(extra)
        .start()
        .await
}

/// The six-digit code in a reset email.
pub fn reset_code(mail: &oes_mail::sink::ParsedMessage) -> String {
    let text = mail.text().expect("a text part");
    text.split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in: {text}"))
        .to_owned()
}
