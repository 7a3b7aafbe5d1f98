//! `oes loadtest`: the exam-day run, in one process. It starts the configured application on a
//! free local port, prepares an exam and N verified students (accounts and sessions written
//! directly, so argon2 does not dominate the set-up), then releases every student at the same
//! instant: start, load the paper, save `answers` answers, submit. It reports p50/p99 latency per
//! endpoint, errors, how many times the paper was read from the database, and the time from the
//! first submit until every attempt is scored.
//!
//! Client and server share the machine (and this process), so the figures are a floor on what
//! a separate client would measure, not a capacity statement.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oes_app::domain::accounts::Role;
use oes_app::{Config, RunningServer};
use serde_json::{Value, json};
use tokio::sync::{Barrier, Mutex};

type AnyError = Box<dyn std::error::Error>;

#[derive(Debug, Clone, clap::Args)]
pub struct LoadTest {
    /// Students starting the same exam in the same second.
    #[arg(long, default_value_t = 500)]
    pub students: usize,
    /// Answers each student saves before submitting.
    #[arg(long, default_value_t = 20)]
    pub answers: usize,
}

#[derive(Default)]
struct Samples {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<&'static str, BTreeMap<u16, usize>>,
}

impl Samples {
    fn record(&mut self, endpoint: &'static str, took: Duration, status: u16, ok: bool) {
        self.latencies.entry(endpoint).or_default().push(took);
        if !ok {
            *self
                .errors
                .entry(endpoint)
                .or_default()
                .entry(status)
                .or_default() += 1;
        }
    }
}

