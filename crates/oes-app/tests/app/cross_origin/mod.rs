//! A frontend on another origin than the API: CORS for the allowed origins (the CSRF check's
//! list), the cookies' Domain and SameSite, all of it in a real browser (`browser`), and the
//! one-origin alternative behind nginx (`reverse_proxy`).

mod browser;
mod reverse_proxy;

use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use serde_json::json;

use crate::support::{self, Answer, Auth, PASSWORD, TestApp, unique_email};

/// The frontend's default set-up: pages on :3000, the API on :8000.
const FRONTEND: &str = "http://localhost:3000";
const ADMIN_PANEL: &str = "https://admin.oes.test";
const API: &str = "http://localhost:8000";

/// An app whose frontend is [`FRONTEND`] (APP_BASE_URL), with [`API`] as its own public URL and
/// [`ADMIN_PANEL`] as one more allowed origin.
async fn start(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    TestApp::builder(backend)
        .fast_password_hashing()
        .var("APP_BASE_URL", FRONTEND)
        .var("API_BASE_URL", API)
        .var("ALLOWED_ORIGINS", ADMIN_PANEL)
        .vars(extra)
        .start()
        .await
}

/// A request with the headers a browser would add for a page on `origin`.
async fn from_origin(
    app: &TestApp,
    method: &str,
    path: &str,
    origin: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.base))
        .header("origin", origin);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.expect("the server answers");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: serde_json::Value::Null,
    }
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> Answer {
    from_origin(
        app,
        "OPTIONS",
        path,
        origin,
        &[
            ("access-control-request-method", method),
            (
                "access-control-request-headers",
                "content-type,authorization",
            ),
        ],
    )
    .await
}

