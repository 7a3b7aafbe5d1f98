//! `/metrics`: hidden without a token, guarded by it, and a well-formed Prometheus exposition
//! whose counters follow the traffic.

use std::collections::HashMap;

use super::ADMIN_EMAIL;
use crate::support::{self, Answer, PASSWORD, TestApp};
use oes_app::db::Backend;

const TOKEN: &str = "metrics-token-for-tests-0123456789";

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, Option<String>) {
    let mut req = app.http.get(format!("{}/metrics", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("metrics answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, resp.text().await.expect("body"), content_type)
}

/// Parses an exposition: every line is blank, a `#` comment, or `name{labels} value` with a
/// numeric value. Answers the samples keyed by `name{labels}` exactly as written.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let kind = rest.split_whitespace().nth(1).unwrap_or_default();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "bad TYPE line: {line}"
                );
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in line: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("value is not a number in line: {line}")),
        };
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in line: {line}"
        );
        if name_end < series.len() {
            let labels = &series[name_end..];
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "bad labels in line: {line}"
            );
            for pair in split_labels(&labels[1..labels.len() - 1]) {
                let (key, quoted) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad label {pair:?} in line: {line}"));
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad label name {key:?} in line: {line}"
                );
                assert!(
                    quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"'),
                    "unquoted label value in line: {line}"
                );
            }
        }
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "duplicate series: {series}"
        );
    }
    samples
}

/// Splits `a="x",b="y,z"` on the commas outside quotes.
fn split_labels(labels: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        parts.push(&labels[start..]);
    }
    parts
}

