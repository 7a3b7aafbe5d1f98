//! Connection limits over real TCP: clients that never finish their headers, or sit idle on a
//! kept-alive connection, are closed; and the connection cap holds descriptors to a bound.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::{self, TestDb};
use axum::Router;
use oes_app::RunningServer;
use oes_app::db::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(db: &TestDb, extra: &[(&str, &str)]) -> RunningServer {
    RunningServer::start(support::config(&db.url, extra), Router::new())
        .await
        .expect("server starts")
}

/// A connection that sent a request line and one header, and never the blank line after them.
async fn partial_request(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: oes\r\n")
        .await
        .expect("writes");
    stream
}

/// Reads until the server closes the connection; `None` if it is still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut seen)).await {
        Ok(_) => Some(seen),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed_after_the_header_timeout() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(&db, &[("HTTP_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let mut stream = partial_request(server.local_addr()).await;
    let started = Instant::now();
    let answer = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.is_some(), "the partial connection is still open");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
    // Nothing was served for the unfinished request.
    let answer = answer.unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed_after_the_idle_timeout() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(
        &db,
        &[
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "30"),
            ("HTTP_IDLE_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: oes\r\n\r\n")
        .await
        .expect("writes");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.expect("a response");
    assert_eq!(&head, b"HTTP/1.1 200");
    // The response was kept alive; left idle, the server closes it well before the header timeout.
    let answer = closed_within(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.is_some(), "the idle connection is still open");
}

#[tokio::test]
async fn past_the_connection_cap_new_clients_wait_until_the_header_timeout_frees_a_slot() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start(
        &db,
        &[
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "2"),
            ("HTTP_MAX_CONNECTIONS", "5"),
        ],
    )
    .await;
    let addr = server.local_addr();
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(partial_request(addr).await);
    }
    let started = Instant::now();
    let client = reqwest::Client::new();
    let health = tokio::spawn(async move {
        let resp = client
            .get(format!("http://{addr}/api/health"))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        (resp.map(|r| r.status()), Instant::now())
    });
    // While the five slots are held, the sixth client is not served...
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!health.is_finished(), "served past the connection cap");
    // ...and once the header timeout frees them, it is.
    let (status, answered_at) = health.await.expect("health task");
    assert_eq!(status.expect("health answers").as_u16(), 200);
    let waited = answered_at - started;
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(8),
        "answered after {waited:?}"
    );
    for mut stream in held {
        assert!(
            closed_within(&mut stream, Duration::from_secs(1))
                .await
                .is_some(),
            "a held connection outlived the header timeout"
        );
    }
}
