//! `oes import node`: the Node system's data into an OES database, so a university can switch
//! over without re-entering its question bank or asking students to reset their passwords.
//!
//! What comes across, table by table, with Node's ids kept (OES ids are UUIDs too):
//! - `users`: addresses normalised the OES way (trimmed, lower-cased); accounts whose addresses
//!   differ only by case are reported, the first created imported and the others not (never
//!   merged); the bcrypt hashes are kept, so Node passwords keep working
//!   (see [`crate::service::accounts`]);
//! - `user_profiles`; `questions` with their `options` and `numerical_answers`, validated by the
//!   bank's rules;
//! - `exams` and `exam_questions`: a published exam's paper is frozen at import, as OES freezes
//!   papers at publish;
//! - `exam_attempts` and `student_answers` with Node's scores and marks kept, so an ended exam's
//!   results and ranks stay what students saw.
//!
//! A row OES cannot hold is refused, with the reason, and so are the rows that depend on it (an
//! exam whose question was refused, that exam's attempts…); nothing is invented in its place.
//! Fix the row in Node and run the import again.
//!
//! Runs are idempotent. Node is read in one `REPEATABLE READ` snapshot; each imported row's
//! fingerprint goes into `node_import_ledger`, so the next run writes only rows that are new or
//! that Node changed since, and nothing doubles. An account Node changed that OES changed later
//! (a password rehashed at login) keeps OES's version. `dry_run` reads and checks everything and
//! writes nothing.

mod map;

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::db::{Backend, Db, now_ms};
use crate::domain::exams::{ExamState, format_instant};
use crate::domain::questions::Question;
use crate::store::node_import::{self as target, ImportedAnswer, ImportedUser};
use crate::store::node_source::{self as node, NodeExamQuestion, NodeNumericalAnswer, NodeOption};

/// Rows written per transaction (and read per page of the growing tables).
const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the source must be the Node system's PostgreSQL database (a postgres:// URL)")]
    NotPostgres,
    /// The source cannot be opened or read (not a Node database, unreachable…).
    #[error("cannot read the Node database: {0}")]
    Source(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

fn source_err(e: impl std::fmt::Display) -> ImportError {
    ImportError::Source(e.to_string())
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Read and check everything, write nothing: the report says what a run would do.
    pub dry_run: bool,
}

/// Where a run is, for a progress bar: one table after another, row by row.
pub trait Progress: Sync {
    fn table(&self, table: &'static str, rows: u64);
    fn advance(&self, rows: u64);
    fn done(&self);
}

/// No progress shown (tests, scripts).
pub struct Quiet;

impl Progress for Quiet {
    fn table(&self, _: &'static str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn done(&self) {}
}

/// What happened to one Node table's rows. In a dry run, what would have.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableCounts {
    pub table: &'static str,
    pub read: u64,
    /// Written for the first time.
    pub inserted: u64,
    /// Written again because Node changed the row since the last run.
    pub updated: u64,
    pub unchanged: u64,
    pub refused: u64,
}

/// One row and why it was not imported (or, in `kept_in_oes`, not overwritten).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowNote {
    pub table: &'static str,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeAccount {
    pub id: String,
    /// As Node stored it.
    pub email: String,
    pub created_at: String,
}

/// Node accounts whose addresses are one address to OES.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CaseDuplicate {
    /// The normalised address.
    pub email: String,
    pub imported: NodeAccount,
    pub not_imported: Vec<NodeAccount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub dry_run: bool,
    /// In import order: users, user_profiles, questions, options, numerical_answers, exams,
    /// exam_questions, exam_attempts, student_answers.
    pub tables: Vec<TableCounts>,
    pub refused: Vec<RowNote>,
    pub kept_in_oes: Vec<RowNote>,
    pub case_duplicates: Vec<CaseDuplicate>,
}

const TABLES: [&str; 9] = [
    "users",
    "user_profiles",
    "questions",
    "options",
    "numerical_answers",
    "exams",
    "exam_questions",
    "exam_attempts",
    "student_answers",
];

