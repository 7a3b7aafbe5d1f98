//! The OES job queue from Rust, in embedded mode (no Redis needed):
//! `cargo run -p oes-app --example job_queue`.
//!
//! Set `REDIS_URL=redis://127.0.0.1:6379` to run the same code on BullMQ (under a prefix of its
//! own, removed at the end by `clean`). Shows: a worker with a handler, deterministic job ids
//! (adding the same id twice is a no-op), priorities (1 runs before 10), a transient failure
//! retried with backoff, a permanent failure, and the queue counts an operator sees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oes_jobs::{
    Backoff, CleanState, EmbeddedJobs, HandlerError, JobContext, JobHandler, JobOptions, JobQueue,
    RedisJobs, WorkerOptions, async_trait,
};
use serde_json::json;

const QUEUE: &str = "example-email";

struct PrintEmail;

#[async_trait]
impl JobHandler for PrintEmail {
    async fn handle(&self, job: &JobContext) -> Result<(), HandlerError> {
        let to = job.data["to"].as_str().unwrap_or("?");
        match to {
            // A relay hiccup: fails the first try, succeeds on the retry.
            "flaky@example.test" if job.attempts_made == 0 => {
                println!("  {} to {to}: transient failure, will retry", job.id);
                Err(HandlerError::Retry("421 try again later".into()))
            }
            // Retrying cannot help: fail now whatever attempts remain.
            "nobody@example.test" => {
                println!("  {} to {to}: permanent failure", job.id);
                Err(HandlerError::Fatal("550 no such mailbox".into()))
            }
            _ => {
                println!("  {} to {to} sent (try {})", job.id, job.attempts_made + 1);
                Ok(())
            }
        }
    }
}

fn options(id: &str, priority: u32) -> JobOptions {
    JobOptions {
        priority: Some(priority),
        attempts: 3,
        backoff: Backoff::Exponential {
            initial: Duration::from_millis(100),
        },
        ..JobOptions::with_id(id)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis_url = std::env::var("REDIS_URL").ok();
    let prefix = format!("oes-example-{}", std::process::id());
    let queue: Arc<dyn JobQueue> = match &redis_url {
        Some(url) => Arc::new(RedisJobs::connect(url, &prefix).await?),
        None => Arc::new(EmbeddedJobs::new()),
    };

    // Added before the worker starts, so the priorities decide the order.
    let jobs = [
        ("newsletter-1", "reader1@example.test", 10),
        ("newsletter-2", "reader2@example.test", 10),
        ("reset-42", "asha@example.test", 1),
        ("notice-7", "flaky@example.test", 2),
        ("bounce-1", "nobody@example.test", 10),
    ];
    for (id, to, priority) in jobs {
        let data = json!({ "to": to, "subject": "hello" });
        queue
            .add(QUEUE, "send-email", data, &options(id, priority))
            .await?;
    }
    // Same id again: nothing is added (a retried request cannot send twice).
    queue
        .add(
            QUEUE,
            "send-email",
            json!({ "to": "asha@example.test" }),
            &options("reset-42", 1),
        )
        .await?;
    println!("queued: {:?}", queue.counts(QUEUE).await?);

    println!("worker (concurrency 1, so the order shows):");
    let worker = queue
        .start_worker(
            QUEUE,
            Arc::new(PrintEmail),
            WorkerOptions {
                concurrency: 1,
                ..WorkerOptions::default()
            },
        )
        .await?;
    let started = Instant::now();
    loop {
        let counts = queue.counts(QUEUE).await?;
        if counts.completed + counts.failed == 5 || started.elapsed() > Duration::from_secs(10) {
            println!("done: {counts:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for job in queue.failed(QUEUE, 0, -1).await? {
        println!(
            "failed job {}: {} after {} tries",
            job.id,
            job.failed_reason.unwrap_or_default(),
            job.attempts_made
        );
    }
    worker.shutdown(Duration::from_secs(5)).await?;
    queue
        .clean(QUEUE, CleanState::Completed, Duration::ZERO)
        .await?;
    queue
        .clean(QUEUE, CleanState::Failed, Duration::ZERO)
        .await?;
    drop(queue);
    if let Some(url) = redis_url {
        remove_prefix(&url, &prefix).await?;
    }
    Ok(())
}

/// The queue's own bookkeeping keys (ids, events, meta) stay after `clean`; an example leaves
/// nothing behind.
async fn remove_prefix(url: &str, prefix: &str) -> Result<(), redis::RedisError> {
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let () = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}
