use lettre::message::{Mailbox, MultiPart, header::ContentType};

use crate::{MailError, html_to_text, mask::mask_address};

/// One outgoing email: a single recipient, a subject, and an HTML body with its plain-text
/// alternative (sent as `multipart/alternative`, text first so HTML is preferred).
///
/// Addresses are parsed when the email is built, so a bad address is an error at the call
/// site rather than at the SMTP server. They may carry a display name (`OES <no-reply@oes.example>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    from: Mailbox,
    to: Mailbox,
    reply_to: Option<Mailbox>,
    subject: String,
    html: String,
    text: String,
}

fn parse_mailbox(address: &str) -> Result<Mailbox, MailError> {
    address
        .trim()
        .parse()
        .map_err(|_| MailError::InvalidAddress(mask_address(address)))
}

impl Email {
    /// Builds an email, validating both addresses.
    pub fn new(
        from: &str,
        to: &str,
        subject: impl Into<String>,
        html: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Self, MailError> {
        Ok(Self {
            from: parse_mailbox(from)?,
            to: parse_mailbox(to)?,
            reply_to: None,
            subject: subject.into(),
            html: html.into(),
            text: text.into(),
        })
    }

    /// Builds an email from HTML alone, deriving the text alternative with [`html_to_text`]
    /// (for Node-compatible `{to, subject, html}` jobs).
    pub fn from_html(
        from: &str,
        to: &str,
        subject: impl Into<String>,
        html: impl Into<String>,
    ) -> Result<Self, MailError> {
        let html = html.into();
        let text = html_to_text(&html);
        Self::new(from, to, subject, html, text)
    }

    /// Sets the `Reply-To` address, validating it.
    pub fn with_reply_to(mut self, reply_to: &str) -> Result<Self, MailError> {
        self.reply_to = Some(parse_mailbox(reply_to)?);
        Ok(self)
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    pub fn to(&self) -> &Mailbox {
        &self.to
    }

    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn html(&self) -> &str {
        &self.html
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The recipient's address masked for logs (see [`mask_address`]).
    pub fn masked_recipient(&self) -> String {
        mask_address(self.to.email.as_ref())
    }

    /// The lettre message, with the given `Message-ID` (angle brackets included).
    pub(crate) fn to_message(&self, message_id: &str) -> Result<lettre::Message, MailError> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(self.subject.clone())
            .message_id(Some(message_id.to_owned()))
            .date_now();
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let body = MultiPart::alternative()
            .singlepart(
                lettre::message::SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(self.text.clone()),
            )
            .singlepart(
                lettre::message::SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(self.html.clone()),
            );
        builder
            .multipart(body)
            .map_err(|err| MailError::InvalidMessage(err.to_string()))
    }

    /// A fresh globally unique `Message-ID` in the sender's domain.
    pub(crate) fn new_message_id(&self) -> String {
        format!(
            "<{}@{}>",
            uuid::Uuid::new_v4().simple(),
            self.from.email.domain()
        )
    }
}
