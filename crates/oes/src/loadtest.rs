//! `oes loadtest`: the exam-day run. It prepares an exam and N verified students, then releases
//! every student at the same instant: start, load the paper, save `answers` answers, submit.
//!
//! Two modes:
//! - in process (no `--url`): it starts the configured application on a free local port of
//!   this process. Client and server share the process, so the figures are a floor on what a
//!   separate client would measure;
//! - against running servers (`--url`, repeatable or comma-separated): students are spread
//!   round robin over the URLs (several `oes serve` processes on one database and Redis).
//!
//! Students are created the way the CLI's `seed` and `admin create` create accounts: written
//! straight to `DATABASE_URL` (verified, with a session whose token is keyed with
//! `APP_SECRET`), because the public API can only create students through an emailed link
//! and no admin route creates them. So `--url` needs the deployment's `DATABASE_URL` and
//! `APP_SECRET`. The admin who builds the exam is made the same way; questions and the exam
//! go through the API.
//!
//! The report: p50/p95/p99/max per endpoint, errors by endpoint and status, the start storm
//! (from the release until the last student holds their paper), the time from the last
//! submit until every attempt is scored, how many times each process read the paper from
//! the database (its `/metrics`, so `METRICS_TOKEN` must match the servers'), and the peak RSS
//! of the local processes given with `--pid` during the exam phase.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use oes_app::db::Db;
use oes_app::domain::accounts::Role;
use oes_app::state::ExamStats;
use oes_app::{Config, RunningServer};
use serde_json::{Value, json};
use tokio::sync::{Mutex, watch};

type AnyError = Box<dyn std::error::Error>;

#[derive(Debug, Clone, clap::Args)]
pub struct LoadTest {
    /// Students starting the same exam in the same second.
    #[arg(long, default_value_t = 500)]
    pub students: usize,
    /// Answers each student saves before submitting.
    #[arg(long, default_value_t = 20)]
    pub answers: usize,
    /// Base URL of a running server to drive (`http://host:port`), instead of one in this
    /// process. Repeat it or separate with commas to spread students over several processes.
    #[arg(long = "url", value_delimiter = ',')]
    pub urls: Vec<String>,
    /// Process id of a local target whose peak RSS during the exam phase to report. Repeatable.
    #[arg(long = "pid", value_delimiter = ',')]
    pub pids: Vec<u32>,
    /// Think time before each save, in milliseconds: each wait is drawn between half and one
    /// and a half of it, so students' saves spread out as in an exam hall instead of arriving
    /// back to back. 0 (the default) saves as fast as the server answers.
    #[arg(long, default_value_t = 0)]
    pub think_ms: u64,
    /// How long to wait, after the last submit, for every attempt to be scored.
    #[arg(long, default_value_t = 600)]
    pub score_timeout_secs: u64,
    /// Students open no connection before the opening. By default each student first reads the
    /// exam's details (as the exam page does while students wait for the start), over the
    /// kept-alive connection its start then uses, and the opening is released once every
    /// student has; with this flag the start is each student's first request, so the opening
    /// also pays a thousand TCP handshakes at once.
    #[arg(long)]
    pub cold_start: bool,
}

