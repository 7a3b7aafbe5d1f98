//! Tokens in URL paths (`/api/auth/verify-email/{token}`, `/api/profile/email/confirm/{token}`)
//! never reach the logs, at any level: every line the process writes at TRACE, with every span's
//! fields on its opening and closing, is captured while both routes are called with real
//! tokens, including the answers for a used token and a mistyped URL (404).

use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::support::{self, Auth, PASSWORD, link_token, unique_email};

/// Everything the subscriber writes, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn tokens_in_url_paths_appear_in_no_log_line_even_at_trace_level() {
    // The subscriber is process-wide (SQLite's and the hashing gate's threads log too), so
    // the test has a process of its own.
    if !support::in_own_process(
        module_path!(),
        "tokens_in_url_paths_appear_in_no_log_line_even_at_trace_level",
    ) {
        return;
    }
    let logs = Captured::default();
    tracing_subscriber::fmt()
        // Everything at TRACE but the test's own HTTP client, whose lines are not the server's.
        .with_env_filter("trace,reqwest=off")
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(logs.clone())
        .init();

    let mut tokens = Vec::new();
    for backend in support::BACKENDS {
        let app = crate::accounts::start(backend, &[]).await;
        let old = unique_email("redact-old");
        let new = unique_email("redact-new");

        assert_eq!(app.signup(&old).await.status, 201);
        let verify = link_token(&app.email_to(&old, 1).await, "/verify-email?token=");
        let path = format!("/api/auth/verify-email/{verify}");
        assert_eq!(app.post_anonymously(&path, json!({})).await.status, 200);
        assert_eq!(app.post_anonymously(&path, json!({})).await.status, 400);
        let mistyped = format!("{path}/");
        assert_eq!(app.post_anonymously(&mistyped, json!({})).await.status, 404);

        let session = app.login(&old, PASSWORD).await;
        let asked = app
            .call(
                "POST",
                "/api/profile/email",
                Some(json!({ "newEmail": new, "password": PASSWORD })),
                Auth::Bearer(&session),
            )
            .await;
        assert_eq!(asked.status, 200, "{}", asked.body);
        let confirm = link_token(&app.email_to(&new, 3).await, "/confirm-email-change?token=");
        let path = format!("/api/profile/email/confirm/{confirm}");
        assert_eq!(app.post_anonymously(&path, json!({})).await.status, 200);
        assert_eq!(app.post_anonymously(&path, json!({})).await.status, 400);
        tokens.extend([verify, confirm]);
        app.stop().await;
    }

    let text = logs.text();
    for token in &tokens {
        assert_eq!(token.len(), 64, "a whole token was read from the email");
        assert!(!text.contains(token.as_str()), "a token reached the logs");
        // Nor half of one, as a truncated field would show it.
        assert!(
            !text.contains(&token[..32]),
            "part of a token reached the logs"
        );
    }
    for shown in [
        "/api/auth/verify-email/[redacted]",
        "/api/auth/verify-email/[redacted]/",
        "/api/profile/email/confirm/[redacted]",
    ] {
        assert!(
            text.contains(shown),
            "{shown} is not in the logs: the test did not see the requests"
        );
    }
}
