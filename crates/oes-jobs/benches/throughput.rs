//! Load generator: jobs/s through each backend with a no-op handler.
//!
//! `cargo bench -p oes-jobs --bench throughput -- [jobs] [concurrency]`
//! (Redis from OES_TEST_REDIS_URL, under a throw-away prefix that is deleted afterwards).
#![allow(clippy::unwrap_used)] // a load generator: a panic is the report

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use oes_jobs::{
    EmbeddedJobs, HandlerError, JobContext, JobHandler, JobOptions, JobQueue, RedisJobs,
    WorkerOptions,
};

struct Noop(AtomicU64);

#[oes_jobs::async_trait]
impl JobHandler for Noop {
    async fn handle(&self, _job: &JobContext) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

async fn run(label: &str, jobs: Arc<dyn JobQueue>, n: u64, concurrency: usize) {
    let opts = JobOptions::default();
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (jobs, opts) = (jobs.clone(), opts.clone());
            async move {
                jobs.add("bench", "noop", serde_json::json!({ "i": i }), &opts)
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(64)
        .for_each(|_| async {})
        .await;
    let add_secs = started.elapsed().as_secs_f64();

    let handler = Arc::new(Noop(AtomicU64::new(0)));
    let worker_opts = WorkerOptions {
        concurrency,
        ..WorkerOptions::default()
    };
    let started = Instant::now();
    let worker = jobs
        .start_worker("bench", handler.clone(), worker_opts)
        .await
        .unwrap();
    while worker.stats().completed < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let run_secs = started.elapsed().as_secs_f64();
    worker.shutdown(Duration::from_secs(10)).await.unwrap();
    println!(
        "{label:>9}: {n} jobs, add {:>8.0} jobs/s (64 in flight), process {:>8.0} jobs/s (concurrency {concurrency})",
        n as f64 / add_secs,
        n as f64 / run_secs
    );
}

fn delete_prefix(url: &str, prefix: &str) {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)
            .unwrap();
        if !keys.is_empty() {
            let _: u64 = redis::cmd("UNLINK").arg(&keys).query(&mut conn).unwrap();
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let concurrency: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);

    run("embedded", Arc::new(EmbeddedJobs::new()), n, concurrency).await;

    let url =
        std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("oes-bench-{}", uuid::Uuid::new_v4());
    let jobs = Arc::new(RedisJobs::connect(&url, &prefix).await.unwrap());
    run("redis", jobs, n, concurrency).await;
    delete_prefix(&url, &prefix);
}
