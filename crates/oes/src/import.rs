//! `oes import node --from postgres://…`: the Node system's data into the OES database at
//! `DATABASE_URL` (see `oes_app::service::import_node` for what comes across and why rows are
//! refused). Prints a table of counts and every refused row; `--report` also writes it as JSON.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use oes_app::Config;
use oes_app::db::{Backend, Db};
use oes_app::service::import_node::{self, ImportOptions, ImportReport, Progress};

use crate::AnyError;

#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// Import the Node system's PostgreSQL database: users (their passwords kept), profiles,
    /// questions, exams with their papers, attempts, answers and scores. Safe to run again:
    /// nothing doubles, and rows Node added or changed since the last run come across.
    Node(NodeArgs),
}

#[derive(clap::Args)]
pub struct NodeArgs {
    /// The Node system's database, read only and in one snapshot. Prefer NODE_DATABASE_URL in
    /// the environment: a password on the command line shows in the process list.
    #[arg(long, env = "NODE_DATABASE_URL", hide_env_values = true)]
    pub from: String,
    /// Check every row and write nothing: the report says what a run would do.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the report (counts, refused rows, case duplicates) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub async fn run(config: Config, command: ImportCommand) -> Result<(), AnyError> {
    let ImportCommand::Node(args) = command;
    let db = Db::connect(&config.database.url, 2).await?;
    // As `admin create`: the schema is applied where `serve` would apply it (a dry run too:
    // it writes no data, but it reads the import ledger).
    if db.backend() == Backend::Sqlite || config.database.auto_migrate {
        db.migrate().await?;
    }
    let progress = Bars::default();
    let options = ImportOptions {
        dry_run: args.dry_run,
    };
    let result = import_node::import(&db, &args.from, options, &progress).await;
    progress.done();
    db.close().await;
    let report = result?;
    print!("{}", render(&report));
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .map_err(|e| format!("cannot write the report to {}: {e}", path.display()))?;
    }
    Ok(())
}

/// One progress bar per table on a terminal's stderr; nothing when stderr is not a terminal.
#[derive(Default)]
struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl Progress for Bars {
    fn table(&self, table: &'static str, rows: u64) {
        use std::io::IsTerminal;
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        if let Some(done) = current.take() {
            done.finish_and_clear();
        }
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new(rows);
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(table);
        bar.enable_steady_tick(Duration::from_millis(200));
        *current = Some(bar);
    }

    fn advance(&self, rows: u64) {
        if let Ok(current) = self.current.lock()
            && let Some(bar) = current.as_ref()
        {
            bar.inc(rows);
        }
    }

    fn done(&self) {
        if let Ok(mut current) = self.current.lock()
            && let Some(bar) = current.take()
        {
            bar.finish_and_clear();
        }
    }
}

fn render(report: &ImportReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        if report.dry_run {
            "Node import, dry run: nothing was written; the counts say what a run would do."
        } else {
            "Node import"
        }
    );
    let _ = writeln!(
        out,
        "{:<18} {:>8} {:>9} {:>8} {:>10} {:>8}",
        "table", "read", "inserted", "updated", "unchanged", "refused"
    );
    for t in &report.tables {
        let _ = writeln!(
            out,
            "{:<18} {:>8} {:>9} {:>8} {:>10} {:>8}",
            t.table, t.read, t.inserted, t.updated, t.unchanged, t.refused
        );
    }
    let _ = writeln!(out, "refused rows: {}", report.refused.len());
    for r in &report.refused {
        let _ = writeln!(out, "  {} {}: {}", r.table, r.id, r.reason);
    }
    if !report.case_duplicates.is_empty() {
        let _ = writeln!(
            out,
            "addresses that differ only by case: {} (the first created account is imported; \
             merge the others by hand)",
            report.case_duplicates.len()
        );
        for d in &report.case_duplicates {
            let others = d
                .not_imported
                .iter()
                .map(|a| format!("{} {:?}", a.id, a.email))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                out,
                "  {}: imported {} {:?}; not imported {others}",
                d.email, d.imported.id, d.imported.email
            );
        }
    }
    if !report.kept_in_oes.is_empty() {
        let _ = writeln!(
            out,
            "changed in Node but kept as OES has them: {}",
            report.kept_in_oes.len()
        );
        for r in &report.kept_in_oes {
            let _ = writeln!(out, "  {} {}: {}", r.table, r.id, r.reason);
        }
    }
    out
}