#[tokio::test]
async fn metrics_are_hidden_without_a_configured_token() {
    let app = super::start(Backend::Sqlite, &[]).await;
    let (status, body, _) = scrape(&app, Some("anything")).await;
    assert_eq!(status, 404, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json error");
    assert_eq!(json["code"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn metrics_refuse_a_missing_or_wrong_token() {
    let app = super::start(Backend::Sqlite, &[("METRICS_TOKEN", TOKEN)]).await;
    for token in [
        None,
        Some("wrong"),
        Some("metrics-token-for-tests-012345678"),
    ] {
        let (status, body, _) = scrape(&app, token).await;
        assert_eq!(status, 401, "{token:?}: {body}");
        assert!(!body.contains(TOKEN), "the token is never echoed");
    }
    // An admin session is not a metrics token.
    let session = app.login(ADMIN_EMAIL, PASSWORD).await;
    let (status, _, _) = scrape(&app, Some(&session)).await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn the_exposition_parses_and_counts_requests_by_route_template() {
    for backend in support::BACKENDS {
        let app = super::start(backend, &[("METRICS_TOKEN", TOKEN)]).await;
        let token = app.login(ADMIN_EMAIL, PASSWORD).await;
        let series = "oes_http_requests_total{route=\"/api/admin/queues/{queue}/jobs/{id}\",\
                      method=\"GET\",status=\"404\"}";

        let (status, before, content_type) = scrape(&app, Some(TOKEN)).await;
        assert_eq!(status, 200, "{before}");
        assert!(
            content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
            "{content_type:?}"
        );
        let before = parse(&before);
        let counted_before = before.get(series).copied().unwrap_or(0.0);

        for id in ["first-missing", "second-missing", "third-missing"] {
            let Answer { status, .. } = app
                .get(&format!("/api/admin/queues/email/jobs/{id}"), &token)
                .await;
            assert_eq!(status, 404);
        }
        let Answer { status, .. } = app.get("/api/no/such/route", &token).await;
        assert_eq!(status, 404);

        let (_, after_text, _) = scrape(&app, Some(TOKEN)).await;
        let after = parse(&after_text);
        assert_eq!(
            after.get(series).copied(),
            Some(counted_before + 3.0),
            "{after_text}"
        );
        assert!(
            !after_text.contains("first-missing"),
            "raw URLs never become labels"
        );
        assert!(
            after_text.contains("route=\"unmatched\""),
            "unrouted requests share one label"
        );
        let histogram_count = after
            .get(
                "oes_http_request_duration_seconds_count{route=\"/api/admin/queues/{queue}/jobs/{id}\",\
                 method=\"GET\",status=\"404\"}",
            )
            .copied();
        assert_eq!(histogram_count, after.get(series).copied());
        let inf_bucket = after
            .get(
                "oes_http_request_duration_seconds_bucket{route=\"/api/admin/queues/{queue}/jobs/{id}\",\
                 method=\"GET\",status=\"404\",le=\"+Inf\"}",
            )
            .copied();
        assert_eq!(inf_bucket, histogram_count);

        // Queue, worker, cache and pool families are there too.
        assert_eq!(after.get("oes_queue_up"), Some(&1.0));
        assert!(after.contains_key("oes_queue_jobs{queue=\"email\",state=\"failed\"}"));
        assert!(after.contains_key("oes_worker_jobs_total{queue=\"email\",outcome=\"completed\"}"));
        assert!(after.contains_key("oes_cache_hits_total{tier=\"l1\"}"));
        assert!(after.contains_key("oes_cache_misses_total"));
        assert!(after.contains_key("oes_db_pool_max_connections"));
        app.stop().await;
    }
}

#[tokio::test]
async fn job_outcomes_and_durations_follow_the_workers() {
    let app = super::start(Backend::Sqlite, &[("METRICS_TOKEN", TOKEN)]).await;
    let token = app.login(ADMIN_EMAIL, PASSWORD).await;
    app.add_email_job("metrics-ok-1", "m@example.com").await;
    app.wait_for_job(&token, "email", "metrics-ok-1", "completed")
        .await;
    app.sink.refuse(oes_mail::sink::Refusal::permanent_rcpt());
    app.add_email_job("metrics-bad-1", "m@example.com").await;
    app.wait_for_job(&token, "email", "metrics-bad-1", "failed")
        .await;

    // Worker counters are bumped around the state change, so read until both outcomes show.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (text, samples) = loop {
        let (_, text, _) = scrape(&app, Some(TOKEN)).await;
        let samples = parse(&text);
        if samples.get("oes_job_duration_seconds_count{queue=\"email\"}") == Some(&2.0)
            || tokio::time::Instant::now() > deadline
        {
            break (text, samples);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let get = |s: &str| samples.get(s).copied();
    assert_eq!(
        get("oes_worker_jobs_total{queue=\"email\",outcome=\"completed\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        get("oes_worker_jobs_total{queue=\"email\",outcome=\"failed\"}"),
        Some(1.0)
    );
    assert_eq!(
        get("oes_queue_jobs{queue=\"email\",state=\"failed\"}"),
        Some(1.0)
    );
    assert_eq!(
        get("oes_job_duration_seconds_count{queue=\"email\"}"),
        Some(2.0)
    );
    assert!(get("oes_job_duration_seconds_sum{queue=\"email\"}").is_some_and(|s| s > 0.0));
    app.stop().await;
}

#[tokio::test]
async fn each_server_in_a_process_counts_only_its_own_requests_in_the_same_buckets_as_before() {
    let first = super::start(Backend::Sqlite, &[("METRICS_TOKEN", TOKEN)]).await;
    let second = super::start(Backend::Sqlite, &[("METRICS_TOKEN", TOKEN)]).await;
    let labels = "route=\"/api/health\",method=\"GET\",status=\"200\"";
    for _ in 0..2 {
        let resp = first
            .http
            .get(format!("{}/api/health", first.base))
            .send()
            .await
            .expect("health answers");
        assert_eq!(resp.status(), 200);
    }

    let (_, first_text, _) = scrape(&first, Some(TOKEN)).await;
    let (_, second_text, _) = scrape(&second, Some(TOKEN)).await;
    let (first_samples, second_samples) = (parse(&first_text), parse(&second_text));
    assert_eq!(
        first_samples
            .get(&format!("oes_http_requests_total{{{labels}}}"))
            .copied(),
        Some(2.0),
        "{first_text}"
    );
    assert!(
        !second_samples.contains_key(&format!("oes_http_requests_total{{{labels}}}")),
        "{second_text}"
    );
    assert!(first_text.contains("# TYPE oes_http_request_duration_seconds histogram"));
    assert!(first_text.contains("# TYPE oes_http_requests_total counter"));
    assert!(first_text.contains("# TYPE oes_job_duration_seconds summary"));
    let le: Vec<&str> = first_text
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                "oes_http_request_duration_seconds_bucket{{{labels},"
            ))
        })
        .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        le,
        [
            "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
            "+Inf"
        ],
        "{first_text}"
    );
    first.stop().await;
    second.stop().await;
}
