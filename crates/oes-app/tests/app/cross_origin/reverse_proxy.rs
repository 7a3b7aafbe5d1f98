//! The one-origin deployment of docs/REVERSE_PROXY.md, run for real: Debian's nginx with the
//! recipe taken from that file (only its ports changed), in front of the real OES server and a
//! stand-in frontend that redirects as Next's middleware does under `next start`.
//!
//! Without nginx (not installed, and not root to install it) the test prints why and checks
//! nothing: a skip, not a pass.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use oes_app::db::Backend;
use oes_app::domain::accounts::Role;
use oes_app::http::session::ClientMeta;
use serde_json::json;

use crate::support::{self, PASSWORD, TestApp, unique_email};

const RECIPE_DOC: &str = "docs/REVERSE_PROXY.md";
/// The public name the client uses; it resolves to nginx.
const PUBLIC_HOST: &str = "exams.oes.test";
/// The client's own address: another loopback address than nginx's, so that OES can tell the
/// client from the proxy.
const CLIENT_IP: &str = "127.0.0.2";

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The ```nginx block of the recipe, with its listen port and upstream ports replaced. Each
/// replaced text must be there, so that an edit of the document cannot leave the test
/// running something other than what it says.
fn recipe(public: u16, oes: u16, frontend: u16) -> String {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(RECIPE_DOC);
    let doc = std::fs::read_to_string(&doc_path).expect("the recipe document");
    let block = doc
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("an nginx block in the recipe");
    let mut conf = block.to_owned();
    for (from, to) in [
        ("listen 80;", format!("listen 127.0.0.1:{public};")),
        ("127.0.0.1:8000", format!("127.0.0.1:{oes}")),
        ("127.0.0.1:3000", format!("127.0.0.1:{frontend}")),
        ("localhost:3000", format!("localhost:{frontend}")),
    ] {
        assert!(conf.contains(from), "the recipe has `{from}`");
        conf = conf.replace(from, &to);
    }
    conf
}

/// nginx in the foreground on the recipe, with its files in a directory of its own; killed on
/// drop.
struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(binary: &Path, site: &str, port: u16) -> Nginx {
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path().display();
        std::fs::write(dir.path().join("oes.conf"), site).expect("site written");
        // One process as the invoking user: no worker switching to a user that could not read
        // the temporary directory.
        let main = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/oes.conf;\n}}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, main).expect("nginx.conf written");
        let child = Command::new(binary)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Nginx { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!("nginx exited ({status}): {}", nginx.log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen: {}",
                nginx.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What Next's middleware does for a signed-out visitor of a protected page under `next start`:
/// a 307 to the login page, absolute, on the address it listens on.
async fn stand_in_frontend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("frontend port");
    let addr = listener.local_addr().expect("frontend address");
    let port = addr.port();
    let app = axum::Router::new()
        .route("/login", get(|| async { page("the login page") }))
        .route(
            "/dashboard",
            get(move |headers: HeaderMap| async move {
                let signed_in = headers
                    .get(header::COOKIE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|c| c.contains("accessToken="));
                if signed_in {
                    return page("the dashboard").into_response();
                }
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(
                        header::LOCATION,
                        format!("http://localhost:{port}/login?redirect=%2Fdashboard"),
                    )],
                )
                    .into_response()
            }),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, page("not a page")) });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn page(text: &'static str) -> impl IntoResponse {
    ([("x-served-by", "frontend")], text)
}

#[tokio::test]
async fn the_nginx_recipe_routes_the_api_rewrites_redirects_and_forwards_the_client_address() {
    let Some(binary) = nginx_binary() else {
        eprintln!(
            "SKIPPED (not a pass): nginx is not installed, so the reverse-proxy recipe of \
             {RECIPE_DOC} was not tested; scripts/test installs it when run as root \
             (apt-get install nginx)"
        );
        return;
    };
    let public_port = support::free_port();
    let public = format!("http://{PUBLIC_HOST}:{public_port}");
    let email = unique_email("proxied");
    let whoami = axum::Router::new().route(
        "/test/whoami",
        get(|ClientMeta(client): ClientMeta| async move {
            client.ip.map(|ip| ip.to_string()).unwrap_or_default()
        }),
    );
    let app = TestApp::builder(Backend::Sqlite)
        .fast_password_hashing()
        .var("APP_BASE_URL", &public)
        .var("TRUST_PROXY_HEADERS", "true")
        .var("TRUSTED_PROXIES", "127.0.0.1/32")
        .routes(whoami)
        .user(&email, Role::User)
        .start()
        .await;
    let oes_port = app.server.local_addr().port();
    let frontend = stand_in_frontend().await;
    let nginx = Nginx::start(
        &binary,
        &recipe(public_port, oes_port, frontend.port()),
        public_port,
    );

    let client = reqwest::Client::builder()
        .resolve(PUBLIC_HOST, SocketAddr::from(([127, 0, 0, 1], public_port)))
        .local_address(CLIENT_IP.parse::<std::net::IpAddr>().ok())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: &str| client.get(format!("{public}{path}")).send();

    // 1. The API goes to OES, and so does its dashboard; the rest goes to the frontend.
    let health = get("/api/health").await.expect("answers");
    assert_eq!(health.status(), 200, "{}", nginx.log());
    let body: serde_json::Value = health.json().await.expect("JSON");
    assert_eq!(body["success"], true);
    let dashboard = get("/admin/queues").await.expect("answers");
    assert_eq!(dashboard.status(), 200);
    assert!(
        dashboard
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some_and(|p| p.to_str().is_ok_and(|p| p.contains("connect-src 'self'"))),
        "OES's dashboard page"
    );
    let login_page = get("/login").await.expect("answers");
    assert_eq!(
        login_page
            .headers()
            .get("x-served-by")
            .map(|v| v.as_bytes()),
        Some(&b"frontend"[..])
    );

    // 2. The frontend's redirect comes back on the public origin.
    let direct = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("http://{frontend}/dashboard"))
        .send()
        .await
        .expect("answers");
    let internal = format!("http://localhost:{}/login", frontend.port());
    assert!(
        direct.headers()[header::LOCATION]
            .to_str()
            .is_ok_and(|l| l.starts_with(&internal)),
        "the stand-in redirects to its own address, as next start does"
    );
    let redirect = get("/dashboard").await.expect("answers");
    assert_eq!(redirect.status(), 307);
    assert_eq!(
        redirect.headers()[header::LOCATION],
        format!("{public}/login?redirect=%2Fdashboard").as_str()
    );

    // 3. OES sees the client's address, not nginx's, and not one the client made up.
    let ip = get("/api/test/whoami").await.expect("answers");
    assert_eq!(ip.text().await.expect("text"), CLIENT_IP);
    let forged = client
        .get(format!("{public}/api/test/whoami"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.text().await.expect("text"), CLIENT_IP);

    // 4. One origin: the cookie signs the page in, and its writes pass the CSRF check.
    let login = client
        .post(format!("{public}/api/auth/login"))
        .header("origin", &public)
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("answers");
    assert_eq!(login.status(), 200);
    let token = login
        .cookies()
        .find(|c| c.name() == "accessToken")
        .map(|c| c.value().to_owned())
        .expect("a session cookie");
    let write = client
        .put(format!("{public}/api/profile/me"))
        .header("origin", &public)
        .header(header::COOKIE, format!("accessToken={token}"))
        .json(&json!({
            "fullName": "Asha Rao", "course": "BTECH", "department": "CST",
            "year": "TWO", "semester": "S3", "enrollmentNumber": "EN-PROXY-1",
        }))
        .send()
        .await
        .expect("answers");
    assert_eq!(write.status(), 200, "{:?}", write.text().await);
    let page = client
        .get(format!("{public}/dashboard"))
        .header(header::COOKIE, format!("accessToken={token}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(page.status(), 200, "the frontend sees the same cookie");

    // 5. Metrics stay private: the frontend answers that path.
    let metrics = get("/metrics").await.expect("answers");
    assert_eq!(
        metrics.headers().get("x-served-by").map(|v| v.as_bytes()),
        Some(&b"frontend"[..])
    );

    drop(nginx);
    app.stop().await;
}
