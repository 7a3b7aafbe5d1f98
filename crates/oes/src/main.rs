//! `oes`: the one binary of the exam platform, a thin command line over `oes-app`.
//!
//! - `serve`, `worker`, `migrate`, `admin create`: here;
//! - `queue stats | failed | retry | clean`: [`queue`] (BullMQ under `QUEUE_PREFIX`, and the outbox);
//! - `cache stats | clear`: [`cache`] (the shared namespace on Redis);
//! - `seed`: [`seed`] (demo data through the services);
//! - `import node`: [`import`] (the Node system's database, for the switch-over);
//! - `loadtest`: [`loadtest`] (the exam-day run).
//!
//! Every command reads the same configuration (`Config::from_env`).

use std::process::ExitCode;

mod cache;
mod import;
mod loadtest;
mod queue;
mod seed;

use clap::{Parser, Subcommand};
use oes_app::{Config, RunningServer, Services, shutdown_signal};

#[derive(Parser)]
#[command(
    name = "oes",
    version,
    about = "OES, the online exam platform backend",
    long_about = "OES, the online exam platform backend.\n\nConfiguration comes from the environment \
                  and an optional .env file; see .env.example. With no configuration, `oes serve` \
                  runs on an embedded default: a SQLite file under data/, an in-process cache and \
                  job runner, and emails written as .eml files under data/mail/."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (and, unless RUN_WORKERS=false, the job workers) until SIGINT or SIGTERM.
    Serve,
    /// Run only the job workers (email, scoring, auto-submit) until SIGINT or SIGTERM.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administration: accounts the public API cannot create.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Exam-day load run against an in-process server: N students start one exam together,
    /// save answers and submit; prints latency percentiles, errors, paper loads, scoring time.
    Loadtest(loadtest::LoadTest),
    /// The job queues: counts, failed jobs, retry, clean (Redis mode).
    Queue {
        #[command(subcommand)]
        command: queue::QueueCommand,
    },
    /// The shared cache: key count and Redis memory, or clear the namespace.
    Cache {
        #[command(subcommand)]
        command: cache::CacheCommand,
    },
    /// Demo data: an admin, verified students, a question bank and a published exam.
    Seed(seed::SeedArgs),
    /// Bring another system's data into the OES database (`import node`: the Node system).
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a verified ADMIN account. The password is read from stdin (`--password-stdin`)
    /// or prompted for without echo; it never goes on the command line.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Read the password from the first line of stdin (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    oes_app::telemetry::init(config.observability.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config).await,
            Command::Worker => worker(config).await,
            Command::Migrate => migrate(config).await,
            Command::Admin { command } => admin(config, command).await,
            Command::Loadtest(opts) => loadtest::run(config, opts).await,
            Command::Queue { command } => queue::run(config, command).await,
            Command::Cache { command } => cache::run(config, command).await,
            Command::Seed(args) => seed::run(config, args).await,
            Command::Import { command } => import::run(config, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("oes: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error>;

async fn serve(config: Config) -> Result<(), AnyError> {
    let server = RunningServer::start(config, Default::default()).await?;
    // Tests and scripts read this line to learn the port when PORT=0.
    println!("oes listening on http://{}", server.local_addr());
    server.run_until(shutdown_signal()).await?;
    Ok(())
}

async fn worker(mut config: Config) -> Result<(), AnyError> {
    // A worker process exists to run the workers, whatever RUN_WORKERS says for `serve`.
    config.queues.run_workers = true;
    let services = Services::start(config).await?;
    println!("oes worker running");
    shutdown_signal().await;
    services.stop().await;
    Ok(())
}

async fn migrate(config: Config) -> Result<(), AnyError> {
    let db = oes_app::db::Db::connect(&config.database.url, 1).await?;
    db.migrate().await?;
    println!("migrations applied ({})", db.backend().name());
    db.close().await;
    Ok(())
}

async fn admin(config: Config, command: AdminCommand) -> Result<(), AnyError> {
    let AdminCommand::Create {
        email,
        name,
        password_stdin,
    } = command;
    let password = read_password(password_stdin)?;
    let db = oes_app::db::Db::connect(&config.database.url, 1).await?;
    if db.backend() == oes_app::db::Backend::Sqlite || config.database.auto_migrate {
        db.migrate().await?;
    }
    let created = oes_app::service::accounts::create_user(
        &db,
        config.accounts.password_policy,
        &email,
        &name,
        &password,
        oes_app::domain::accounts::Role::Admin,
        true,
    )
    .await;
    db.close().await;
    let id = created?;
    println!("admin created: {id}");
    Ok(())
}

/// One line from stdin; on a terminal without `--password-stdin`, prompted with echo off
/// (through `stty`, so no extra dependency) and asked twice.
fn read_password(from_stdin: bool) -> Result<String, AnyError> {
    use std::io::{BufRead, IsTerminal, Write};
    let read_line = || -> Result<String, AnyError> {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    if from_stdin || !std::io::stdin().is_terminal() {
        return read_line();
    }
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    let ask = |prompt: &str| -> Result<String, AnyError> {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        let _ = stty("-echo");
        let line = read_line();
        let _ = stty("echo");
        eprintln!();
        line
    };
    let first = ask("Password: ")?;
    let second = ask("Again: ")?;
    if first != second {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}
