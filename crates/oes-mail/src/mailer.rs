use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{
    Email, MailError, MemoryOutbox, SentEmail, SmtpConfig, file::FileTransport, smtp::SmtpTransport,
};

/// What a successful send produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The `Message-ID` header given to the message, angle brackets included.
    pub message_id: String,
    /// The file written, for the file transport.
    pub path: Option<PathBuf>,
}

enum Transport {
    Smtp(SmtpTransport),
    File(FileTransport),
    Memory(MemoryOutbox),
}

/// Sends [`Email`]s through one transport. Cheap to clone; clones share the SMTP pool.
#[derive(Clone)]
pub struct Mailer {
    transport: Arc<Transport>,
}

impl Mailer {
    /// Picks the transport from configuration (typically `SMTP_URL`):
    /// `None` or empty writes `.eml` files under `file_dir`; `memory://` keeps messages in
    /// memory; `file:///some/dir` writes files there; `smtp://` and `smtps://` go through
    /// [`SmtpConfig::from_url`]. Must be called inside a Tokio runtime for SMTP.
    pub fn from_url(url: Option<&str>, file_dir: impl Into<PathBuf>) -> Result<Self, MailError> {
        let url = url.map(str::trim).filter(|url| !url.is_empty());
        let Some(url) = url else {
            return Ok(Self::file(file_dir));
        };
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("memory") => Ok(Self::memory()),
            Some("file") => {
                let parsed = url::Url::parse(url).map_err(|err| {
                    MailError::Config(format!("mail file URL is invalid ({err})"))
                })?;
                let dir = parsed.to_file_path().map_err(|()| {
                    MailError::Config("mail file URL must be file:///absolute/dir".to_owned())
                })?;
                Ok(Self::file(dir))
            }
            Some("smtp" | "smtps") => Self::smtp(SmtpConfig::from_url(url)?),
            Some(other) => Err(MailError::Config(format!(
                "mail URL scheme must be smtp, smtps, file or memory, not {other:?}"
            ))),
            None => Err(MailError::Config(
                "mail URL must look like scheme://…".to_owned(),
            )),
        }
    }

    /// A pooled SMTP mailer. Must be called inside a Tokio runtime.
    pub fn smtp(config: SmtpConfig) -> Result<Self, MailError> {
        Ok(Self::with(Transport::Smtp(SmtpTransport::new(config)?)))
    }

    /// A mailer writing one `.eml` file per message under `dir` (created when needed).
    pub fn file(dir: impl Into<PathBuf>) -> Self {
        Self::with(Transport::File(FileTransport::new(dir.into())))
    }

    /// A mailer that records messages in memory; read them through [`Mailer::memory_outbox`].
    pub fn memory() -> Self {
        Self::with(Transport::Memory(MemoryOutbox::default()))
    }

    fn with(transport: Transport) -> Self {
        Self {
            transport: Arc::new(transport),
        }
    }

    /// The recorded messages, for a memory mailer.
    pub fn memory_outbox(&self) -> Option<MemoryOutbox> {
        match &*self.transport {
            Transport::Memory(outbox) => Some(outbox.clone()),
            _ => None,
        }
    }

    /// The directory written to, for a file mailer.
    pub fn file_dir(&self) -> Option<&Path> {
        match &*self.transport {
            Transport::File(file) => Some(file.dir()),
            _ => None,
        }
    }

    /// A description of the transport that is safe to log (no password).
    pub fn describe(&self) -> String {
        match &*self.transport {
            Transport::Smtp(smtp) => smtp.config().to_string(),
            Transport::File(file) => format!("file:{}", file.dir().display()),
            Transport::Memory(_) => "memory://".to_owned(),
        }
    }

    fn kind(&self) -> &'static str {
        match &*self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
            Transport::Memory(_) => "memory",
        }
    }

    /// Sends one email. On failure, [`MailError::is_permanent`] says whether a retry can help.
    pub async fn send(&self, email: &Email) -> Result<Sent, MailError> {
        let message_id = email.new_message_id();
        let result = self.deliver(email, &message_id).await;
        let to = email.masked_recipient();
        match &result {
            Ok(_) => tracing::info!(transport = self.kind(), %to, %message_id, "email sent"),
            Err(err) => tracing::warn!(
                transport = self.kind(),
                %to,
                %message_id,
                permanent = err.is_permanent(),
                error = %err,
                "email not sent"
            ),
        }
        result
    }

    async fn deliver(&self, email: &Email, message_id: &str) -> Result<Sent, MailError> {
        let message = email.to_message(message_id)?;
        let sent = |path| Sent {
            message_id: message_id.to_owned(),
            path,
        };
        match &*self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(&message).await?;
                Ok(sent(None))
            }
            Transport::File(file) => {
                let path = file.send(&message.formatted()).await?;
                Ok(sent(Some(path)))
            }
            Transport::Memory(outbox) => {
                outbox.record(SentEmail {
                    email: email.clone(),
                    message_id: message_id.to_owned(),
                    raw: message.formatted(),
                });
                Ok(sent(None))
            }
        }
    }

    /// Closes pooled SMTP connections (QUIT); for a graceful shutdown. Later sends on an SMTP
    /// mailer fail with a transient error.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(smtp) = &*self.transport {
            smtp.shutdown().await;
        }
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.describe())
            .finish()
    }
}