async fn call(
    http: &reqwest::Client,
    samples: &Mutex<Samples>,
    endpoint: &'static str,
    req: reqwest::RequestBuilder,
    expect: u16,
) -> Option<Value> {
    let started = Instant::now();
    let outcome = match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.json::<Value>().await.unwrap_or(Value::Null);
            (status, Some(body))
        }
        Err(_) => (0, None),
    };
    let took = started.elapsed();
    let _ = http;
    let ok = outcome.0 == expect;
    samples.lock().await.record(endpoint, took, outcome.0, ok);
    if ok { outcome.1 } else { None }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub async fn run(mut config: Config, opts: LoadTest) -> Result<(), AnyError> {
    config.http.port = 0;
    config.http.host = std::net::IpAddr::from([127, 0, 0, 1]);
    config.queues.run_workers = true;
    let server = RunningServer::start(config, Default::default()).await?;
    let base = format!("http://{}", server.local_addr());
    let state = server.state().clone();
    println!(
        "loadtest: app on {base} ({} database)",
        state.db.backend().name()
    );

    let secret = state.config.secret.expose().to_owned();
    let session = |role: Role, name: String| {
        let db = state.db.clone();
        let secret = secret.clone();
        async move {
            let email = format!("load-{}@example.invalid", uuid::Uuid::new_v4().simple());
            let id = oes_app::service::accounts::create_passwordless_user(&db, &email, &name, role)
                .await?;
            let mut conn = db.pool().acquire().await?;
            let (_, token) = oes_app::service::accounts::start_session(
                &mut conn,
                &secret,
                Duration::from_secs(6 * 3600),
                id,
                None,
                Some("oes-loadtest"),
            )
            .await?;
            Ok::<_, AnyError>(token)
        }
    };
    let admin = session(Role::Admin, "Load Admin".into()).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.students + 10)
        .timeout(Duration::from_secs(120))
        .build()?;

    // The exam: `answers` single-correct questions, open from now for an hour.
    let mut question_ids = Vec::new();
    for i in 0..opts.answers.max(1) {
        let body = json!({
            "statement": format!("Load question {i}"),
            "questionType": "SINGLE_CORRECT",
            "domain": "load",
            "marks": 1, "negativeMarks": 0.25,
            "options": [
                { "text": "right", "isCorrect": true }, { "text": "wrong", "isCorrect": false },
                { "text": "also wrong", "isCorrect": false }, { "text": "nope", "isCorrect": false }
            ]
        });
        let resp: Value = http
            .post(format!("{base}/api/question/create"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let q = &resp["data"];
        question_ids.push((
            q["id"].as_str().unwrap_or_default().to_owned(),
            q["options"][0]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let now = chrono_now_rfc3339(-60);
    let end = chrono_now_rfc3339(3600);
    let exam: Value = http
        .post(format!("{base}/api/exam/create"))
        .bearer_auth(&admin)
        .json(&json!({ "title": "Load exam", "durationMinutes": 60, "startTime": now, "endTime": end }))
        .send()
        .await?
        .json()
        .await?;
    let exam_id = exam["exam"]["id"]
        .as_str()
        .ok_or("exam not created")?
        .to_owned();
    let exam: oes_app::domain::ids::ExamId = exam_id.parse()?;
    let add: Vec<Value> = question_ids
        .iter()
        .map(|(q, _)| json!({ "questionId": q }))
        .collect();
    http.post(format!("{base}/api/exam/{exam_id}/questions"))
        .bearer_auth(&admin)
        .json(&json!({ "addQuestionIds": add }))
        .send()
        .await?
        .error_for_status()?;
    http.post(format!("{base}/api/exam/{exam_id}/publish"))
        .bearer_auth(&admin)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?;

    let mut tokens = Vec::with_capacity(opts.students);
    for i in 0..opts.students {
        tokens.push(session(Role::User, format!("Load Student {i}")).await?);
    }
    println!(
        "loadtest: {} students, {} answers each, exam {exam_id}; go",
        opts.students, opts.answers
    );

    let samples = Arc::new(Mutex::new(Samples::default()));
    let barrier = Arc::new(Barrier::new(opts.students));
    let question_ids = Arc::new(question_ids);
    let first_submit: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(opts.students);
    for token in tokens {
        let (http, base, exam_id) = (http.clone(), base.clone(), exam_id.clone());
        let (samples, barrier, questions) =
            (samples.clone(), barrier.clone(), question_ids.clone());
        let first_submit = first_submit.clone();
        let answers = opts.answers;
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let s = &samples;
            let auth = |r: reqwest::RequestBuilder| r.bearer_auth(&token);
            let start = auth(
                http.post(format!("{base}/api/exam-attempt/{exam_id}/start"))
                    .json(&json!({})),
            );
            if call(&http, s, "POST start", start, 201).await.is_none() {
                return;
            }
            let load = auth(http.get(format!("{base}/api/exam-attempt/{exam_id}/attempt")));
            call(&http, s, "GET attempt", load, 200).await;
            for i in 0..answers {
                let (q, right) = &questions[i % questions.len()];
                let body = json!({ "questionId": q, "selectedOptionIds": [right] });
                let save = auth(
                    http.post(format!("{base}/api/exam-attempt/{exam_id}/save"))
                        .json(&body),
                );
                call(&http, s, "POST save", save, 200).await;
            }
            {
                let mut first = first_submit.lock().await;
                first.get_or_insert_with(Instant::now);
            }
            let submit = auth(
                http.post(format!("{base}/api/exam-attempt/{exam_id}/submit"))
                    .json(&json!({})),
            );
            call(&http, s, "POST submit", submit, 200).await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let requests_done = started.elapsed();

    // Wait until every submitted attempt is scored (bounded).
    let give_up = Instant::now() + Duration::from_secs(600);
    let (submitted, scored) = loop {
        let row = oes_app::service::results::scoring_progress(&state.db, exam).await?;
        if row.0 == row.1 || Instant::now() > give_up {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let scored_after = first_submit
        .lock()
        .await
        .map(|t| t.elapsed())
        .unwrap_or_default();

    let samples = samples.lock().await;
    println!("\nendpoint          count     p50 ms     p99 ms     max ms   errors");
    for (endpoint, lat) in &samples.latencies {
        let mut sorted = lat.clone();
        sorted.sort_unstable();
        let errors: usize = samples.errors.get(endpoint).map_or(0, |e| e.values().sum());
        println!(
            "{endpoint:<15} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>8}",
            sorted.len(),
            percentile(&sorted, 50.0).as_secs_f64() * 1000.0,
            percentile(&sorted, 99.0).as_secs_f64() * 1000.0,
            sorted.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            errors
        );
    }
    for (endpoint, by_status) in &samples.errors {
        println!("errors on {endpoint}: {by_status:?} (status 0 = transport error)");
    }
    println!(
        "\nall requests done in {:.2} s; paper loads from the database: {}",
        requests_done.as_secs_f64(),
        state.exam_stats.paper_loads()
    );
    println!(
        "attempts scored: {scored} of {submitted}; every attempt scored {:.2} s after the first submit",
        scored_after.as_secs_f64()
    );
    server.run_until(async {}).await?;
    Ok(())
}

fn chrono_now_rfc3339(offset_s: i64) -> String {
    oes_app::domain::exams::format_instant(oes_app::db::now_ms() + offset_s * 1000)
}