#[derive(Default)]
struct Samples {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<&'static str, BTreeMap<u16, usize>>,
    /// Per student, from the release until their paper arrived.
    paper_held: Vec<Duration>,
    last_submit: Option<Instant>,
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

/// Sends one request and records its latency (until the whole body has arrived) and status.
/// Whether the status was the expected one. The body is read but not parsed: the client shares
/// the machine with the server, and a JSON tree of every paper would be its CPU, not the
/// server's.
async fn call(
    samples: &Mutex<Samples>,
    endpoint: &'static str,
    req: reqwest::RequestBuilder,
    expect: u16,
) -> bool {
    let started = Instant::now();
    let status = match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.bytes().await {
                Ok(_) => status,
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    };
    let took = started.elapsed();
    let ok = status == expect;
    samples.lock().await.record(endpoint, took, status, ok);
    ok
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Where the paper-load count comes from.
enum PaperLoads {
    /// The in-process server's own counter.
    Local(Arc<ExamStats>),
    /// Each target's `/metrics` (`oes_paper_loads_total`), with this Bearer token.
    Scraped(Option<String>),
}

pub async fn run(mut config: Config, opts: LoadTest) -> Result<(), AnyError> {
    if !opts.urls.is_empty() {
        let db = Db::connect(&config.database.url, 16).await?;
        let token = config
            .observability
            .metrics_token
            .as_ref()
            .map(|t| t.expose().to_owned());
        let targets: Vec<String> = opts
            .urls
            .iter()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        println!(
            "loadtest: driving {} ({} database)",
            targets.join(", "),
            db.backend().name()
        );
        let secret = config.secret.expose().to_owned();
        let outcome = drive(&db, &secret, &targets, PaperLoads::Scraped(token), &opts).await;
        db.close().await;
        return outcome;
    }
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
    let mut opts = opts;
    if opts.pids.is_empty() {
        // Server and client share this process: its RSS is an upper bound on the server's.
        opts.pids.push(std::process::id());
    }
    let loads = PaperLoads::Local(state.exam_stats.clone());
    let outcome = drive(&state.db, &secret, &[base], loads, &opts).await;
    server.run_until(async {}).await?;
    outcome
}

/// A verified account written to the database, with a live session; its token.
async fn account(db: &Db, secret: &str, role: Role, name: &str) -> Result<String, AnyError> {
    let email = format!("load-{}@example.invalid", uuid::Uuid::new_v4().simple());
    let id = oes_app::service::accounts::create_passwordless_user(db, &email, name, role).await?;
    let mut conn = db.pool().acquire().await?;
    let (_, token) = oes_app::service::accounts::start_session(
        &mut conn,
        secret,
        Duration::from_secs(6 * 3600),
        id,
        None,
        Some("oes-loadtest"),
    )
    .await?;
    Ok(token)
}

/// The exam: `answers` single-correct questions, open from a minute ago for an hour. Returns
/// its id and each question's id with its right option.
async fn prepare_exam(
    http: &reqwest::Client,
    base: &str,
    admin: &str,
    answers: usize,
) -> Result<(String, Vec<(String, String)>), AnyError> {
    let mut question_ids = Vec::new();
    for i in 0..answers.max(1) {
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
            .bearer_auth(admin)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let q = &resp["data"];
        let id = q["id"].as_str().ok_or("question not created")?;
        let right = q["options"][0]["id"]
            .as_str()
            .ok_or("question has no options")?;
        question_ids.push((id.to_owned(), right.to_owned()));
    }
    let exam: Value = http
        .post(format!("{base}/api/exam/create"))
        .bearer_auth(admin)
        .json(&json!({
            "title": "Load exam", "durationMinutes": 60,
            "startTime": rfc3339_from_now(-60), "endTime": rfc3339_from_now(3600)
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let exam_id = exam["exam"]["id"]
        .as_str()
        .ok_or("exam not created")?
        .to_owned();
    let add: Vec<Value> = question_ids
        .iter()
        .map(|(q, _)| json!({ "questionId": q }))
        .collect();
    http.post(format!("{base}/api/exam/{exam_id}/questions"))
        .bearer_auth(admin)
        .json(&json!({ "addQuestionIds": add }))
        .send()
        .await?
        .error_for_status()?;
    http.post(format!("{base}/api/exam/{exam_id}/publish"))
        .bearer_auth(admin)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?;
    Ok((exam_id, question_ids))
}

/// Resident set size of a process, in KiB: now (`VmRSS`) and its lifetime peak (`VmHWM`).
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Samples the RSS of `pids` every 20 ms until `done`; the highest seen per pid.
fn sample_rss(pids: Vec<u32>, done: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<u64>> {
    tokio::spawn(async move {
        let mut peak = vec![0u64; pids.len()];
        while !done.load(Ordering::Relaxed) {
            for (i, pid) in pids.iter().enumerate() {
                if let Some((rss, _)) = rss_kib(*pid) {
                    peak[i] = peak[i].max(rss);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak
    })
}

/// `oes_paper_loads_total` of each target, or `None` where it cannot be read.
/// A think time between half and one and a half of `mean_ms`, spread over students and answers
/// by a multiplicative hash (repeatable from run to run, unlike a random draw).
fn think_time(mean_ms: u64, student: usize, answer: usize) -> Duration {
    let mix = (student as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((answer as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
    let spread = mean_ms.max(1);
    Duration::from_millis(mean_ms / 2 + (mix >> 32) % spread)
}

async fn paper_loads(
    http: &reqwest::Client,
    targets: &[String],
    source: &PaperLoads,
) -> Vec<Option<u64>> {
    let token = match source {
        PaperLoads::Local(stats) => return vec![Some(stats.paper_loads())],
        PaperLoads::Scraped(None) => return vec![None; targets.len()],
        PaperLoads::Scraped(Some(token)) => token,
    };
    let mut out = Vec::with_capacity(targets.len());
    for base in targets {
        let text = async {
            http.get(format!("{base}/metrics"))
                .bearer_auth(token)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        };
        let count = text.await.ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("oes_paper_loads_total "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|v| v as u64)
        });
        out.push(count);
    }
    out
}

async fn drive(
    db: &Db,
    secret: &str,
    targets: &[String],
    loads_source: PaperLoads,
    opts: &LoadTest,
) -> Result<(), AnyError> {
    let base = targets.first().ok_or("no target URL")?.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.students + 10)
        .timeout(Duration::from_secs(120))
        .build()?;
    let admin = account(db, secret, Role::Admin, "Load Admin").await?;
    // Before the exam exists: a server loads the paper ahead of the opening (its warm-up),
    // and that load counts as much as one during the run.
    let loads_before = paper_loads(&http, targets, &loads_source).await;
    let (exam_id, question_ids) = prepare_exam(&http, &base, &admin, opts.answers).await?;
    let exam: oes_app::domain::ids::ExamId = exam_id.parse()?;

    // Accounts in parallel, a few at a time: a thousand one after the other is most of a
    // minute on PostgreSQL, and the pool holds 16 connections.
    let mut tokens = Vec::with_capacity(opts.students);
    let mut pending = futures::stream::iter(0..opts.students)
        .map(|i| async move { account(db, secret, Role::User, &format!("Load Student {i}")).await })
        .buffer_unordered(8);
    while let Some(token) = pending.next().await {
        tokens.push(token?);
    }
    drop(pending);
    println!(
        "loadtest: {} students over {} target(s), {} answers each, think time {} ms, exam {exam_id}; go",
        opts.students,
        targets.len(),
        opts.answers,
        opts.think_ms
    );

    let samples = Arc::new(Mutex::new(Samples::default()));
    let question_ids = Arc::new(question_ids);
    let (release, released) = watch::channel(None::<Instant>);
    let (ready, mut waiting) = tokio::sync::mpsc::channel::<()>(opts.students.max(1));
    let warm = !opts.cold_start;
    let mut tasks = Vec::with_capacity(opts.students);
    for (i, token) in tokens.into_iter().enumerate() {
        let student = i;
        let (http, exam_id) = (http.clone(), exam_id.clone());
        let base = targets[i % targets.len()].clone();
        let (samples, questions) = (samples.clone(), question_ids.clone());
        let mut released = released.clone();
        let answers = opts.answers;
        let think_ms = opts.think_ms;
        let ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let s = &samples;
            let auth = |r: reqwest::RequestBuilder| r.bearer_auth(&token);
            if warm {
                // The exam page, while the student waits for the start.
                let page = auth(http.get(format!("{base}/api/exam/live")));
                call(s, "GET live (before)", page, 200).await;
            }
            drop(ready);
            let Ok(go) = released.wait_for(Option::is_some).await.map(|t| *t) else {
                return;
            };
            let Some(t0) = go else { return };
            let start = auth(
                http.post(format!("{base}/api/exam-attempt/{exam_id}/start"))
                    .json(&json!({})),
            );
            if !call(s, "POST start", start, 201).await {
                return;
            }
            let load = auth(http.get(format!("{base}/api/exam-attempt/{exam_id}/attempt")));
            if call(s, "GET attempt", load, 200).await {
                s.lock().await.paper_held.push(t0.elapsed());
            }
            for i in 0..answers {
                if think_ms > 0 {
                    tokio::time::sleep(think_time(think_ms, student, i)).await;
                }
                let (q, right) = &questions[i % questions.len()];
                let body = json!({ "questionId": q, "selectedOptionIds": [right] });
                let save = auth(
                    http.post(format!("{base}/api/exam-attempt/{exam_id}/save"))
                        .json(&body),
                );
                call(s, "POST save", save, 200).await;
            }
            let submit = auth(
                http.post(format!("{base}/api/exam-attempt/{exam_id}/submit"))
                    .json(&json!({})),
            );
            call(s, "POST submit", submit, 200).await;
            let mut s = s.lock().await;
            let now = Instant::now();
            s.last_submit = Some(s.last_submit.map_or(now, |t| t.max(now)));
        }));
    }

    let rss_done = Arc::new(AtomicBool::new(false));
    let rss = sample_rss(opts.pids.clone(), rss_done.clone());
    // Every student is on the exam page (or, cold, has been spawned): the opening.
    drop(ready);
    while waiting.recv().await.is_some() {}
    let started = Instant::now();
    release.send_replace(Some(started));
    for t in tasks {
        let _ = t.await;
    }
    let requests_done = started.elapsed();

    // Wait until every submitted attempt is scored (bounded).
    let give_up = Instant::now() + Duration::from_secs(opts.score_timeout_secs);
    let (submitted, scored) = loop {
        let row = oes_app::service::results::scoring_progress(db, exam).await?;
        if row.0 == row.1 || Instant::now() > give_up {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let scored_at = Instant::now();
    rss_done.store(true, Ordering::Relaxed);
    let peaks = rss.await.unwrap_or_default();
    let loads_after = paper_loads(&http, targets, &loads_source).await;

    let samples = samples.lock().await;
    println!("\nendpoint          count     p50 ms     p95 ms     p99 ms     max ms   errors");
    for (endpoint, lat) in &samples.latencies {
        let mut sorted = lat.clone();
        sorted.sort_unstable();
        let errors: usize = samples.errors.get(endpoint).map_or(0, |e| e.values().sum());
        println!(
            "{endpoint:<15} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>8}",
            sorted.len(),
            ms(percentile(&sorted, 50.0)),
            ms(percentile(&sorted, 95.0)),
            ms(percentile(&sorted, 99.0)),
            ms(sorted.last().copied().unwrap_or_default()),
            errors
        );
    }
    let total_errors: usize = samples.errors.values().flat_map(|e| e.values()).sum();
    println!("\nerrors: {total_errors}");
    for (endpoint, by_status) in &samples.errors {
        println!("errors on {endpoint}: {by_status:?} (status 0 = transport error)");
    }
    let mut held = samples.paper_held.clone();
    held.sort_unstable();
    let within = held
        .iter()
        .filter(|d| **d <= Duration::from_millis(500))
        .count();
    println!(
        "start storm: {} of {} students held their paper, the last {:.1} ms after the opening \
         (p50 {:.1} ms, p99 {:.1} ms); {within} within 0.5 s",
        held.len(),
        opts.students,
        ms(held.last().copied().unwrap_or_default()),
        ms(percentile(&held, 50.0)),
        ms(percentile(&held, 99.0)),
    );
    println!("all requests done in {:.2} s", requests_done.as_secs_f64());
    let per_target: Vec<String> = targets
        .iter()
        .zip(loads_before.iter().zip(&loads_after))
        .map(|(t, (b, a))| match (b, a) {
            (Some(b), Some(a)) => format!("{t}: {}", a.saturating_sub(*b)),
            _ => format!("{t}: unknown (set METRICS_TOKEN to the servers')"),
        })
        .collect();
    println!(
        "paper loads from the database since the exam was created: {}",
        per_target.join("; ")
    );
    let scored_after = samples
        .last_submit
        .map(|t| scored_at.saturating_duration_since(t))
        .unwrap_or_default();
    println!(
        "attempts scored: {scored} of {submitted}; all scored {:.2} s after the last submit",
        scored_after.as_secs_f64()
    );
    for (pid, peak) in opts.pids.iter().zip(&peaks) {
        let lifetime = rss_kib(*pid).map(|(_, hwm)| hwm);
        println!(
            "peak RSS of pid {pid} during the exam phase: {:.1} MB (lifetime peak {})",
            *peak as f64 / 1024.0,
            lifetime.map_or("unknown".to_owned(), |k| format!(
                "{:.1} MB",
                k as f64 / 1024.0
            )),
        );
    }
    Ok(())
}

fn rfc3339_from_now(offset_s: i64) -> String {
    oes_app::domain::exams::format_instant(oes_app::db::now_ms() + offset_s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_times_stay_between_half_and_one_and_a_half_of_the_mean_and_differ() {
        let times: Vec<Duration> = (0..200)
            .flat_map(|s| (0..5).map(move |a| think_time(2000, s, a)))
            .collect();
        assert!(
            times
                .iter()
                .all(|t| (1000..3000).contains(&(t.as_millis() as u64)))
        );
        let distinct: std::collections::BTreeSet<_> = times.iter().collect();
        assert!(distinct.len() > 500, "spread out: {}", distinct.len());
    }
}
