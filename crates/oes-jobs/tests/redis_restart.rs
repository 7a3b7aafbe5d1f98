//! A worker keeps working across a Redis restart (its own redis-server on a free port).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{OwnRedis, Recorder, wait_until};
use oes_jobs::{JobOptions, JobQueue, RedisJobs, WorkerOptions};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_picks_up_new_jobs_after_redis_restarts() {
    let mut server = OwnRedis::start();
    let jobs: Arc<dyn JobQueue> =
        Arc::new(RedisJobs::connect(&server.url(), "bull").await.unwrap());
    let rec = Recorder::ok();
    let worker = jobs
        .start_worker("email", rec.clone(), WorkerOptions::default())
        .await
        .unwrap();

    jobs.add(
        "email",
        "send-email",
        json!({"n": 1}),
        &JobOptions::with_id("before"),
    )
    .await
    .unwrap();
    wait_until(
        "job before the restart ran",
        Duration::from_secs(20),
        || async { rec.succeeded().len() == 1 },
    )
    .await;

    server.kill();
    server.spawn();
    let restarted = Instant::now();

    // The producer's first command on the dead socket fails (redis-rs does not replay it);
    // the next one goes over the re-established connection.
    let mut add_failures = 0;
    loop {
        match jobs
            .add(
                "email",
                "send-email",
                json!({"n": 2}),
                &JobOptions::with_id("after"),
            )
            .await
        {
            Ok(_) => break,
            Err(_) => {
                add_failures += 1;
                assert!(add_failures < 200, "producer never reconnected");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let added = restarted.elapsed();
    wait_until(
        "job after the restart ran",
        Duration::from_secs(30),
        || async { rec.succeeded().len() == 2 },
    )
    .await;
    let picked = restarted.elapsed();
    eprintln!(
        "redis restart: producer add ok after {added:?} ({add_failures} failed tries), \
         worker ran the new job {picked:?} after the restart"
    );
    assert_eq!(
        rec.succeeded(),
        vec!["before".to_string(), "after".to_string()]
    );
    assert!(
        worker.stats().errors >= 1,
        "the outage was observed and counted"
    );
    worker.shutdown(Duration::from_secs(5)).await.unwrap();
}
