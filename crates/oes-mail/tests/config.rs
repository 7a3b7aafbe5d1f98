//! `SMTP_URL` parsing and transport selection.

use std::time::Duration;

use oes_mail::{MailError, Mailer, SmtpConfig, TlsMode};

#[test]
fn plain_smtp_urls_use_opportunistic_starttls_on_587() {
    let config = SmtpConfig::from_url("smtp://mail.example.com").expect("valid");
    assert_eq!(config.host, "mail.example.com");
    assert_eq!(config.port, 587);
    assert_eq!(config.tls, TlsMode::Opportunistic);
    assert_eq!(config.username, None);
}

#[test]
fn the_tls_parameter_selects_required_or_none() {
    let required =
        SmtpConfig::from_url("smtp://mail.example.com:2525?tls=required").expect("valid");
    assert_eq!((required.port, required.tls), (2525, TlsMode::Required));
    let none = SmtpConfig::from_url("smtp://127.0.0.1:1025?tls=none").expect("valid");
    assert_eq!((none.port, none.tls), (1025, TlsMode::None));
}

#[test]
fn smtps_urls_use_implicit_tls_on_465() {
    let config = SmtpConfig::from_url("smtps://mail.example.com").expect("valid");
    assert_eq!((config.port, config.tls), (465, TlsMode::Implicit));
}

#[test]
fn credentials_are_percent_decoded_and_hidden_from_display_and_debug() {
    let config = SmtpConfig::from_url("smtp://user%40example.com:p%40ss%2Fw0rd@mail.example.com")
        .expect("valid");
    assert_eq!(config.username.as_deref(), Some("user@example.com"));
    let shown = format!("{config} {config:?}");
    assert!(!shown.contains("p@ss"), "{shown}");
    assert!(!shown.contains("p%40ss"), "{shown}");
    assert!(
        shown.contains("smtp://user@example.com:***@mail.example.com:587"),
        "{shown}"
    );
}

#[test]
fn timeouts_and_pool_size_can_be_set_in_the_url() {
    let config = SmtpConfig::from_url(
        "smtp://h?tls=none&connect_timeout_ms=1500&send_timeout_ms=9000&pool_size=3",
    )
    .expect("valid");
    assert_eq!(config.connect_timeout, Duration::from_millis(1500));
    assert_eq!(config.send_timeout, Duration::from_millis(9000));
    assert_eq!(config.pool_size, 3);
}

#[test]
fn bad_urls_are_configuration_errors_that_do_not_echo_the_url() {
    for url in [
        "http://user:hunter2@mail.example.com",
        "smtp://user:hunter2@mail.example.com?tls=sometimes",
        "smtp://user:hunter2@mail.example.com?colour=blue",
        "smtp://user:hunter2@mail.example.com?send_timeout_ms=soon",
    ] {
        let err = SmtpConfig::from_url(url).expect_err(url);
        assert!(matches!(err, MailError::Config(_)), "{err:?}");
        assert!(err.is_permanent());
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn no_url_means_files_and_memory_url_means_memory() {
    let file = Mailer::from_url(None, "data/mail").expect("valid");
    assert_eq!(file.file_dir(), Some(std::path::Path::new("data/mail")));
    let empty = Mailer::from_url(Some("  "), "data/mail").expect("valid");
    assert!(empty.file_dir().is_some());
    let memory = Mailer::from_url(Some("memory://"), "data/mail").expect("valid");
    assert!(memory.memory_outbox().is_some());
    let elsewhere =
        Mailer::from_url(Some("file:///var/tmp/oes-mail-elsewhere"), "data/mail").expect("valid");
    assert_eq!(
        elsewhere.file_dir(),
        Some(std::path::Path::new("/var/tmp/oes-mail-elsewhere"))
    );
}

#[test]
fn an_smtp_mailer_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let err =
        Mailer::from_url(Some("smtp://127.0.0.1:25?tls=none"), "unused").expect_err("no runtime");
    assert!(matches!(err, MailError::Config(_)), "{err:?}");
}