impl ImportReport {
    fn new(dry_run: bool) -> Self {
        ImportReport {
            dry_run,
            tables: TABLES
                .iter()
                .map(|&table| TableCounts {
                    table,
                    ..TableCounts::default()
                })
                .collect(),
            refused: Vec::new(),
            kept_in_oes: Vec::new(),
            case_duplicates: Vec::new(),
        }
    }

    /// The counts of a Node table (`users`, `student_answers`, …).
    pub fn table(&self, table: &str) -> Option<&TableCounts> {
        self.tables.iter().find(|t| t.table == table)
    }

    fn counts(&mut self, table: &'static str) -> &mut TableCounts {
        let at = TABLES.iter().position(|t| *t == table).unwrap_or(0);
        &mut self.tables[at]
    }

    /// Rows imported or already there, over all tables.
    pub fn total_imported(&self) -> u64 {
        self.tables
            .iter()
            .map(|t| t.inserted + t.updated + t.unchanged)
            .sum()
    }
}

/// Imports the Node database at `source_url` into `target` (migrated).
pub async fn import(
    target: &Db,
    source_url: &str,
    options: ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    if Backend::from_url(source_url) != Some(Backend::Postgres) {
        return Err(ImportError::NotPostgres);
    }
    let source = Db::connect(source_url, 1).await.map_err(source_err)?;
    let result = run(target, &source, options, progress).await;
    source.close().await;
    result
}

async fn run(
    target: &Db,
    source: &Db,
    options: ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    // One snapshot of all of Node, so that a rehearsal against a live system never reads an
    // attempt whose user it did not read.
    let mut src = source
        .pool()
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(source_err)?;
    let counts = node::counts(&mut src).await.map_err(source_err)?;
    let mut run = Run {
        target,
        dry_run: options.dry_run,
        now: now_ms(),
        progress,
        report: ImportReport::new(options.dry_run),
        users: HashSet::new(),
        questions: HashMap::new(),
        question_prints: HashMap::new(),
        exams: HashMap::new(),
        attempts: HashMap::new(),
    };
    run.users(&mut src).await?;
    run.profiles(&mut src).await?;
    run.questions(&mut src).await?;
    run.exams(&mut src).await?;
    run.attempts(&mut src, counts.exam_attempts).await?;
    run.answers(&mut src, counts.student_answers).await?;
    // Read only: nothing to keep.
    src.rollback().await.map_err(source_err)?;
    progress.done();
    Ok(run.report)
}

/// How a row stands against the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    New,
    Changed,
    Same,
}

fn change(ledger: &HashMap<String, String>, id: &str, print: &str) -> Change {
    match ledger.get(id) {
        None => Change::New,
        Some(p) if p == print => Change::Same,
        Some(_) => Change::Changed,
    }
}

/// A SHA-256 of the row as Node holds it (with what it is imported together with).
fn fingerprint(value: &impl Serialize) -> Result<String, ImportError> {
    use std::fmt::Write;
    let bytes = serde_json::to_vec(value).map_err(|e| ImportError::Internal(e.to_string()))?;
    let mut out = String::with_capacity(64);
    for b in Sha256::digest(&bytes) {
        let _ = write!(out, "{b:02x}");
    }
    Ok(out)
}

/// The target connection of one batch: a transaction when writing, a plain connection for a
/// dry run's checks.
enum Batch {
    Write(sqlx::Transaction<'static, sqlx::Any>),
    Check(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl Batch {
    async fn open(db: &Db, dry_run: bool) -> Result<Batch, sqlx::Error> {
        Ok(if dry_run {
            Batch::Check(db.pool().acquire().await?)
        } else {
            Batch::Write(db.begin().await?)
        })
    }

    fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Batch::Write(tx) => tx,
            Batch::Check(conn) => conn,
        }
    }

    /// The connection to write on, unless this is a dry run.
    fn writer(&mut self) -> Option<&mut AnyConnection> {
        match self {
            Batch::Write(tx) => Some(tx),
            Batch::Check(_) => None,
        }
    }

    async fn close(self) -> Result<(), sqlx::Error> {
        match self {
            Batch::Write(tx) => tx.commit().await,
            Batch::Check(_) => Ok(()),
        }
    }
}

struct Run<'a> {
    target: &'a Db,
    dry_run: bool,
    now: i64,
    progress: &'a dyn Progress,
    report: ImportReport,
    /// Node ids of the rows that are in OES after this run (imported now or before and
    /// unchanged), which the rows that depend on them need.
    users: HashSet<String>,
    questions: HashMap<String, Question>,
    question_prints: HashMap<String, String>,
    exams: HashMap<String, map::ExamWindow>,
    /// Attempt id → the instant its answers count as saved.
    attempts: HashMap<String, i64>,
}

