use std::{fmt, sync::RwLock, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    transport::smtp::{
        PoolConfig,
        authentication::Credentials,
        client::{Tls, TlsParameters},
        extension::ClientId,
    },
};

use crate::MailError;

/// How the SMTP session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text, never upgraded (`?tls=none`): local relays and test sinks only.
    None,
    /// STARTTLS when the server offers it, plain otherwise (the `smtp://` default).
    Opportunistic,
    /// STARTTLS or fail (`?tls=required`).
    Required,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// Where and how to reach the SMTP relay, usually parsed from `SMTP_URL`.
///
/// `smtp://[user[:password]@]host[:port][/helo-name][?tls=opportunistic|required|none]`
/// or `smtps://…`; user and password are percent-decoded. The port defaults to 587 for
/// `smtp` and 465 for `smtps`. Optional query parameters `connect_timeout_ms`,
/// `send_timeout_ms` and `pool_size` override the defaults (10 s, 30 s, 10). The password
/// appears in neither `Debug` nor `Display`.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    password: Option<String>,
    /// Name sent with EHLO; the machine's hostname when unset.
    pub hello_name: Option<String>,
    /// Limit on opening the TCP connection.
    pub connect_timeout: Duration,
    /// Limit on one whole delivery: waiting for a connection, EHLO, AUTH, MAIL..DATA.
    pub send_timeout: Duration,
    /// Most idle connections kept open for reuse.
    pub pool_size: u32,
    /// Idle connections are closed after this long.
    pub pool_idle_timeout: Duration,
}

impl SmtpConfig {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

    /// A plain-text configuration for a relay on `host:port` with default limits.
    pub fn new(host: impl Into<String>, port: u16, tls: TlsMode) -> Self {
        Self {
            host: host.into(),
            port,
            tls,
            username: None,
            password: None,
            hello_name: None,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            send_timeout: Self::DEFAULT_SEND_TIMEOUT,
            pool_size: 10,
            pool_idle_timeout: Duration::from_secs(60),
        }
    }

    /// Sets the login used with AUTH (PLAIN or LOGIN, whichever the server offers).
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    pub fn with_timeouts(mut self, connect: Duration, send: Duration) -> Self {
        self.connect_timeout = connect;
        self.send_timeout = send;
        self
    }

    /// Parses an `SMTP_URL`. Errors name the problem but never repeat the URL, which may
    /// hold a password.
    pub fn from_url(raw: &str) -> Result<Self, MailError> {
        let url = url::Url::parse(raw.trim())
            .map_err(|err| MailError::Config(format!("SMTP_URL is not a valid URL ({err})")))?;
        let (implicit, default_port) = match url.scheme() {
            "smtp" => (false, 587),
            "smtps" => (true, 465),
            other => {
                return Err(MailError::Config(format!(
                    "SMTP_URL scheme must be smtp or smtps, not {other:?}"
                )));
            }
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| MailError::Config("SMTP_URL has no host".to_owned()))?;
        // IPv6 literals come back bracketed; resolution wants them bare.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let mut config = Self::new(
            host,
            url.port().unwrap_or(default_port),
            TlsMode::Opportunistic,
        );
        if implicit {
            config.tls = TlsMode::Implicit;
        }

        for (key, value) in url.query_pairs() {
            let millis = |name: &str| {
                value
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| {
                        MailError::Config(format!(
                            "SMTP_URL parameter {name} must be a number of milliseconds"
                        ))
                    })
            };
            match key.as_ref() {
                "tls" if implicit => {
                    if value != "implicit" && value != "required" {
                        return Err(MailError::Config(
                            "smtps:// always uses TLS; drop the tls parameter".to_owned(),
                        ));
                    }
                }
                "tls" => {
                    config.tls = match value.as_ref() {
                        "none" => TlsMode::None,
                        "opportunistic" => TlsMode::Opportunistic,
                        "required" => TlsMode::Required,
                        _ => {
                            return Err(MailError::Config(
                                "SMTP_URL parameter tls must be none, opportunistic or required"
                                    .to_owned(),
                            ));
                        }
                    }
                }
                "connect_timeout_ms" => config.connect_timeout = millis("connect_timeout_ms")?,
                "send_timeout_ms" => config.send_timeout = millis("send_timeout_ms")?,
                "pool_size" => {
                    config.pool_size = value.parse().map_err(|_| {
                        MailError::Config(
                            "SMTP_URL parameter pool_size must be a number".to_owned(),
                        )
                    })?
                }
                other => {
                    return Err(MailError::Config(format!(
                        "SMTP_URL has an unknown parameter {other:?}"
                    )));
                }
            }
        }

        let decode = |part: &str, what: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .map_err(|_| {
                    MailError::Config(format!(
                        "SMTP_URL {what} is not valid UTF-8 once percent-decoded"
                    ))
                })
        };
        if !url.username().is_empty() {
            config.username = Some(decode(url.username(), "user")?);
            config.password = Some(match url.password() {
                Some(password) => decode(password, "password")?,
                None => String::new(),
            });
        }
        let path = url.path().trim_matches('/');
        if !path.is_empty() {
            config.hello_name = Some(path.to_owned());
        }
        Ok(config)
    }

    fn build_transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let tls_parameters = || {
            TlsParameters::new(self.host.clone())
                .map_err(|err| MailError::Config(format!("TLS setup for {}: {err}", self.host)))
        };
        let tls = match self.tls {
            TlsMode::None => Tls::None,
            TlsMode::Opportunistic => Tls::Opportunistic(tls_parameters()?),
            TlsMode::Required => Tls::Required(tls_parameters()?),
            TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
                .port(self.port)
                .tls(tls)
                .timeout(Some(self.connect_timeout))
                .pool_config(
                    PoolConfig::new()
                        .max_size(self.pool_size)
                        .idle_timeout(self.pool_idle_timeout),
                );
        if let (Some(username), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        if let Some(name) = &self.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        Ok(builder.build())
    }
}

