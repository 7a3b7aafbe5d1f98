//! `oes queue stats | failed | retry | clean`: the BullMQ queues under `QUEUE_PREFIX` on
//! `REDIS_URL`, and the email outbox that feeds the `email` queue.
//!
//! In embedded mode (no `REDIS_URL`) the queues live inside the serving process, so only the
//! outbox (in the database) can be inspected from here.

use std::time::Duration;

use oes_app::Config;
use oes_app::db::Db;
use oes_jobs::{CleanState, JobQueue, RedisJobs};

use crate::AnyError;

use oes_app::queue::QUEUES;

/// The default queue of the commands: the email queue, shared with the Node system.
const EMAIL_QUEUE: &str = oes_app::queue::Queue::Email.name();

#[derive(clap::Subcommand)]
pub enum QueueCommand {
    /// Jobs per state for every queue, and outbox emails per status.
    Stats,
    /// The failed jobs of a queue, most recent first (ids, tries and reasons; never the data).
    Failed {
        #[arg(long, default_value = EMAIL_QUEUE)]
        queue: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Moves failed jobs back to waiting: one by id, or every one with --all.
    Retry {
        #[arg(long, default_value = EMAIL_QUEUE)]
        queue: String,
        /// The job id to retry.
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Removes finished jobs older than --older-than-secs.
    Clean {
        #[arg(long, default_value = EMAIL_QUEUE)]
        queue: String,
        #[arg(long, value_enum)]
        state: FinishedState,
        #[arg(long, default_value_t = 3600)]
        older_than_secs: u64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FinishedState {
    Completed,
    Failed,
}

pub async fn run(config: Config, command: QueueCommand) -> Result<(), AnyError> {
    if let QueueCommand::Stats = command {
        outbox_stats(&config).await?;
    }
    let Some(url) = &config.redis.url else {
        match command {
            QueueCommand::Stats => println!(
                "queues: embedded mode (no REDIS_URL): they live inside the serving process"
            ),
            _ => {
                return Err(
                    "REDIS_URL is not set: in embedded mode the queues live inside the serving process".into(),
                );
            }
        }
        return Ok(());
    };
    let jobs = RedisJobs::connect(url, &config.queues.prefix).await?;
    match command {
        QueueCommand::Stats => {
            println!("queues (prefix `{}`):", config.queues.prefix);
            println!(
                "  {:<18} {:>8} {:>11} {:>8} {:>8} {:>10} {:>8}",
                "queue", "waiting", "prioritized", "delayed", "active", "completed", "failed"
            );
            for queue in QUEUES {
                let c = jobs.counts(queue).await?;
                println!(
                    "  {:<18} {:>8} {:>11} {:>8} {:>8} {:>10} {:>8}",
                    queue,
                    c.waiting + c.paused,
                    c.prioritized,
                    c.delayed,
                    c.active,
                    c.completed,
                    c.failed
                );
            }
        }
        QueueCommand::Failed { queue, limit } => {
            let failed = jobs.failed(&queue, 0, limit.max(1) - 1).await?;
            if failed.is_empty() {
                println!("no failed jobs in `{queue}`");
            }
            for job in failed {
                let when = job
                    .finished_on
                    .and_then(|ms| i64::try_from(ms).ok())
                    .map(oes_app::domain::exams::format_instant)
                    .unwrap_or_default();
                println!(
                    "{}\t{}\ttries={}\t{}\t{}",
                    job.id,
                    job.name,
                    job.attempts_made,
                    when,
                    job.failed_reason.unwrap_or_default()
                );
            }
        }
        QueueCommand::Retry { queue, id, all } => {
            if id.is_none() && !all {
                return Err("give a job id, or --all".into());
            }
            let moved = jobs.retry_failed(&queue, id.as_deref()).await?;
            println!("{moved} job(s) of `{queue}` moved back to waiting");
        }
        QueueCommand::Clean {
            queue,
            state,
            older_than_secs,
        } => {
            let (state, name) = match state {
                FinishedState::Completed => (CleanState::Completed, "completed"),
                FinishedState::Failed => (CleanState::Failed, "failed"),
            };
            let removed = jobs
                .clean(&queue, state, Duration::from_secs(older_than_secs))
                .await?;
            println!("{removed} {name} job(s) removed from `{queue}`");
        }
    }
    Ok(())
}

async fn outbox_stats(config: &Config) -> Result<(), AnyError> {
    let db = Db::connect(&config.database.url, 1).await?;
    // As at start-up: a SQLite file is always brought up to date, PostgreSQL only when asked.
    if db.backend() == oes_app::db::Backend::Sqlite || config.database.auto_migrate {
        db.migrate().await?;
    }
    let counts = oes_app::email::outbox_counts(&db).await;
    db.close().await;
    let mut counts = counts?;
    counts.sort();
    let line: Vec<String> = counts.iter().map(|(s, n)| format!("{s}={n}")).collect();
    println!(
        "email outbox: {}",
        if line.is_empty() {
            "empty".to_owned()
        } else {
            line.join(" ")
        }
    );
    Ok(())
}
