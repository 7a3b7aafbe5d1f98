//! The authorization matrix as a test (issue 12): every route × every kind of caller × the
//! exam's phase, with the status each cell must answer, on SQLite and PostgreSQL.
//!
//! - [`matrix`] is the table: one row per route, its expected statuses as rules.
//! - [`world`] is the fixture: one app per backend, an exam that travels from before its start
//!   through live and its grace period to ended, a draft beside it (and an id of no exam), and
//!   students who own attempts at it. Cells that use something up (a session, an attempt, a
//!   draft) get their own.
//! - [`completeness`] fails when a route or a documented operation has no row, when the
//!   OpenAPI document's security disagrees with the matrix's anonymous column, or when the
//!   matrix expects a status the document does not list.
//!
//! Callers: anonymous; the owner of an open attempt at the exam; the owner of a submitted one;
//! another student (no attempt at it); an administrator; and two that must fare like anonymous
//! ones, a signed-out token and an unverified account's session (403 instead of 401). Sessions
//! travel as Bearer tokens, so the cells test authorization and not the CSRF origin check of
//! cookie sessions. Every cell is asked before the verdict, and every wrong one is printed in
//! one table.

mod completeness;
mod matrix;
mod world;

use std::fmt;
use std::time::Instant;

use crate::support::BACKENDS;

/// Who asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Caller {
    Anonymous,
    /// A student whose attempt at the exam is open (from the live stage on).
    OwnerOpen,
    /// A student who has submitted their attempt at the exam.
    OwnerDone,
    /// A student with no attempt at the exam.
    Other,
    Admin,
    /// A token whose session was ended by logout: must fare exactly as no token.
    SignedOut,
    /// A session of an account whose email is not verified (login refuses to start one, so
    /// this is defence in depth): 403 wherever a session is needed.
    Unverified,
}

impl Caller {
    pub const ALL: [Caller; 7] = [
        Caller::Anonymous,
        Caller::OwnerOpen,
        Caller::OwnerDone,
        Caller::Other,
        Caller::Admin,
        Caller::SignedOut,
        Caller::Unverified,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::OwnerOpen => "owner(open)",
            Caller::OwnerDone => "owner(done)",
            Caller::Other => "other",
            Caller::Admin => "admin",
            Caller::SignedOut => "signed-out",
            Caller::Unverified => "unverified",
        }
    }
}

/// Where the exam stands in time. Before the start nobody can own an attempt, so both owners
/// are students without one; once ended, the open attempt has been auto-submitted at its hard
/// end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    BeforeStart,
    Live,
    /// After the window's end, before the end plus the grace period.
    Grace,
    /// After the end plus the grace period: results released.
    Ended,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::BeforeStart, Phase::Live, Phase::Grace, Phase::Ended];
}

/// A column of the matrix: the exam in one phase, or (for the routes on an exam) a draft or
/// an exam id that names no exam.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Phase(Phase),
    Draft,
    Unknown,
}

impl Column {
    /// The columns of a route on an exam, in the order they are asked.
    pub const ON_EXAM: [Column; 6] = [
        Column::Phase(Phase::BeforeStart),
        Column::Draft,
        Column::Unknown,
        Column::Phase(Phase::Live),
        Column::Phase(Phase::Grace),
        Column::Phase(Phase::Ended),
    ];
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Column::Phase(Phase::BeforeStart) => "before",
            Column::Phase(Phase::Live) => "live",
            Column::Phase(Phase::Grace) => "grace",
            Column::Phase(Phase::Ended) => "ended",
            Column::Draft => "draft",
            Column::Unknown => "no-exam",
        })
    }
}

/// A wrong cell.
pub struct Mismatch {
    pub route: String,
    pub caller: Caller,
    pub column: Column,
    pub expected: u16,
    pub got: u16,
    /// Why a cell with the right status is still wrong, or that it was a server error.
    pub note: String,
    pub body: String,
}

/// Every cell on one backend: (cells asked, wrong ones).
async fn run(backend: oes_app::db::Backend) -> (usize, Vec<Mismatch>) {
    let mut world = world::World::build(backend).await;
    let mut asked = 0;
    let mut wrong = Vec::new();
    for phase in Phase::ALL {
        world.enter(phase).await;
        for row in matrix::ROWS {
            for column in world.columns(row) {
                for caller in Caller::ALL {
                    asked += 1;
                    wrong.extend(world.check(row, caller, column).await);
                }
            }
        }
    }
    assert_eq!(world.phase(), Phase::Ended);
    world.app.stop().await;
    (asked, wrong)
}

fn table(backend: &str, wrong: &[Mismatch]) -> String {
    let mut out = format!(
        "\n{backend}: {} wrong cells\n{:<48} {:<12} {:<7} {:>8} {:>4}  {}\n",
        wrong.len(),
        "route",
        "caller",
        "phase",
        "expected",
        "got",
        "note / body"
    );
    for m in wrong {
        let mut body: String = m.body.chars().take(160).collect();
        if !m.note.is_empty() {
            body = format!("{}: {body}", m.note);
        }
        out.push_str(&format!(
            "{:<48} {:<12} {:<7} {:>8} {:>4}  {body}\n",
            m.route,
            m.caller.name(),
            m.column.to_string(),
            m.expected,
            m.got,
        ));
    }
    out
}

#[tokio::test]
async fn every_route_answers_every_caller_in_every_phase_as_the_matrix_says() {
    let mut report = String::new();
    let mut total_wrong = 0;
    for backend in BACKENDS {
        let started = Instant::now();
        let (asked, wrong) = run(backend).await;
        println!(
            "authorization matrix on {backend:?}: {asked} cells in {:.1} s, {} wrong",
            started.elapsed().as_secs_f64(),
            wrong.len()
        );
        if !wrong.is_empty() {
            report.push_str(&table(&format!("{backend:?}"), &wrong));
        }
        total_wrong += wrong.len();
    }
    assert!(
        total_wrong == 0,
        "{total_wrong} cells of the authorization matrix are wrong:{report}"
    );
}