impl fmt::Display for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls == TlsMode::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        write!(f, "{scheme}://")?;
        if let Some(username) = &self.username {
            write!(f, "{username}:***@")?;
        }
        write!(f, "{}:{}", self.host, self.port)?;
        match self.tls {
            TlsMode::None => write!(f, "?tls=none"),
            TlsMode::Required => write!(f, "?tls=required"),
            TlsMode::Opportunistic | TlsMode::Implicit => Ok(()),
        }
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("hello_name", &self.hello_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("send_timeout", &self.send_timeout)
            .field("pool_size", &self.pool_size)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .finish()
    }
}

/// The pooled lettre transport, replaced wholesale after a send times out: a send cancelled
/// half-way leaves its connection mid-dialogue, and lettre would otherwise put it back in
/// the pool where the next message would read the stale replies.
///
/// It also remembers its runtime: lettre's pool spawns a task when dropped, which panics
/// outside a runtime context (as when the last `Mailer` clone goes after `block_on` returns).
pub(crate) struct SmtpTransport {
    config: SmtpConfig,
    server: String,
    runtime: tokio::runtime::Handle,
    transport: RwLock<Option<AsyncSmtpTransport<Tokio1Executor>>>,
}

impl SmtpTransport {
    pub(crate) fn new(config: SmtpConfig) -> Result<Self, MailError> {
        // lettre's pool spawns its reaper task when built.
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            MailError::Config(
                "the SMTP transport must be created inside a Tokio runtime".to_owned(),
            )
        })?;
        let transport = config.build_transport()?;
        Ok(Self {
            server: format!("{}:{}", config.host, config.port),
            config,
            runtime,
            transport: RwLock::new(Some(transport)),
        })
    }

    pub(crate) fn config(&self) -> &SmtpConfig {
        &self.config
    }

    fn current(&self) -> Option<AsyncSmtpTransport<Tokio1Executor>> {
        self.transport
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) async fn send(&self, message: &lettre::Message) -> Result<(), MailError> {
        let Some(transport) = self.current() else {
            return Err(MailError::Smtp(
                "the SMTP transport is shut down".to_owned(),
            ));
        };
        match tokio::time::timeout(self.config.send_timeout, transport.send(message.clone())).await
        {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(err)) => Err(MailError::from_smtp(
                &err,
                &self.server,
                self.config.connect_timeout,
            )),
            Err(_elapsed) => {
                if let Ok(fresh) = self.config.build_transport() {
                    let old = self
                        .transport
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .replace(fresh);
                    // Close the idle connections now rather than when the last clone goes.
                    if let Some(old) = old {
                        tokio::spawn(async move { old.shutdown().await });
                    }
                }
                Err(MailError::Timeout {
                    stage: "send",
                    after: self.config.send_timeout,
                })
            }
        }
    }

    /// Closes the pool; later sends fail (transiently) instead of reconnecting.
    pub(crate) async fn shutdown(&self) {
        let transport = self
            .transport
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(transport) = transport {
            transport.shutdown().await;
        }
    }
}

impl Drop for SmtpTransport {
    fn drop(&mut self) {
        let transport = self
            .transport
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // A shut-down runtime drops the spawned task instead of running it, which is fine.
        let _entered = self.runtime.enter();
        drop(transport);
    }
}
