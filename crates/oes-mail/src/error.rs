use std::time::Duration;

use crate::mask::mask_addresses_in;

/// Everything that can go wrong building or sending an email.
///
/// The split that matters to callers is [`MailError::is_permanent`]: a job queue retries
/// transient failures and gives up on permanent ones. No variant ever carries an SMTP
/// password, and server replies are stored with any email addresses in them masked.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address did not parse; the masked input is kept for the log.
    #[error("invalid email address {0}")]
    InvalidAddress(String),
    /// The message could not be assembled (e.g. a header lettre refuses).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// The mailer configuration (usually `SMTP_URL`) is unusable.
    #[error("invalid mail configuration: {0}")]
    Config(String),
    /// The server answered 5xx: retrying the same message will not help.
    #[error("SMTP server rejected the message ({code}): {message}")]
    Rejected { code: u16, message: String },
    /// The server answered 4xx: try again later.
    #[error("SMTP server deferred the message ({code}): {message}")]
    Deferred { code: u16, message: String },
    /// No SMTP session could be opened (refused, unreachable, TLS handshake, greeting).
    #[error("could not connect to the SMTP server {server}: {reason}")]
    Connect { server: String, reason: String },
    /// Connecting or sending took longer than configured.
    #[error("SMTP {stage} timed out after {after:?}")]
    Timeout {
        stage: &'static str,
        after: Duration,
    },
    /// The session broke half-way or the server spoke nonsense.
    #[error("SMTP error: {0}")]
    Smtp(String),
    /// Writing an `.eml` file failed.
    #[error("could not write the email file: {0}")]
    Io(#[from] std::io::Error),
}

impl MailError {
    /// True when sending the same message again cannot succeed: a 5xx reply, a bad address,
    /// a message or configuration that is wrong. Everything else (4xx, connection refused,
    /// timeouts, broken sessions, disk errors) is worth retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::InvalidAddress(_)
                | Self::InvalidMessage(_)
                | Self::Config(_)
                | Self::Rejected { .. }
        )
    }

    /// The SMTP reply code, when the failure was a reply from the server.
    pub fn smtp_code(&self) -> Option<u16> {
        match self {
            Self::Rejected { code, .. } | Self::Deferred { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn from_smtp(
        err: &lettre::transport::smtp::Error,
        server: &str,
        connect_timeout: Duration,
    ) -> Self {
        let reply = std::error::Error::source(err)
            .map(|source| mask_addresses_in(&source.to_string()))
            .unwrap_or_default();
        if let Some(code) = err.status() {
            // lettre prints a reply code as its three digits.
            let code = code.to_string().parse().unwrap_or(0);
            return if err.is_permanent() {
                Self::Rejected {
                    code,
                    message: reply,
                }
            } else {
                Self::Deferred {
                    code,
                    message: reply,
                }
            };
        }
        if err.is_timeout() {
            return Self::Timeout {
                stage: "connect",
                after: connect_timeout,
            };
        }
        let is_connect = err.to_string().starts_with("Connection error");
        if is_connect || err.is_tls() {
            return Self::Connect {
                server: server.to_owned(),
                reason: mask_addresses_in(&err.to_string()),
            };
        }
        Self::Smtp(mask_addresses_in(&err.to_string()))
    }
}