fn cors_headers(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

fn vary_lists_origin(answer: &Answer) -> bool {
    answer
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

/// Every `Set-Cookie` of an answer whose cookie has this name.
fn set_cookie(answer: &Answer, name: &str) -> String {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", answer.headers))
        .to_owned()
}

/// A cookie's attributes other than its value and lifetime, in order.
fn attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.starts_with("Max-Age="))
        .collect()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_before_routing_and_authentication() {
    let app = start(Backend::Sqlite, &[]).await;
    // A route that needs a session and accepts only GET and PUT, and one that only takes POST.
    for (path, method) in [
        ("/api/profile/me", "PUT"),
        ("/api/auth/login", "POST"),
        (
            "/api/exam-attempt/00000000-0000-0000-0000-000000000000/start",
            "POST",
        ),
    ] {
        for origin in [FRONTEND, ADMIN_PANEL, API] {
            let answer = preflight(&app, path, origin, method).await;
            assert_eq!(answer.status, 204, "{origin} {method} {path}");
            assert_eq!(
                answer.header("access-control-allow-origin").as_deref(),
                Some(origin)
            );
            assert_eq!(
                answer.header("access-control-allow-credentials").as_deref(),
                Some("true")
            );
            let methods = answer
                .header("access-control-allow-methods")
                .unwrap_or_default();
            for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                assert!(methods.contains(m), "{m} in {methods}");
            }
            let headers = answer
                .header("access-control-allow-headers")
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert!(
                headers.contains("content-type") && headers.contains("authorization"),
                "{headers}"
            );
            assert_eq!(
                answer.header("access-control-max-age").as_deref(),
                Some("7200"),
                "browsers keep the answer"
            );
            assert!(vary_lists_origin(&answer));
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_headers_on_preflights_or_answers() {
    let app = start(Backend::Sqlite, &[]).await;
    // Look-alikes too: the match is exact, not by prefix or suffix (the original's X1).
    for origin in [
        "https://evil.example",
        "http://localhost:3001",
        "https://localhost:3000",
        "http://localhost:3000.evil.example",
        "https://attacker-admin.oes.test",
        "null",
    ] {
        let answer = preflight(&app, "/api/profile/me", origin, "PUT").await;
        assert_eq!(
            answer.status, 204,
            "{origin}: a preflight never reaches a route"
        );
        assert_eq!(cors_headers(&answer), Vec::<String>::new(), "{origin}");
        let answer = from_origin(&app, "GET", "/api/health", origin, &[]).await;
        assert_eq!(answer.status, 200);
        assert_eq!(cors_headers(&answer), Vec::<String>::new(), "{origin}");
        assert!(vary_lists_origin(&answer), "caches keep answers per origin");
    }
    // An OPTIONS request that is not a preflight is an ordinary request: no route takes it.
    let answer = from_origin(&app, "OPTIONS", "/api/health", FRONTEND, &[]).await;
    assert_eq!(answer.status, 405);
    app.stop().await;
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_signs_in_with_the_cookie_and_reads_every_answer() {
    for backend in support::BACKENDS {
        let app = start(backend, &[]).await;
        let email = unique_email("cors");
        support::user(&app.server.state().db, &email, Role::User, true).await;

        let login = app
            .http
            .post(format!("{}/api/auth/login", app.base))
            .header("origin", FRONTEND)
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("answers");
        assert_eq!(login.status(), 200);
        let allow = |r: &reqwest::Response| {
            r.headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(allow(&login).as_deref(), Some(FRONTEND));
        let token = login
            .cookies()
            .find(|c| c.name() == "accessToken")
            .map(|c| c.value().to_owned())
            .expect("a session cookie");

        // The cookie alone signs the page in; the answer is readable, errors included.
        let me = app
            .call(
                "GET",
                "/api/profile/me",
                None,
                Auth::Cookie(&token, Some(FRONTEND)),
            )
            .await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.body["data"]["email"], email);
        assert_eq!(
            me.header("access-control-allow-origin").as_deref(),
            Some(FRONTEND)
        );
        assert_eq!(
            me.header("access-control-allow-credentials").as_deref(),
            Some("true")
        );
        let exposed = me
            .header("access-control-expose-headers")
            .unwrap_or_default();
        assert!(exposed.contains("Retry-After"), "{exposed}");
        let anonymous = from_origin(&app, "GET", "/api/profile/me", FRONTEND, &[]).await;
        assert_eq!(anonymous.status, 401);
        assert_eq!(
            anonymous.header("access-control-allow-origin").as_deref(),
            Some(FRONTEND),
            "the page can read why it was refused"
        );
        let missing = from_origin(&app, "GET", "/api/no-such-route", FRONTEND, &[]).await;
        assert_eq!(missing.status, 404);
        assert!(missing.header("access-control-allow-origin").is_some());

        // Every origin CORS answers may write with the cookie: the CSRF check reads the same
        // list (APP_BASE_URL's, API_BASE_URL's, ALLOWED_ORIGINS).
        let body = json!({
            "fullName": "Asha Rao", "course": "BTECH", "department": "CST",
            "year": "TWO", "semester": "S3", "enrollmentNumber": format!("EN-{}", &email[5..15]),
        });
        for origin in [FRONTEND, API, ADMIN_PANEL] {
            let put = app
                .call(
                    "PUT",
                    "/api/profile/me",
                    Some(body.clone()),
                    Auth::Cookie(&token, Some(origin)),
                )
                .await;
            assert_eq!(put.status, 200, "{origin}: {}", put.body);
            assert_eq!(
                put.header("access-control-allow-origin").as_deref(),
                Some(origin)
            );
        }
        // And no origin CORS keeps out may: its write is refused, and it cannot even read why.
        for origin in ["https://evil.example", "http://localhost:3001"] {
            let put = app
                .call(
                    "PUT",
                    "/api/profile/me",
                    Some(body.clone()),
                    Auth::Cookie(&token, Some(origin)),
                )
                .await;
            assert_eq!(put.status, 403, "{origin}");
            assert_eq!(put.code(), "csrf_rejected");
            assert_eq!(put.header("access-control-allow-origin"), None);
        }
        let still = app
            .call("GET", "/api/profile/me", None, Auth::Bearer(&token))
            .await;
        assert_eq!(still.status, 200);
        app.stop().await;
    }
}

/// Logs in, then logs out with the cookie from a page on `origin`; returns both answers.
async fn login_and_logout(app: &TestApp, origin: &str) -> (Answer, Answer) {
    let email = unique_email("cookie");
    support::user(&app.server.state().db, &email, Role::User, true).await;
    let login = app
        .post_anonymously(
            "/api/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.session_cookie().expect("a session cookie");
    let logout = app
        .call(
            "POST",
            "/api/auth/logout",
            None,
            Auth::Cookie(&token, Some(origin)),
        )
        .await;
    assert_eq!(logout.status, 200, "{}", logout.body);
    (login, logout)
}

#[tokio::test]
async fn cookies_are_host_only_and_lax_when_every_origin_is_on_the_apis_site() {
    // Ports of localhost are one site; the default admin panel on oes.test would be another.
    let app = start(
        Backend::Sqlite,
        &[("ALLOWED_ORIGINS", "http://localhost:5173")],
    )
    .await;
    let (login, logout) = login_and_logout(&app, FRONTEND).await;
    let session = set_cookie(&login, "accessToken");
    assert_eq!(
        attributes(&session),
        ["Path=/", "HttpOnly", "SameSite=Lax"],
        "{session}"
    );
    let device = set_cookie(&login, "oesDevice");
    assert_eq!(
        attributes(&device),
        ["Path=/api/auth/login", "HttpOnly", "SameSite=Strict"],
        "{device}"
    );
    let cleared = set_cookie(&logout, "accessToken");
    assert!(cleared.starts_with("accessToken=;") && cleared.contains("Max-Age=0"));
    assert_eq!(attributes(&cleared), attributes(&session), "{cleared}");
    app.stop().await;
}

#[tokio::test]
async fn cookies_carry_the_cookie_domain_and_are_cleared_with_it() {
    let app = start(
        Backend::Sqlite,
        &[
            ("APP_BASE_URL", "https://exams.oes.test"),
            ("API_BASE_URL", "https://api.oes.test"),
            ("COOKIE_DOMAIN", ".oes.test"),
        ],
    )
    .await;
    let (login, logout) = login_and_logout(&app, "https://exams.oes.test").await;
    let session = set_cookie(&login, "accessToken");
    assert_eq!(
        attributes(&session),
        [
            "Path=/",
            "HttpOnly",
            "Domain=oes.test",
            "SameSite=Lax",
            "Secure"
        ],
        "{session}"
    );
    let device = set_cookie(&login, "oesDevice");
    assert!(
        device.contains("; Domain=oes.test;") && device.contains("SameSite=Strict"),
        "{device}"
    );
    let cleared = set_cookie(&logout, "accessToken");
    assert_eq!(attributes(&cleared), attributes(&session), "{cleared}");
    app.stop().await;
}

#[tokio::test]
async fn cookies_are_same_site_none_and_secure_when_an_origin_is_on_another_site() {
    for (app_url, api_url, allowed) in [
        // The frontend on a domain of its own.
        ("https://exams.example.com", "https://api.oes.test", ""),
        // A second frontend elsewhere, the first beside the API.
        (
            "https://exams.oes.test",
            "https://api.oes.test",
            "https://admin.example.com",
        ),
    ] {
        let app = start(
            Backend::Sqlite,
            &[
                ("APP_BASE_URL", app_url),
                ("API_BASE_URL", api_url),
                ("ALLOWED_ORIGINS", allowed),
            ],
        )
        .await;
        let (login, logout) = login_and_logout(&app, app_url).await;
        let session = set_cookie(&login, "accessToken");
        assert_eq!(
            attributes(&session),
            ["Path=/", "HttpOnly", "SameSite=None", "Secure"],
            "{app_url} {allowed}: {session}"
        );
        let device = set_cookie(&login, "oesDevice");
        assert!(
            device.ends_with("; SameSite=None; Secure"),
            "the login form on the other site sends it too: {device}"
        );
        let cleared = set_cookie(&logout, "accessToken");
        assert_eq!(attributes(&cleared), attributes(&session), "{cleared}");
        app.stop().await;
    }
}
