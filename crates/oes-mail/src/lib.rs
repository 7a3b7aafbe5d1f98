//! Outgoing email for OES. Knows nothing of exams.
//!
//! The parts:
//! - [`Email`]: one message (from, to, optional reply-to, subject, HTML and a plain-text
//!   alternative), with addresses validated when it is built;
//! - [`Mailer`]: sends an `Email` through one transport, chosen by [`Mailer::from_url`]:
//!   - SMTP ([`SmtpConfig`], from `SMTP_URL`): lettre's pooled async transport with rustls,
//!     STARTTLS opportunistic by default, required with `?tls=required`, off with `?tls=none`,
//!     implicit TLS with `smtps://`, bounded by a connect and a whole-send timeout;
//!   - file: one `.eml` per message under a directory (the embedded default, `data/mail/`);
//!   - memory: messages kept in a [`MemoryOutbox`] that tests read;
//! - [`MailError`]: [`MailError::is_permanent`] tells a job queue whether to retry;
//! - [`mask_address`]: `j***@example.com`, used for every recipient this crate logs;
//! - [`html_to_text`] and [`Email::from_html`]: a text alternative for HTML-only messages
//!   (the Node system's `{to, subject, html}` jobs);
//! - `sink` (cargo feature `sink`): [`sink::SmtpSink`], a small SMTP server on 127.0.0.1 that
//!   records or refuses what it is sent, and [`sink::ParsedMessage`] to read MIME messages,
//!   for tests and benchmarks across the workspace.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oes_mail::MailError> {
//! let mailer = oes_mail::Mailer::from_url(std::env::var("SMTP_URL").ok().as_deref(), "data/mail")?;
//! let email = oes_mail::Email::new(
//!     "OES <no-reply@oes.example>",
//!     "student@example.com",
//!     "Verify your email",
//!     "<p>Hello</p>",
//!     "Hello",
//! )?;
//! match mailer.send(&email).await {
//!     Ok(sent) => println!("sent {}", sent.message_id),
//!     Err(err) if err.is_permanent() => { /* give up */ }
//!     Err(_) => { /* retry later */ }
//! }
//! # Ok(()) }
//! ```

mod email;
mod error;
mod file;
mod mailer;
mod mask;
mod memory;
#[cfg(feature = "sink")]
pub mod sink;
mod smtp;
mod text;

pub use email::Email;
pub use error::MailError;
pub use lettre::message::Mailbox;
pub use mailer::{Mailer, Sent};
pub use mask::mask_address;
pub use memory::{MemoryOutbox, SentEmail};
pub use smtp::{SmtpConfig, TlsMode};
pub use text::html_to_text;

/// Where the embedded default writes `.eml` files.
pub const DEFAULT_MAIL_DIR: &str = "data/mail";
