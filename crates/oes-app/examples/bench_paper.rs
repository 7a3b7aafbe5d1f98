//! The paper route against its floor, for `wrk` (driven by `scripts/bench-paper`).
//!
//! Starts the real server (configuration from the environment, as `oes serve`), seeds an exam
//! of 50 questions (about 70 KB of paper) with one student who has started it and saved ten
//! answers, and mounts beside the product's routes a floor: a minimal handler serving the same
//! paper bytes from memory, with no authentication and no cache lookup (mounted under `/api`,
//! where extra routes go, so it passes the same middleware). The floor exists only in
//! this example; the product has no such route.
//!
//! Prints `PAPER_URL`, `FLOOR_URL`, `FLOOR_GZIP_URL` and `TOKEN` lines, then serves until
//! Ctrl-C or SIGTERM:
//!
//! ```text
//! DATABASE_URL=sqlite:///var/tmp/bench-paper/oes.db REDIS_URL=redis://127.0.0.1:6379 \
//!   cargo run --release -p oes-app --example bench_paper
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use oes_app::domain::accounts::Role;
use oes_app::{AppState, Config, RunningServer, shutdown_signal};
use serde_json::{Value, json};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The paper bytes, identity and gzip, filled once the exam is seeded.
#[derive(Default)]
struct Floor {
    identity: OnceLock<bytes::Bytes>,
    gzip: OnceLock<bytes::Bytes>,
}

fn floor_routes(floor: Arc<Floor>) -> Router<AppState> {
    let plain = floor.clone();
    Router::new()
        .route(
            "/bench/floor",
            get(move || {
                let body = plain.identity.get().cloned().unwrap_or_default();
                async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
            }),
        )
        .route(
            "/bench/floor-gzip",
            get(move || {
                let body = floor.gzip.get().cloned().unwrap_or_default();
                async move {
                    (
                        [
                            (header::CONTENT_TYPE, "application/json"),
                            (header::CONTENT_ENCODING, "gzip"),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        )
}

async fn expect_ok(resp: reqwest::Response, what: &str) -> Result<Value, AnyError> {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{what}: {status} {body}").into());
    }
    Ok(body)
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let config = Config::from_env()?;
    let floor = Arc::new(Floor::default());
    let server = RunningServer::start(config, floor_routes(floor.clone())).await?;
    let base = format!("http://{}", server.local_addr());
    let state = server.state().clone();
    let secret = state.config.secret.expose().to_owned();

    let session = |role: Role, name: &'static str| {
        let db = state.db.clone();
        let secret = secret.clone();
        async move {
            let email = format!("bench-{}@example.invalid", uuid::Uuid::new_v4().simple());
            let id = oes_app::service::accounts::create_passwordless_user(&db, &email, name, role)
                .await?;
            let mut conn = db.pool().acquire().await?;
            let (_, token) = oes_app::service::accounts::start_session(
                &mut conn,
                &secret,
                Duration::from_secs(6 * 3600),
                id,
                None,
                Some("bench-paper"),
            )
            .await?;
            Ok::<_, AnyError>(token)
        }
    };
    let admin = session(Role::Admin, "Bench Admin").await?;
    let student = session(Role::User, "Bench Student").await?;
    let http = reqwest::Client::new();
    let post = |path: String, token: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    // 50 questions of four options, statements of a realistic length: about 70 KB of paper.
    let mut questions = Vec::new();
    for i in 0..50 {
        let statement = format!(
            "Question {i}. A train leaves the station at a constant speed and another follows \
             it on a parallel track; given the figures in the table, which statement about \
             their meeting point holds? {}",
            "Consider the units carefully and show the working in the margin. ".repeat(14)
        );
        let q = expect_ok(
            post(
                "/api/question/create".into(),
                &admin,
                json!({
                    "statement": statement,
                    "questionType": "SINGLE_CORRECT",
                    "domain": "physics",
                    "marks": 4, "negativeMarks": 1,
                    "options": [
                        { "text": format!("They meet after {i} km, before the bridge"), "isCorrect": true },
                        { "text": format!("They meet after {} km, on the bridge", i + 5), "isCorrect": false },
                        { "text": "They never meet on this stretch of track", "isCorrect": false },
                        { "text": "The data given is not enough to decide", "isCorrect": false }
                    ]
                }),
            )
            .await?,
            "create question",
        )
        .await?;
        questions.push(q["data"].clone());
    }
    let now = chrono::Utc::now();
    let exam = expect_ok(
        post(
            "/api/exam/create".into(),
            &admin,
            json!({
                "title": "Bench paper",
                "description": "50 questions",
                "durationMinutes": 300,
                "startTime": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "endTime": (now + chrono::Duration::hours(6)).to_rfc3339(),
            }),
        )
        .await?,
        "create exam",
    )
    .await?;
    let exam_id = exam["exam"]["id"].as_str().ok_or("no exam id")?.to_owned();
    let add: Vec<Value> = questions
        .iter()
        .map(|q| json!({ "questionId": q["id"] }))
        .collect();
    expect_ok(
        post(
            format!("/api/exam/{exam_id}/questions"),
            &admin,
            json!({ "addQuestionIds": add }),
        )
        .await?,
        "add questions",
    )
    .await?;
    expect_ok(
        post(format!("/api/exam/{exam_id}/publish"), &admin, json!({})).await?,
        "publish",
    )
    .await?;
    expect_ok(
        post(
            format!("/api/exam-attempt/{exam_id}/start"),
            &student,
            json!({}),
        )
        .await?,
        "start",
    )
    .await?;
    for q in questions.iter().take(10) {
        let option = q["options"][1]["id"].clone();
        expect_ok(
            post(
                format!("/api/exam-attempt/{exam_id}/save"),
                &student,
                json!({ "questionId": q["id"], "selectedOptionIds": [option] }),
            )
            .await?,
            "save",
        )
        .await?;
    }

    let paper_url = format!("{base}/api/exam-attempt/{exam_id}/attempt");
    let paper = http.get(&paper_url).bearer_auth(&student).send().await?;
    if !paper.status().is_success() {
        return Err(format!("paper: {}", paper.status()).into());
    }
    let identity = paper.bytes().await?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &identity)?;
    let gzip = gz.finish()?;
    println!(
        "PAPER_BYTES={} FLOOR_GZIP_BYTES={}",
        identity.len(),
        gzip.len()
    );
    let _ = floor.identity.set(identity);
    let _ = floor.gzip.set(gzip.into());

    println!("BACKEND={}", state.db.backend().name());
    println!("PAPER_URL={paper_url}");
    println!("FLOOR_URL={base}/api/bench/floor");
    println!("FLOOR_GZIP_URL={base}/api/bench/floor-gzip");
    println!("TOKEN={student}");
    println!("READY");
    server.run_until(shutdown_signal()).await?;
    Ok(())
}
