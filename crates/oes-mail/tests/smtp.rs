//! SMTP transport against the crate's own sink, over real TCP.

use std::time::Duration;

use oes_mail::{
    Email, MailError, Mailer, SmtpConfig, TlsMode,
    sink::{Refusal, SmtpSink, Stage},
};

const WAIT: Duration = Duration::from_secs(10);

fn email(to: &str, subject: &str) -> Email {
    Email::new(
        "OES <no-reply@oes.example>",
        to,
        subject,
        "<p>Hello <b>Ada</b></p>",
        "Hello Ada",
    )
    .expect("valid addresses")
}

async fn mailer_for(sink: &SmtpSink) -> Mailer {
    Mailer::from_url(Some(&sink.url()), "unused").expect("sink URL is valid")
}

#[tokio::test]
async fn smtp_delivers_envelope_headers_and_both_bodies() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mailer = mailer_for(&sink).await;
    let email = email("ada@example.com", "Verify your email")
        .with_reply_to("support@oes.example")
        .expect("valid reply-to");

    let sent = mailer.send(&email).await.expect("sink accepts");

    let received = sink.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.mail_from, "no-reply@oes.example");
    assert_eq!(message.rcpt_to, vec!["ada@example.com".to_owned()]);
    let parsed = message.parse();
    assert_eq!(parsed.header("From"), Some("OES <no-reply@oes.example>"));
    assert_eq!(parsed.header("To"), Some("ada@example.com"));
    assert_eq!(parsed.header("Reply-To"), Some("support@oes.example"));
    assert_eq!(parsed.header("Message-ID"), Some(sent.message_id.as_str()));
    assert_eq!(parsed.subject().as_deref(), Some("Verify your email"));
    assert!(
        parsed
            .header("Content-Type")
            .is_some_and(|value| value.starts_with("multipart/alternative"))
    );
    assert_eq!(parsed.text().map(str::trim_end), Some("Hello Ada"));
    assert_eq!(
        parsed.html().map(str::trim_end),
        Some("<p>Hello <b>Ada</b></p>")
    );
}

#[tokio::test]
async fn non_ascii_text_and_dot_led_lines_arrive_intact() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mailer = mailer_for(&sink).await;
    let text = "Résultats d’examen prêts\n.hidden line\n..two dots\n.";
    let email = Email::new(
        "no-reply@oes.example",
        "zoë@example.com",
        "Résultats — prêts ✓",
        "<p>Résultats</p>\n.dot",
        text,
    )
    .expect("valid addresses");

    mailer.send(&email).await.expect("sink accepts");

    let received = sink.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let parsed = received[0].parse();
    assert_eq!(parsed.subject().as_deref(), Some("Résultats — prêts ✓"));
    assert_eq!(parsed.text().map(str::trim_end), Some(text));
    assert_eq!(
        parsed.html().map(str::trim_end),
        Some("<p>Résultats</p>\n.dot")
    );
}

#[tokio::test]
async fn sequential_sends_reuse_one_pooled_connection() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mailer = mailer_for(&sink).await;

    for i in 0..3 {
        mailer
            .send(&email("ada@example.com", &format!("message {i}")))
            .await
            .expect("sink accepts");
        // lettre parks a used connection from a spawned task; let it run before the next send.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
    }

    let received = sink.wait_for(3, WAIT).await;
    let subjects: Vec<_> = received
        .iter()
        .filter_map(|m| m.parse().subject())
        .collect();
    assert_eq!(subjects, ["message 0", "message 1", "message 2"]);
    assert_eq!(sink.connections(), 1);
}

