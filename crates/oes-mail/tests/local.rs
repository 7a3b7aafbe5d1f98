//! The file and memory transports, addresses and masking.

use oes_mail::{Email, MailError, Mailer, mask_address, sink::ParsedMessage};

fn email(subject: &str) -> Email {
    Email::new(
        "OES <no-reply@oes.example>",
        "Ada Lovelace <ada@example.com>",
        subject,
        "<p>Your code is <b>123456</b></p>",
        "Your code is 123456",
    )
    .expect("valid addresses")
}

#[tokio::test]
async fn the_file_transport_creates_its_directory_and_writes_parseable_eml_files() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("data").join("mail");
    let mailer = Mailer::file(&dir);

    let sent = mailer
        .send(&email("Password Reset OTP"))
        .await
        .expect("written");

    let path = sent.path.expect("file transport reports its file");
    assert_eq!(path.parent(), Some(dir.as_path()));
    assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml"));
    let parsed = ParsedMessage::parse(&std::fs::read(&path).expect("readable"));
    assert_eq!(parsed.subject().as_deref(), Some("Password Reset OTP"));
    assert_eq!(
        parsed.header("To"),
        Some("\"Ada Lovelace\" <ada@example.com>")
    );
    assert_eq!(parsed.header("Message-ID"), Some(sent.message_id.as_str()));
    assert_eq!(
        parsed.text().map(str::trim_end),
        Some("Your code is 123456")
    );
    assert_eq!(
        parsed.html().map(str::trim_end),
        Some("<p>Your code is <b>123456</b></p>")
    );
}

#[tokio::test]
async fn file_names_are_unique_and_sort_in_sending_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mailer = Mailer::file(dir.path());

    for i in 0..20 {
        mailer
            .send(&email(&format!("{i:02}")))
            .await
            .expect("written");
    }

    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listable")
        .map(|entry| entry.expect("entry").path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 20);
    let subjects: Vec<_> = names
        .iter()
        .filter_map(|path| ParsedMessage::parse(&std::fs::read(path).expect("readable")).subject())
        .collect();
    let expected: Vec<_> = (0..20).map(|i| format!("{i:02}")).collect();
    assert_eq!(subjects, expected);
}

#[tokio::test]
async fn the_memory_transport_records_messages_for_every_clone_of_the_handle() {
    let mailer = Mailer::from_url(Some("memory://"), "unused").expect("valid");
    let outbox = mailer.memory_outbox().expect("memory mailer");
    let reader = outbox.clone();

    mailer.send(&email("one")).await.expect("recorded");
    mailer.clone().send(&email("two")).await.expect("recorded");

    let sent = reader.messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].email.subject(), "one");
    assert_eq!(sent[1].email.to().email.to_string(), "ada@example.com");
    let parsed = ParsedMessage::parse(&sent[1].raw);
    assert_eq!(parsed.subject().as_deref(), Some("two"));
    assert_eq!(
        parsed.header("Message-ID"),
        Some(sent[1].message_id.as_str())
    );
    assert_eq!(outbox.take().len(), 2);
    assert!(reader.is_empty());
}

#[test]
fn invalid_addresses_are_permanent_errors_that_mask_the_input() {
    for (from, to) in [
        ("no-reply@oes.example", "not-an-address"),
        ("bad sender", "ada@example.com"),
    ] {
        let err = Email::new(from, to, "s", "h", "t").expect_err("invalid");
        assert!(matches!(err, MailError::InvalidAddress(_)), "{err:?}");
        assert!(err.is_permanent());
    }
    let err = email("s")
        .with_reply_to("secret-person@@example.com")
        .expect_err("invalid reply-to");
    assert!(!err.to_string().contains("secret-person"), "{err}");
}

#[test]
fn masking_keeps_the_first_letter_and_the_domain() {
    assert_eq!(mask_address("john@example.com"), "j***@example.com");
    assert_eq!(
        mask_address("John Smith <john.smith@example.com>"),
        "j***@example.com"
    );
    assert_eq!(mask_address("Zoë <ørjan@exämple.org>"), "ø***@exämple.org");
    assert_eq!(mask_address("@example.com"), "***@example.com");
    assert_eq!(mask_address("no-at-sign"), "***");
}

#[tokio::test]
async fn an_html_only_message_goes_out_with_a_derived_text_alternative() {
    let mailer = Mailer::memory();
    let email = Email::from_html(
        "no-reply@oes.example",
        "ada@example.com",
        "Verify your email",
        r#"<p>Hello Ada,</p><p><a href="https://oes.example/verify?token=t">Verify</a></p>"#,
    )
    .expect("valid addresses");

    mailer.send(&email).await.expect("recorded");

    let sent = mailer.memory_outbox().expect("memory mailer").messages();
    let parsed = ParsedMessage::parse(&sent[0].raw);
    assert_eq!(
        parsed.text().map(str::trim_end),
        Some("Hello Ada,\n\nVerify (https://oes.example/verify?token=t)")
    );
    assert!(parsed.html().is_some_and(|html| html.contains("<a href=")));
}
