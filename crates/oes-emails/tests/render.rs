//! Snapshot tests: each render is compared byte for byte with the files under
//! `tests/snapshots/`. Run with `UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate change,
//! then review the diff.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use oes_emails::{
    AdminNotification, EmailChangeConfirm, EmailChangeNotice, EmailsError, PasswordChanged,
    PasswordReset, RenderedEmail, VerifyEmail,
};

/// Compares `rendered` with `snapshots/<name>.html` and `snapshots/<name>.txt` (the latter
/// starts with a `Subject:` line), or rewrites them when `UPDATE_SNAPSHOTS=1`.
fn assert_snapshot(name: &str, rendered: &RenderedEmail) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots");
    let text = format!("Subject: {}\n\n{}", rendered.subject, rendered.text);
    let files = [
        (dir.join(format!("{name}.html")), &rendered.html),
        (dir.join(format!("{name}.txt")), &text),
    ];
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|value| value == "1") {
        std::fs::create_dir_all(&dir).expect("snapshot dir");
        for (path, actual) in files {
            std::fs::write(&path, actual).expect("snapshot written");
        }
        return;
    }
    for (path, actual) in files {
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "{} missing ({err}); run with UPDATE_SNAPSHOTS=1",
                path.display()
            )
        });
        assert!(
            expected == *actual,
            "{} differs from the render (UPDATE_SNAPSHOTS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

#[test]
fn verify_email_matches_its_snapshot() {
    let rendered = VerifyEmail {
        name: "Ada Lovelace",
        link: "https://oes.example/verify-email?token=abc.def&lang=en",
        expiry_hours: 24,
    }
    .render()
    .expect("renders");
    assert_snapshot("verify_email", &rendered);
}

#[test]
fn password_reset_matches_its_snapshot() {
    let rendered = PasswordReset {
        name: "Zoë O'Brien",
        code: "042917",
        expiry_minutes: 15,
    }
    .render()
    .expect("renders");
    assert_snapshot("password_reset", &rendered);
}

#[test]
fn password_changed_matches_its_snapshot() {
    let rendered = PasswordChanged {
        name: "Ada Lovelace",
        at: Utc
            .with_ymd_and_hms(2026, 11, 26, 1, 40, 51)
            .single()
            .expect("valid time"),
        ip: "203.0.113.7",
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) <Gecko> \"Firefox\"",
    }
    .render()
    .expect("renders");
    assert_snapshot("password_changed", &rendered);
}

#[test]
fn email_change_confirmation_matches_its_snapshot() {
    let rendered = EmailChangeConfirm {
        name: "Ada Lovelace",
        new_email: "ada.new@example.org",
        link: "https://oes.example/confirm-email?token=xyz",
    }
    .render()
    .expect("renders");
    assert_snapshot("email_change_confirm", &rendered);
}

#[test]
fn email_change_notice_matches_its_snapshot_and_masks_the_new_address() {
    let rendered = EmailChangeNotice {
        name: "Ada Lovelace",
        new_email: "ada.new@example.org",
    }
    .render()
    .expect("renders");
    assert_snapshot("email_change_notice", &rendered);
    assert!(!rendered.html.contains("ada.new@"));
    assert!(!rendered.text.contains("ada.new@"));
}

#[test]
fn admin_notification_matches_its_snapshot() {
    let rendered = AdminNotification {
        name: Some("Ada Lovelace"),
        subject: "Mid-term exam\nmoved",
        body: "The mid-term exam moves to Friday 10:00.\r\nBring your ID & a pen.\n\n<b>Good luck!</b>",
    }
    .render()
    .expect("renders");
    assert_snapshot("admin_notification", &rendered);
}

#[test]
fn admin_notification_without_a_name_greets_generically() {
    let rendered = AdminNotification {
        name: None,
        subject: "Hello",
        body: "Body",
    }
    .render()
    .expect("renders");
    assert!(rendered.html.contains("<p>Hello,</p>"), "{}", rendered.html);
    assert!(rendered.text.starts_with("Hello,\n"), "{}", rendered.text);
}

#[test]
fn a_script_tag_in_a_users_name_is_escaped_in_html_and_left_alone_in_text() {
    let name = "<script>alert('x')</script>";
    let renders = [
        VerifyEmail {
            name,
            link: "https://oes.example/v",
            expiry_hours: 24,
        }
        .render(),
        PasswordReset {
            name,
            code: "123456",
            expiry_minutes: 15,
        }
        .render(),
        PasswordChanged {
            name,
            at: Utc::now(),
            ip: name,
            user_agent: name,
        }
        .render(),
        EmailChangeConfirm {
            name,
            new_email: "a@example.com",
            link: "https://oes.example/c",
        }
        .render(),
        EmailChangeNotice {
            name,
            new_email: "a@example.com",
        }
        .render(),
        AdminNotification {
            name: Some(name),
            subject: "s",
            body: name,
        }
        .render(),
    ];
    for rendered in renders {
        let rendered = rendered.expect("renders");
        assert!(!rendered.html.contains("<script"), "{}", rendered.html);
        // askama writes numeric entities.
        assert!(
            rendered
                .html
                .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"),
            "{}",
            rendered.html
        );
        assert!(rendered.text.contains(name), "{}", rendered.text);
    }
}

#[test]
fn admin_text_is_escaped_before_its_line_breaks_become_br_tags() {
    let rendered = AdminNotification {
        name: None,
        subject: "s",
        body: "line one <img src=x onerror=alert(1)>\nline two",
    }
    .render()
    .expect("renders");
    assert!(
        rendered
            .html
            .contains("<p>line one &#60;img src=x onerror=alert(1)&#62;<br/>line two</p>"),
        "{}",
        rendered.html
    );
}

#[test]
fn links_that_are_not_http_are_refused() {
    let err = VerifyEmail {
        name: "Ada",
        link: "javascript:alert(document.cookie)",
        expiry_hours: 24,
    }
    .render()
    .expect_err("unsafe link");
    assert!(matches!(err, EmailsError::UnsafeLink { .. }), "{err:?}");
    assert!(!err.to_string().contains("cookie"), "{err}");
    let err = EmailChangeConfirm {
        name: "Ada",
        new_email: "a@example.com",
        link: " data:text/html,hi",
    }
    .render()
    .expect_err("unsafe link");
    assert!(matches!(err, EmailsError::UnsafeLink { .. }), "{err:?}");
}

#[test]
fn a_render_becomes_an_addressed_email() {
    let email = PasswordReset {
        name: "Ada",
        code: "123456",
        expiry_minutes: 15,
    }
    .render()
    .expect("renders")
    .into_email("OES <no-reply@oes.example>", "ada@example.com")
    .expect("valid addresses");
    assert_eq!(email.subject(), "Password Reset OTP");
    assert!(email.text().contains("123456"));
    assert!(email.html().contains("123456"));
}
