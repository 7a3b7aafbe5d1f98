//! A page on a second origin uses the API through CORS in headless Chromium (the set-up of
//! `support::browser`): it signs up, verifies, signs in with the cookie alone and loads an exam
//! paper; a page on an unlisted origin, in the same browser, gets nothing.
//!
//! Twice: as the frontend's default set-up has it (pages on one port of `localhost`, the API on
//! another: two origins of one site, so the cookie stays SameSite=Lax and CORS alone decides
//! what a page may read), and with the pages on another site (`127.0.0.1` beside the API on
//! `localhost`), where only a SameSite=None cookie reaches the API. Chromium takes Secure
//! cookies from `http://localhost`, which makes the second case testable without TLS; but it
//! blocks third-party cookies by default, as more and more browsers do, so that case runs with
//! them allowed, as a user's browser may or may not have it (docs/SETUP.md says so).

use std::process::Stdio;
use std::time::Duration;

use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{self, PASSWORD, TestApp, browser, link_token, unique_email};

/// What the browser run should find.
struct Case {
    page: String,
    foreign: String,
    /// The API's address as the pages call it.
    api: String,
    vars: Vec<(String, String)>,
    same_site: &'static str,
    secure: bool,
    /// The browser's setting, which the cross-site case depends on.
    allow_third_party_cookies: bool,
}

async fn run(case: Case) {
    let dir = browser::prepared_dir();
    let admin = unique_email("admin");
    let vars: Vec<(&str, &str)> = case
        .vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app = TestApp::builder(Backend::Sqlite)
        .without_rate_limits()
        // Emailed links lead to the frontend; its origin is thereby an allowed one.
        .var("APP_BASE_URL", &case.page)
        .vars(&vars)
        .user(&admin, Role::Admin)
        .signed_in_admin(&admin)
        .start()
        .await;
    let question = app.single("2", "0").await;
    let exam = app.live_exam(&[&question], 3600, 30).await;
    let api = case
        .api
        .replace("{port}", &app.server.local_addr().port().to_string());
    let email = unique_email("browser");
    let page = &case.page;

    let mut child = tokio::process::Command::new("node")
        .arg("cross_origin.test.mjs")
        .args([&api, page, &case.foreign, &email, PASSWORD, &exam])
        .args(
            case.allow_third_party_cookies
                .then_some("--allow-third-party-cookies"),
        )
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stdout = String::new();
    let run = async {
        while let Some(line) = lines.next_line().await.expect("node's output") {
            if serde_json::from_str::<Value>(&line).is_ok_and(|v| v["need"] == "verifyToken") {
                let mail = app.email_to(&email, 1).await;
                assert!(
                    mail.text()
                        .is_some_and(|t| t.contains(&format!("{page}/verify-email?token="))),
                    "the link leads to the frontend's origin"
                );
                let token = link_token(&mail, "/verify-email?token=");
                stdin
                    .write_all(format!("{token}\n").as_bytes())
                    .await
                    .expect("token sent");
            }
            stdout.push_str(&line);
            stdout.push('\n');
        }
    };
    tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser run ends");
    let output = child.wait_with_output().await.expect("node exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = browser::report(&stdout, &stderr);
    assert_eq!(report["ok"], true, "{report:#}\nstderr: {stderr}");

    assert_eq!(report["signup"]["status"], 201, "{report:#}");
    assert_eq!(report["verify"]["status"], 200, "{report:#}");
    assert_eq!(report["login"]["status"], 200, "{report:#}");
    assert_eq!(report["login"]["body"]["user"]["email"], email.as_str());
    assert_eq!(
        report["sessionCookie"],
        serde_json::json!({
            "httpOnly": true, "sameSite": case.same_site, "secure": case.secure, "domain": "localhost"
        }),
        "{report:#}"
    );
    assert_eq!(report["scriptSeesSessionCookie"], false, "HttpOnly");
    assert_eq!(report["me"]["status"], 200, "{report:#}");
    assert_eq!(report["me"]["body"]["data"]["email"], email.as_str());
    assert!(
        report["me"]["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "exposed headers are readable: {report:#}"
    );
    let live = report["live"]["body"]["exams"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(live.iter().any(|e| e["id"] == exam.as_str()), "{report:#}");
    assert_eq!(report["start"]["status"], 201, "{report:#}");
    assert_eq!(report["paper"]["status"], 200, "{report:#}");
    let questions = report["paper"]["body"]["exam"]["questions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(questions.len(), 1, "{report:#}");
    assert_eq!(questions[0]["statement"], "Capital of France?");
    assert_eq!(questions[0]["options"].as_array().map(Vec::len), Some(3));

    for call in [
        "health",
        "live",
        "paper",
        "profileWrite",
        "logout",
        "submit",
    ] {
        let answer = &report["foreign"][call];
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("Failed to fetch")),
            "the unlisted origin reads nothing of {call}: {report:#}"
        );
    }
    assert_eq!(report["meAfterForeign"]["status"], 200, "{report:#}");
    assert_eq!(
        report["meAfterForeign"]["body"]["data"]["fullName"], "Asha Rao",
        "the foreign write did not happen"
    );
    assert_eq!(report["logout"]["status"], 200, "{report:#}");
    assert_eq!(report["cookieAfterLogout"], false, "{report:#}");
    assert_eq!(report["meAfterLogout"]["status"], 401, "{report:#}");
    assert_eq!(report["pageErrors"], serde_json::json!([]), "{report:#}");

    // The server agrees: the attempt the foreign page tried to submit, with the student's
    // cookie attached, is still running.
    let status = app
        .scalar_text("SELECT status FROM exam_attempts WHERE exam_id = $1", &exam)
        .await;
    assert_eq!(status.as_deref(), Some("IN_PROGRESS"));
    app.stop().await;
}

#[tokio::test]
async fn a_page_on_another_origin_signs_up_signs_in_with_the_cookie_and_loads_a_paper() {
    run(Case {
        page: format!("http://localhost:{}", support::free_port()),
        foreign: format!("http://localhost:{}", support::free_port()),
        api: "http://localhost:{port}".to_owned(),
        vars: Vec::new(),
        same_site: "Lax",
        secure: false,
        allow_third_party_cookies: false,
    })
    .await;
}

#[tokio::test]
async fn a_page_on_another_site_signs_in_with_a_same_site_none_cookie_and_loads_a_paper() {
    // The API's port is chosen before start-up: API_BASE_URL names it.
    let api_port = support::free_port();
    let api = format!("http://localhost:{api_port}");
    run(Case {
        page: format!("http://127.0.0.1:{}", support::free_port()),
        foreign: format!("http://127.0.0.1:{}", support::free_port()),
        api: api.clone(),
        vars: vec![
            ("PORT".to_owned(), api_port.to_string()),
            ("API_BASE_URL".to_owned(), api),
        ],
        same_site: "None",
        secure: true,
        allow_third_party_cookies: true,
    })
    .await;
}