impl Run<'_> {
    fn refuse(&mut self, table: &'static str, id: &str, reason: impl Into<String>) {
        self.report.counts(table).refused += 1;
        self.report.refused.push(RowNote {
            table,
            id: id.to_owned(),
            reason: reason.into(),
        });
    }

    fn count(&mut self, table: &'static str, change: Change, rows: u64) {
        let counts = self.report.counts(table);
        match change {
            Change::New => counts.inserted += rows,
            Change::Changed => counts.updated += rows,
            Change::Same => counts.unchanged += rows,
        }
    }

    fn read(&mut self, table: &'static str, rows: usize) {
        self.report.counts(table).read += rows as u64;
    }

    async fn users(&mut self, src: &mut AnyConnection) -> Result<(), ImportError> {
        let users = node::users(src).await.map_err(source_err)?;
        self.read("users", users.len());
        self.progress.table("users", users.len() as u64);
        let accounts = map::accounts(&users);
        for u in &accounts.unreadable {
            self.progress.advance(1);
            self.refuse(
                "users",
                &u.id,
                format!("email {:?} is not an address OES accepts", u.email),
            );
        }
        let account = |u: &node::NodeUser| NodeAccount {
            id: u.id.clone(),
            email: u.email.clone(),
            created_at: format_instant(u.created_at),
        };
        for (email, kept, others) in &accounts.duplicates {
            for other in others {
                self.progress.advance(1);
                self.refuse(
                    "users",
                    &other.id,
                    format!(
                        "its email {:?} differs only by case (or surrounding spaces) from {:?} \
                         (user {}, created first), which is imported: OES keeps one account per \
                         address, so merge the two by hand",
                        other.email, kept.email, kept.id
                    ),
                );
            }
            self.report.case_duplicates.push(CaseDuplicate {
                email: email.to_string(),
                imported: account(kept),
                not_imported: others.iter().map(|u| account(u)).collect(),
            });
        }
        for chunk in accounts.importable.chunks(BATCH) {
            let mut batch = Batch::open(self.target, self.dry_run).await?;
            let ids: Vec<&str> = chunk.iter().map(|(u, _)| u.id.as_str()).collect();
            let known = target::ledger(batch.conn(), "users", &ids).await?;
            for (u, email) in chunk {
                self.progress.advance(1);
                let mapped = match map::user(u) {
                    Ok(m) => m,
                    Err(reason) => {
                        self.refuse("users", &u.id, reason);
                        continue;
                    }
                };
                let print = fingerprint(u)?;
                let change = change(&known, &u.id, &print);
                if change != Change::Same {
                    if let Some(owner) =
                        target::email_owner(batch.conn(), email.as_str(), &u.id).await?
                    {
                        self.refuse(
                            "users",
                            &u.id,
                            format!(
                                "the address {email} belongs to OES account {owner}, which was \
                                 not imported from Node"
                            ),
                        );
                        continue;
                    }
                    if let Some(conn) = batch.writer() {
                        let user = ImportedUser {
                            id: &u.id,
                            email: email.as_str(),
                            full_name: &mapped.full_name,
                            password_hash: &u.hashed_password,
                            role: mapped.role.as_str(),
                            email_verified: u.email_verified,
                            created_at: u.created_at,
                            updated_at: u.updated_at,
                        };
                        let written = target::upsert_user(conn, &user).await?;
                        target::record(conn, "users", &u.id, &print, self.now).await?;
                        if !written {
                            self.report.counts("users").unchanged += 1;
                            self.report.kept_in_oes.push(RowNote {
                                table: "users",
                                id: u.id.clone(),
                                reason: "Node changed the account after the last import and OES \
                                         changed it later (a password rehashed or changed, a \
                                         name edited): OES's version is kept"
                                    .to_owned(),
                            });
                            self.users.insert(u.id.clone());
                            continue;
                        }
                    }
                }
                self.count("users", change, 1);
                self.users.insert(u.id.clone());
            }
            batch.close().await?;
        }
        Ok(())
    }

    async fn profiles(&mut self, src: &mut AnyConnection) -> Result<(), ImportError> {
        let profiles = node::profiles(src).await.map_err(source_err)?;
        self.read("user_profiles", profiles.len());
        self.progress.table("user_profiles", profiles.len() as u64);
        for chunk in profiles.chunks(BATCH) {
            let mut batch = Batch::open(self.target, self.dry_run).await?;
            let ids: Vec<&str> = chunk.iter().map(|p| p.user_id.as_str()).collect();
            let known = target::ledger(batch.conn(), "user_profiles", &ids).await?;
            for p in chunk {
                self.progress.advance(1);
                if !self.users.contains(&p.user_id) {
                    let reason = format!("its user {} was not imported", p.user_id);
                    self.refuse("user_profiles", &p.user_id, reason);
                    continue;
                }
                let profile = match map::profile(p) {
                    Ok(profile) => profile,
                    Err(reason) => {
                        self.refuse("user_profiles", &p.user_id, reason);
                        continue;
                    }
                };
                let print = fingerprint(p)?;
                let change = change(&known, &p.user_id, &print);
                if change != Change::Same {
                    if let Some(owner) = target::enrollment_owner(
                        batch.conn(),
                        &profile.enrollment_number,
                        &p.user_id,
                    )
                    .await?
                    {
                        let reason = format!(
                            "enrollment number {} belongs to OES user {owner}",
                            profile.enrollment_number
                        );
                        self.refuse("user_profiles", &p.user_id, reason);
                        continue;
                    }
                    if let Some(conn) = batch.writer() {
                        target::upsert_profile(conn, &p.user_id, &profile, self.now).await?;
                        target::record(conn, "user_profiles", &p.user_id, &print, self.now).await?;
                    }
                }
                self.count("user_profiles", change, 1);
            }
            batch.close().await?;
        }
        Ok(())
    }

    async fn questions(&mut self, src: &mut AnyConnection) -> Result<(), ImportError> {
        let questions = node::questions(src).await.map_err(source_err)?;
        let options = node::options(src).await.map_err(source_err)?;
        let keys = node::numerical_answers(src).await.map_err(source_err)?;
        self.read("questions", questions.len());
        self.read("options", options.len());
        self.read("numerical_answers", keys.len());
        self.progress.table("questions", questions.len() as u64);
        let known_questions: HashSet<&str> = questions.iter().map(|q| q.id.as_str()).collect();
        let mut options_of: HashMap<&str, Vec<&NodeOption>> = HashMap::new();
        for o in &options {
            match o.question_id.as_deref() {
                Some(q) if known_questions.contains(q) => options_of.entry(q).or_default().push(o),
                Some(q) => {
                    self.refuse("options", &o.id, format!("its question {q} does not exist"))
                }
                None => self.refuse(
                    "options",
                    &o.id,
                    "it belongs to no question (questionId is empty)",
                ),
            }
        }
        let key_of: HashMap<&str, &NodeNumericalAnswer> =
            keys.iter().map(|k| (k.question_id.as_str(), k)).collect();
        for chunk in questions.chunks(BATCH) {
            let mut batch = Batch::open(self.target, self.dry_run).await?;
            let ids: Vec<&str> = chunk.iter().map(|q| q.id.as_str()).collect();
            let known = target::ledger(batch.conn(), "questions", &ids).await?;
            for q in chunk {
                self.progress.advance(1);
                let its_options = options_of.get(q.id.as_str()).map_or(&[][..], Vec::as_slice);
                let key = key_of.get(q.id.as_str()).copied();
                let mapped = match map::question(q, its_options, key) {
                    Ok(mapped) => mapped,
                    Err(reason) => {
                        self.refuse("questions", &q.id, reason);
                        let cascade = format!("its question {} was refused", q.id);
                        for o in its_options {
                            self.refuse("options", &o.id, cascade.clone());
                        }
                        if let Some(k) = key {
                            let own = map::key_problem(k).unwrap_or(cascade);
                            self.refuse("numerical_answers", &k.id, own);
                        }
                        continue;
                    }
                };
                let print = fingerprint(&(q, its_options, key))?;
                let change = change(&known, &q.id, &print);
                if change != Change::Same
                    && let Some(conn) = batch.writer()
                {
                    target::upsert_question(conn, &mapped.question, q.created_at, q.updated_at)
                        .await?;
                    target::record(conn, "questions", &q.id, &print, self.now).await?;
                }
                for (table, id, reason) in mapped.left_out {
                    self.refuse(table, &id, reason);
                }
                self.count("questions", change, 1);
                self.count("options", change, mapped.question.options.len() as u64);
                self.count(
                    "numerical_answers",
                    change,
                    u64::from(mapped.question.numerical.is_some()),
                );
                self.question_prints.insert(q.id.clone(), print);
                self.questions.insert(q.id.clone(), mapped.question);
            }
            batch.close().await?;
        }
        for k in &keys {
            if !known_questions.contains(k.question_id.as_str()) {
                let reason = format!("its question {} does not exist", k.question_id);
                self.refuse("numerical_answers", &k.id, reason);
            }
        }
        Ok(())
    }

    async fn exams(&mut self, src: &mut AnyConnection) -> Result<(), ImportError> {
        let exams = node::exams(src).await.map_err(source_err)?;
        let slots = node::exam_questions(src).await.map_err(source_err)?;
        self.read("exams", exams.len());
        self.read("exam_questions", slots.len());
        self.progress.table("exams", exams.len() as u64);
        let mut slots_of: HashMap<&str, Vec<&NodeExamQuestion>> = HashMap::new();
        for s in &slots {
            slots_of.entry(s.exam_id.as_str()).or_default().push(s);
        }
        for chunk in exams.chunks(BATCH) {
            let mut batch = Batch::open(self.target, self.dry_run).await?;
            let ids: Vec<&str> = chunk.iter().map(|e| e.id.as_str()).collect();
            let known = target::ledger(batch.conn(), "exams", &ids).await?;
            for e in chunk {
                self.progress.advance(1);
                let its_slots = slots_of.get(e.id.as_str()).map_or(&[][..], Vec::as_slice);
                let (row, paper) = match map::exam(e, its_slots, &self.questions) {
                    Ok(mapped) => mapped,
                    Err(reason) => {
                        self.refuse("exams", &e.id, reason);
                        for s in its_slots {
                            let reason = format!("its exam {} was refused", e.id);
                            self.refuse("exam_questions", &s.id, reason);
                        }
                        continue;
                    }
                };
                // An administrator Node had and OES did not take leaves the exam unowned.
                let created_by = self
                    .users
                    .contains(&e.created_by)
                    .then_some(e.created_by.as_str());
                // A published paper is frozen from its questions as imported: when Node
                // changes one of them, the paper follows.
                let frozen_from: Vec<Option<&String>> = if row.state == ExamState::Published {
                    paper
                        .iter()
                        .map(|s| self.question_prints.get(&s.question_id))
                        .collect()
                } else {
                    Vec::new()
                };
                let print = fingerprint(&(e, its_slots, created_by, frozen_from))?;
                let change = change(&known, &e.id, &print);
                if change != Change::Same
                    && let Some(conn) = batch.writer()
                {
                    target::upsert_exam(conn, &row, created_by, e.updated_at, &paper).await?;
                    target::record(conn, "exams", &e.id, &print, self.now).await?;
                }
                self.count("exams", change, 1);
                self.count("exam_questions", change, paper.len() as u64);
                self.exams.insert(
                    e.id.clone(),
                    map::ExamWindow {
                        duration_minutes: row.duration_minutes,
                        end_time: row.end_time,
                    },
                );
            }
            batch.close().await?;
        }
        Ok(())
    }

    async fn attempts(&mut self, src: &mut AnyConnection, total: i64) -> Result<(), ImportError> {
        self.progress
            .table("exam_attempts", u64::try_from(total).unwrap_or(0));
        let mut after = node::FIRST_PAGE.to_owned();
        loop {
            let page = node::attempts_after(src, &after, BATCH as i64)
                .await
                .map_err(source_err)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id.clone();
            self.read("exam_attempts", page.len());
            let mut batch = Batch::open(self.target, self.dry_run).await?;
            let ids: Vec<&str> = page.iter().map(|a| a.id.as_str()).collect();
            let known = target::ledger(batch.conn(), "exam_attempts", &ids).await?;
            for a in &page {
                self.progress.advance(1);
                let Some(window) = self.exams.get(&a.exam_id).copied() else {
                    let reason = format!("its exam {} was not imported", a.exam_id);
                    self.refuse("exam_attempts", &a.id, reason);
                    continue;
                };
                if !self.users.contains(&a.user_id) {
                    let reason = format!("its user {} was not imported", a.user_id);
                    self.refuse("exam_attempts", &a.id, reason);
                    continue;
                }
                let row = match map::attempt(a, window) {
                    Ok(row) => row,
                    Err(reason) => {
                        self.refuse("exam_attempts", &a.id, reason);
                        continue;
                    }
                };
                let print = fingerprint(&(a, window))?;
                let change = change(&known, &a.id, &print);
                if change != Change::Same {
                    if let Some(owner) =
                        target::attempt_owner(batch.conn(), &a.exam_id, &a.user_id, &a.id).await?
                    {
                        let reason =
                            format!("the student already has attempt {owner} at this exam in OES");
                        self.refuse("exam_attempts", &a.id, reason);
                        continue;
                    }
                    if let Some(conn) = batch.writer() {
                        target::upsert_attempt(conn, &row).await?;
                        target::record(conn, "exam_attempts", &a.id, &print, self.now).await?;
                    }
                }
                self.count("exam_attempts", change, 1);
                self.attempts.insert(a.id.clone(), map::saved_at(a));
            }
            batch.close().await?;
        }
        Ok(())
    }

    async fn answers(&mut self, src: &mut AnyConnection, total: i64) -> Result<(), ImportError> {
        self.progress
            .table("student_answers", u64::try_from(total).unwrap_or(0));
        let mut after = node::FIRST_PAGE.to_owned();
        loop {
            let page = node::answers_after(src, &after, BATCH as i64)
                .await
                .map_err(source_err)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id.clone();
            self.read("student_answers", page.len());
            let mut batch = Batch::open(self.target, self.dry_run).await?;
            let ids: Vec<&str> = page.iter().map(|a| a.id.as_str()).collect();
            let known = target::ledger(batch.conn(), "student_answers", &ids).await?;
            for a in &page {
                self.progress.advance(1);
                let Some(saved_at) = self.attempts.get(&a.attempt_id).copied() else {
                    let reason = format!("its attempt {} was not imported", a.attempt_id);
                    self.refuse("student_answers", &a.id, reason);
                    continue;
                };
                let mapped = match map::answer(a) {
                    Ok(mapped) => mapped,
                    Err(reason) => {
                        self.refuse("student_answers", &a.id, reason);
                        continue;
                    }
                };
                let print = fingerprint(&(a, saved_at))?;
                let change = change(&known, &a.id, &print);
                if change != Change::Same
                    && let Some(conn) = batch.writer()
                {
                    let answer = ImportedAnswer {
                        id: &a.id,
                        attempt_id: &a.attempt_id,
                        question_id: &a.question_id,
                        selected: &mapped.selected,
                        numerical: mapped.numerical,
                        marks_obtained: mapped.marks_obtained,
                        saved_at,
                    };
                    target::upsert_answer(conn, &answer).await?;
                    target::record(conn, "student_answers", &a.id, &print, self.now).await?;
                }
                self.count("student_answers", change, 1);
            }
            batch.close().await?;
        }
        Ok(())
    }
}
