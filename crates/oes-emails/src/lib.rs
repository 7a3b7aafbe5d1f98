//! The OES platform's emails, rendered from compile-time checked askama templates.
//!
//! The parts:
//! - one input struct per email ([`VerifyEmail`], [`PasswordReset`], [`PasswordChanged`],
//!   [`EmailChangeConfirm`], [`EmailChangeNotice`], [`AdminNotification`]), each with a
//!   `render()` giving a [`RenderedEmail`] — subject, HTML and plain text;
//! - `templates/`: `*.html` (auto-escaped, sharing `base.html`) and `*.txt` (no escaping: a
//!   text body is not markup) for each email;
//! - [`RenderedEmail::into_email`] turns a render into an [`oes_mail::Email`];
//! - [`EmailsError`].
//!
//! Everything a user or admin typed (names, user agents, admin text) is escaped in HTML. Links
//! must be `http(s)://`, so a `javascript:` URL can never end up in an `href`.
//!
//! ```
//! let rendered = oes_emails::VerifyEmail {
//!     name: "Ada",
//!     link: "https://oes.example/verify-email?token=abc",
//!     expiry_hours: 24,
//! }
//! .render()?;
//! let email = rendered.into_email("OES <no-reply@oes.example>", "ada@example.com")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use askama::Template;
use chrono::{DateTime, Utc};

/// Why an email could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum EmailsError {
    #[error("could not render the {template} email: {source}")]
    Render {
        template: &'static str,
        #[source]
        source: askama::Error,
    },
    /// A link that is not `http://` or `https://` (only the scheme is reported: links carry tokens).
    #[error("the {template} email needs an http(s) link, not {scheme:?}")]
    UnsafeLink {
        template: &'static str,
        scheme: String,
    },
}

/// A rendered email, ready to address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl RenderedEmail {
    /// Addresses the render; fails when an address is invalid.
    pub fn into_email(self, from: &str, to: &str) -> Result<oes_mail::Email, oes_mail::MailError> {
        oes_mail::Email::new(from, to, self.subject, self.html, self.text)
    }
}

fn render<H: Template, T: Template>(
    template: &'static str,
    subject: String,
    html: H,
    text: T,
) -> Result<RenderedEmail, EmailsError> {
    let wrap = |source| EmailsError::Render { template, source };
    Ok(RenderedEmail {
        subject,
        html: html.render().map_err(wrap)?,
        text: text.render().map_err(wrap)?,
    })
}

fn check_link(template: &'static str, link: &str) -> Result<(), EmailsError> {
    let lower = link.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(());
    }
    let scheme = lower
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .unwrap_or("")
        .chars()
        .take(16)
        .collect();
    Err(EmailsError::UnsafeLink { template, scheme })
}

/// Sent at sign-up and on "resend verification": a link to confirm the address.
#[derive(Debug, Clone)]
pub struct VerifyEmail<'a> {
    pub name: &'a str,
    pub link: &'a str,
    pub expiry_hours: u32,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyEmailHtml<'a> {
    e: &'a VerifyEmail<'a>,
}

#[derive(Template)]
#[template(path = "verify_email.txt")]
struct VerifyEmailText<'a> {
    e: &'a VerifyEmail<'a>,
}

impl VerifyEmail<'_> {
    pub const SUBJECT: &'static str = "Verify your email";

    pub fn render(&self) -> Result<RenderedEmail, EmailsError> {
        check_link("verify-email", self.link)?;
        render(
            "verify-email",
            Self::SUBJECT.to_owned(),
            VerifyEmailHtml { e: self },
            VerifyEmailText { e: self },
        )
    }
}

/// "Forgot password": a one-time code.
#[derive(Debug, Clone)]
pub struct PasswordReset<'a> {
    pub name: &'a str,
    pub code: &'a str,
    pub expiry_minutes: u32,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct PasswordResetHtml<'a> {
    e: &'a PasswordReset<'a>,
}

#[derive(Template)]
#[template(path = "password_reset.txt")]
struct PasswordResetText<'a> {
    e: &'a PasswordReset<'a>,
}

impl PasswordReset<'_> {
    pub const SUBJECT: &'static str = "Password Reset OTP";

    pub fn render(&self) -> Result<RenderedEmail, EmailsError> {
        render(
            "password-reset",
            Self::SUBJECT.to_owned(),
            PasswordResetHtml { e: self },
            PasswordResetText { e: self },
        )
    }
}