#[tokio::test]
async fn a_550_to_rcpt_is_a_permanent_error_with_the_address_masked() {
    let sink = SmtpSink::start().await.expect("sink starts");
    sink.refuse(Refusal::Reply {
        stage: Stage::Rcpt,
        code: 550,
        text: "5.1.1 <ada@example.com>: user unknown".to_owned(),
    });
    let mailer = mailer_for(&sink).await;

    let err = mailer
        .send(&email("ada@example.com", "hi"))
        .await
        .expect_err("sink refuses");

    assert!(err.is_permanent(), "{err:?}");
    assert_eq!(err.smtp_code(), Some(550));
    let message = err.to_string();
    assert!(message.contains("a***@example.com"), "{message}");
    assert!(!message.contains("ada@"), "{message}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_451_to_data_is_a_transient_error_and_a_later_retry_succeeds() {
    let sink = SmtpSink::start().await.expect("sink starts");
    sink.refuse(Refusal::transient_data());
    let mailer = mailer_for(&sink).await;
    let email = email("ada@example.com", "hi");

    let err = mailer.send(&email).await.expect_err("sink defers");
    assert!(!err.is_permanent(), "{err:?}");
    assert!(
        matches!(err, MailError::Deferred { code: 451, .. }),
        "{err:?}"
    );

    sink.accept_all();
    mailer.send(&email).await.expect("sink accepts now");
    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn a_rejection_after_the_content_is_permanent() {
    let sink = SmtpSink::start().await.expect("sink starts");
    sink.refuse(Refusal::Reply {
        stage: Stage::EndOfData,
        code: 554,
        text: "5.7.1 content rejected".to_owned(),
    });
    let mailer = mailer_for(&sink).await;

    let err = mailer
        .send(&email("ada@example.com", "hi"))
        .await
        .expect_err("sink rejects");

    assert!(err.is_permanent(), "{err:?}");
    assert_eq!(err.smtp_code(), Some(554));
}

#[tokio::test]
async fn a_stalled_server_gives_a_transient_timeout_and_the_next_send_works() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let config = SmtpConfig::new("127.0.0.1", sink.port(), TlsMode::None)
        .with_timeouts(Duration::from_secs(5), Duration::from_millis(300));
    let mailer = Mailer::smtp(config).expect("config is valid");
    mailer
        .send(&email("ada@example.com", "warm-up"))
        .await
        .expect("sink accepts");
    sink.refuse(Refusal::Stall {
        stage: Stage::EndOfData,
    });

    let err = mailer
        .send(&email("ada@example.com", "stalled"))
        .await
        .expect_err("sink stalls");
    assert!(
        matches!(err, MailError::Timeout { stage: "send", .. }),
        "{err:?}"
    );
    assert!(!err.is_permanent());

    sink.accept_all();
    mailer
        .send(&email("ada@example.com", "after"))
        .await
        .expect("a fresh connection works");
    let subjects: Vec<_> = sink
        .wait_for(2, WAIT)
        .await
        .iter()
        .filter_map(|m| m.parse().subject())
        .collect();
    assert_eq!(subjects, ["warm-up", "after"]);
}

#[tokio::test]
async fn a_closed_port_gives_a_transient_connect_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let config = SmtpConfig::new("127.0.0.1", port, TlsMode::None)
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(30));
    let mailer = Mailer::smtp(config).expect("config is valid");

    // The outer limit only keeps a hang from stalling the suite.
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        mailer.send(&email("ada@example.com", "hi")),
    )
    .await
    .expect("the connect timeout bounds the attempt")
    .expect_err("nothing listens");

    assert!(!err.is_permanent(), "{err:?}");
    assert!(matches!(err, MailError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn required_tls_never_sends_in_plain_text_to_a_server_without_starttls() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let url = format!("smtp://127.0.0.1:{}?tls=required", sink.port());
    let mailer = Mailer::from_url(Some(&url), "unused").expect("URL is valid");

    let err = mailer
        .send(&email("ada@example.com", "hi"))
        .await
        .expect_err("no STARTTLS offered");

    assert!(!err.to_string().is_empty());
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn opportunistic_tls_falls_back_to_plain_text_when_starttls_is_not_offered() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let url = format!("smtp://127.0.0.1:{}", sink.port());
    let mailer = Mailer::from_url(Some(&url), "unused").expect("URL is valid");

    mailer
        .send(&email("ada@example.com", "hi"))
        .await
        .expect("sent without TLS");

    assert_eq!(sink.wait_for(1, WAIT).await.len(), 1);
}

#[tokio::test]
async fn errors_and_descriptions_never_contain_the_password() {
    let sink = SmtpSink::start().await.expect("sink starts");
    // The sink offers no AUTH, so logging in fails after the session is open.
    let url = format!(
        "smtp://mailer:s3cr%40t-pw@127.0.0.1:{}?tls=none",
        sink.port()
    );
    let mailer = Mailer::from_url(Some(&url), "unused").expect("URL is valid");

    let err = mailer
        .send(&email("ada@example.com", "hi"))
        .await
        .expect_err("no AUTH offered");

    for text in [
        err.to_string(),
        format!("{err:?}"),
        mailer.describe(),
        format!("{mailer:?}"),
    ] {
        assert!(!text.contains("s3cr"), "{text}");
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn concurrent_sends_all_arrive_over_several_pooled_connections() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mailer = mailer_for(&sink).await;

    let sends = (0..20).map(|i| {
        let mailer = mailer.clone();
        tokio::spawn(async move {
            mailer
                .send(&email("ada@example.com", &format!("{i:02}")))
                .await
        })
    });
    for send in sends {
        send.await.expect("task").expect("sink accepts");
    }

    let mut subjects: Vec<_> = sink
        .wait_for(20, WAIT)
        .await
        .iter()
        .filter_map(|m| m.parse().subject())
        .collect();
    subjects.sort();
    let expected: Vec<_> = (0..20).map(|i| format!("{i:02}")).collect();
    assert_eq!(subjects, expected);
}

#[tokio::test]
async fn after_shutdown_sends_fail_transiently() {
    let sink = SmtpSink::start().await.expect("sink starts");
    let mailer = mailer_for(&sink).await;
    mailer
        .send(&email("ada@example.com", "before"))
        .await
        .expect("sink accepts");

    mailer.shutdown().await;
    let err = mailer
        .send(&email("ada@example.com", "after"))
        .await
        .expect_err("shut down");

    assert!(!err.is_permanent(), "{err:?}");
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn the_last_clone_of_an_smtp_mailer_may_be_dropped_outside_the_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (sink, mailer) = runtime.block_on(async {
        let sink = SmtpSink::start().await.expect("sink starts");
        let mailer = mailer_for(&sink).await;
        mailer
            .send(&email("ada@example.com", "hi"))
            .await
            .expect("sink accepts");
        // Let lettre park the connection so that the mailer holds the last reference.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        (sink, mailer)
    });

    // lettre's pool spawns a task on drop; outside a runtime context that would panic.
    drop(mailer);
    drop(runtime);
    drop(sink);
}
