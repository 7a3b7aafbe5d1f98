//! SIGTERM while a slow request is in flight: the request completes, then the server stops.
//! In a process of its own, because it signals its own process.

use std::time::Duration;

use crate::support::{self, TestDb};
use axum::Router;
use axum::routing::get;
use oes_app::db::Backend;
use oes_app::{RunningServer, shutdown_signal};

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_and_then_stops() {
    if !support::in_own_process(
        module_path!(),
        "sigterm_lets_an_in_flight_request_finish_and_then_stops",
    ) {
        return;
    }
    // Install a SIGTERM handler first, so the signal below never takes the default action of
    // ending this test process, whatever the order the tasks run in.
    let _guard = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");

    let db = TestDb::new(Backend::Sqlite).await;
    let slow = Router::new().route(
        "/test/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            "finished"
        }),
    );
    let server = RunningServer::start(support::config(&db.url, &[]), slow)
        .await
        .expect("server starts");
    let addr = server.local_addr();
    let running = tokio::spawn(server.run_until(shutdown_signal()));

    let request =
        tokio::spawn(async move { reqwest::get(format!("http://{addr}/api/test/slow")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());

    let response = request
        .await
        .expect("request task")
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "finished");

    let outcome = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the server stops after the request")
        .expect("server task");
    assert!(outcome.is_ok(), "{outcome:?}");

    // And it no longer accepts connections.
    assert!(
        reqwest::get(format!("http://{addr}/api/health"))
            .await
            .is_err()
    );
}