/// After a password change or reset: when, from where, from what.
#[derive(Debug, Clone)]
pub struct PasswordChanged<'a> {
    pub name: &'a str,
    pub at: DateTime<Utc>,
    pub ip: &'a str,
    pub user_agent: &'a str,
}

#[derive(Template)]
#[template(path = "password_changed.html")]
struct PasswordChangedHtml<'a> {
    e: &'a PasswordChanged<'a>,
    when: &'a str,
}

#[derive(Template)]
#[template(path = "password_changed.txt")]
struct PasswordChangedText<'a> {
    e: &'a PasswordChanged<'a>,
    when: &'a str,
}

impl PasswordChanged<'_> {
    pub const SUBJECT: &'static str = "Password Changed Successfully";

    pub fn render(&self) -> Result<RenderedEmail, EmailsError> {
        // UTC and spelled out: the reader may be anywhere, and the platform stores UTC.
        let when = self.at.format("%-d %B %Y, %H:%M UTC").to_string();
        render(
            "password-changed",
            Self::SUBJECT.to_owned(),
            PasswordChangedHtml {
                e: self,
                when: &when,
            },
            PasswordChangedText {
                e: self,
                when: &when,
            },
        )
    }
}

/// Sent to the new address when a user asks to change theirs.
#[derive(Debug, Clone)]
pub struct EmailChangeConfirm<'a> {
    pub name: &'a str,
    pub new_email: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email_change_confirm.html")]
struct EmailChangeConfirmHtml<'a> {
    e: &'a EmailChangeConfirm<'a>,
}

#[derive(Template)]
#[template(path = "email_change_confirm.txt")]
struct EmailChangeConfirmText<'a> {
    e: &'a EmailChangeConfirm<'a>,
}

impl EmailChangeConfirm<'_> {
    pub const SUBJECT: &'static str = "Confirm your new email address";

    pub fn render(&self) -> Result<RenderedEmail, EmailsError> {
        check_link("email-change-confirm", self.link)?;
        render(
            "email-change-confirm",
            Self::SUBJECT.to_owned(),
            EmailChangeConfirmHtml { e: self },
            EmailChangeConfirmText { e: self },
        )
    }
}

/// Sent to the old address when a change is requested. The new address is shown masked, so
/// a reader of the old mailbox learns that a change happened but not where the account went.
#[derive(Debug, Clone)]
pub struct EmailChangeNotice<'a> {
    pub name: &'a str,
    pub new_email: &'a str,
}

#[derive(Template)]
#[template(path = "email_change_notice.html")]
struct EmailChangeNoticeHtml<'a> {
    e: &'a EmailChangeNotice<'a>,
    masked_new_email: &'a str,
}

#[derive(Template)]
#[template(path = "email_change_notice.txt")]
struct EmailChangeNoticeText<'a> {
    e: &'a EmailChangeNotice<'a>,
    masked_new_email: &'a str,
}

impl EmailChangeNotice<'_> {
    pub const SUBJECT: &'static str = "Your OES email address is being changed";

    pub fn render(&self) -> Result<RenderedEmail, EmailsError> {
        let masked = oes_mail::mask_address(self.new_email);
        render(
            "email-change-notice",
            Self::SUBJECT.to_owned(),
            EmailChangeNoticeHtml {
                e: self,
                masked_new_email: &masked,
            },
            EmailChangeNoticeText {
                e: self,
                masked_new_email: &masked,
            },
        )
    }
}

/// A message an admin writes to users: plain text, escaped, line breaks kept.
#[derive(Debug, Clone)]
pub struct AdminNotification<'a> {
    /// The recipient's name for the greeting, when known.
    pub name: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
}

#[derive(Template)]
#[template(path = "admin_notification.html")]
struct AdminNotificationHtml<'a> {
    e: &'a AdminNotification<'a>,
    subject: &'a str,
}

#[derive(Template)]
#[template(path = "admin_notification.txt")]
struct AdminNotificationText<'a> {
    e: &'a AdminNotification<'a>,
}

impl AdminNotification<'_> {
    pub fn render(&self) -> Result<RenderedEmail, EmailsError> {
        // A subject is one line; collapse whatever the admin typed into one.
        let subject = self
            .subject
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let body = self.body.replace("\r\n", "\n");
        let e = AdminNotification {
            body: &body,
            ..self.clone()
        };
        render(
            "admin-notification",
            subject.clone(),
            AdminNotificationHtml {
                e: &e,
                subject: &subject,
            },
            AdminNotificationText { e: &e },
        )
    }
}
