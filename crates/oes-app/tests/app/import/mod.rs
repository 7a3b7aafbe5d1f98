//! `oes import node` against a real Node database: the fixture dumps (`tests/fixtures/`, made by
//! the unmodified Node system) loaded into a scratch PostgreSQL database, imported into an OES
//! database of either backend, then used over HTTP: a student signs in with the Node password
//! and sees the ended exam's score and leaderboard as Node had them.

use std::str::FromStr;

use oes_app::db::{Backend, Db};
use oes_app::service::import_node::{self, ImportOptions, ImportReport, Quiet, TableCounts};
use serde_json::json;
use sqlx::{ConnectOptions, Executor};

use crate::support::{TestApp, TestDb};

/// The students' password in the Node fixture.
pub const NODE_PASSWORD: &str = "Corr3ct-Horse-Battery!";
/// The fixture's one exam: published, ended, scored.
pub const EXAM: &str = "576ee0e2-cdb1-4d53-9494-be2665cc64b1";
/// The numerical question whose stored key is NaN, and that key.
pub const NAN_QUESTION: &str = "ce80ed51-42dd-48fc-9412-af6fc5c400de";
pub const NAN_KEY: &str = "2bd43642-dfa8-422f-b903-9e621e123963";
/// The best student of the exam (score 3).
pub const TOP_STUDENT: &str = "load1796173540.9@example.test";

const SCHEMA: &str = include_str!("../../fixtures/node-oes-schema.sql");
const DATA: &str = include_str!("../../fixtures/node-oes-sample-data.sql");

/// A scratch PostgreSQL database holding the Node fixture (dropped with the guard).
pub struct NodeDb {
    pub db: TestDb,
}

impl NodeDb {
    pub async fn load() -> NodeDb {
        let db = TestDb::new(Backend::Postgres).await;
        let mut conn = connect(&db.url).await;
        // The dumps reset search_path for their session: a connection of their own.
        conn.execute(SCHEMA).await.expect("the Node schema loads");
        conn.execute(DATA).await.expect("the Node rows load");
        NodeDb { db }
    }

    pub fn url(&self) -> &str {
        &self.db.url
    }

    /// Runs SQL on the Node database, as the Node system would have.
    pub async fn sql(&self, statement: &str) {
        let mut conn = connect(&self.db.url).await;
        conn.execute(statement).await.expect("Node SQL runs");
    }
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::AnyConnectOptions::from_str(url)
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

pub async fn import(target: &Db, node: &NodeDb, dry_run: bool) -> ImportReport {
    import_node::import(target, node.url(), ImportOptions { dry_run }, &Quiet)
        .await
        .expect("the import runs")
}

/// (inserted, updated, unchanged, refused) of a table.
pub fn counts(report: &ImportReport, table: &str) -> (u64, u64, u64, u64) {
    let TableCounts {
        inserted,
        updated,
        unchanged,
        refused,
        ..
    } = report
        .table(table)
        .unwrap_or_else(|| panic!("no table {table}"));
    (*inserted, *updated, *unchanged, *refused)
}

pub fn refusal<'a>(report: &'a ImportReport, table: &str, id: &str) -> Option<&'a str> {
    report
        .refused
        .iter()
        .find(|r| r.table == table && r.id == id)
        .map(|r| r.reason.as_str())
}

async fn rows(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db.pool())
        .await
        .expect("count")
}

async fn hash_of(db: &Db, email: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(db.pool())
        .await
        .expect("the user's hash")
}

/// What the fixture gives on a first run: (table, inserted, refused).
const FIRST_RUN: [(&str, u64, u64); 9] = [
    ("users", 11, 0),
    ("user_profiles", 1, 0),
    ("questions", 21, 1),
    ("options", 83, 0),
    ("numerical_answers", 0, 1),
    ("exams", 1, 0),
    ("exam_questions", 20, 0),
    ("exam_attempts", 10, 0),
    ("student_answers", 50, 0),
];

fn assert_first_run(report: &ImportReport) {
    for (table, inserted, refused) in FIRST_RUN {
        assert_eq!(
            counts(report, table),
            (inserted, 0, 0, refused),
            "{table}: {:?}",
            report.tables
        );
    }
    let nan = refusal(report, "questions", NAN_QUESTION).expect("the NaN question is refused");
    assert!(nan.contains("NaN"), "{nan}");
    let key = refusal(report, "numerical_answers", NAN_KEY).expect("its key is refused");
    assert!(key.contains("NaN"), "{key}");
    assert_eq!(report.refused.len(), 2, "{:?}", report.refused);
}

#[tokio::test]
async fn the_node_fixture_imports_into_postgres_and_a_student_signs_in_with_the_node_password_to_see_the_ranks()
 {
    let node = NodeDb::load().await;
    let target = TestDb::new(Backend::Postgres).await;
    let db = target.migrated().await;

    let first = import(&db, &node, false).await;
    assert_first_run(&first);
    assert!(first.case_duplicates.is_empty());

    // A second run finds everything in place and doubles nothing.
    let second = import(&db, &node, false).await;
    for (table, inserted, _) in FIRST_RUN {
        assert_eq!(counts(&second, table).2, inserted, "{table} unchanged");
        assert_eq!(counts(&second, table).0, 0, "{table}: nothing new");
    }
    for (table, expected) in [
        ("users", 11),
        ("user_profiles", 1),
        ("questions", 21),
        ("question_options", 83),
        ("exams", 1),
        ("exam_questions", 20),
        ("exam_attempts", 10),
        ("student_answers", 50),
    ] {
        assert_eq!(rows(&db, table).await, expected, "{table}");
    }
    let frozen: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM exam_questions WHERE exam_id = $1 AND snapshot IS NOT NULL",
    )
    .bind(EXAM)
    .fetch_one(db.pool())
    .await
    .expect("count");
    assert_eq!(frozen, 20, "the published paper is frozen");

    let app = TestApp::builder(Backend::Postgres)
        .fast_password_hashing()
        .on(target, db.clone())
        .start()
        .await;
    assert!(hash_of(&db, TOP_STUDENT).await.starts_with("$2b$10$"));
    let answer = app
        .post_anonymously(
            "/api/auth/login",
            json!({ "email": TOP_STUDENT, "password": NODE_PASSWORD }),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let upgraded = hash_of(&db, TOP_STUDENT).await;
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    let student = app.login(TOP_STUDENT, NODE_PASSWORD).await;
    // The admin's Node password opens the admin account too.
    app.login("admin@oes.test", "Adm1n-Passw0rd-Long!").await;

    let score = app
        .get(&format!("/api/result/{EXAM}/score"), &student)
        .await;
    assert_eq!(score.status, 200, "{score:?}");
    assert_eq!(score.body["score"].as_f64(), Some(3.0), "{score:?}");
    let analysis = app
        .get(&format!("/api/result/{EXAM}/analysis"), &student)
        .await;
    assert_eq!(analysis.status, 200, "{analysis:?}");
    assert_eq!(analysis.body["totalQuestions"], 20, "{analysis:?}");
    let board = app.get("/api/leaderboard/top-five", &student).await;
    assert_eq!(board.status, 200, "{board:?}");
    assert_eq!(board.body["totalParticipants"], 10, "{board:?}");
    let entries = board.body["data"].as_array().expect("entries");
    let standings: Vec<(i64, f64)> = entries
        .iter()
        .map(|e| {
            (
                e["rank"].as_i64().expect("rank"),
                e["score"].as_f64().expect("score"),
            )
        })
        .collect();
    assert_eq!(
        standings,
        [(1, 3.0), (2, 2.0), (2, 2.0), (4, 1.0), (4, 1.0)],
        "Node's scores, competition ranking: {board:?}"
    );
    assert_eq!(entries[0]["isYou"], true, "{board:?}");

    // A run after the switch-over keeps the rehashed password: Node did not change the row…
    let third = import(&db, &node, false).await;
    assert_eq!(counts(&third, "users"), (0, 0, 11, 0));
    assert_eq!(hash_of(&db, TOP_STUDENT).await, upgraded);
    // …nor when Node changed it before OES did (Node's change is older than the rehash).
    node.sql(&format!(
        "UPDATE users SET \"fullName\" = 'Renamed', \"updatedAt\" = '2026-12-03 00:00:00+00'
         WHERE email = '{TOP_STUDENT}'"
    ))
    .await;
    let fourth = import(&db, &node, false).await;
    assert_eq!(counts(&fourth, "users"), (0, 0, 11, 0));
    assert_eq!(fourth.kept_in_oes.len(), 1, "{:?}", fourth.kept_in_oes);
    assert_eq!(hash_of(&db, TOP_STUDENT).await, upgraded);
    app.login(TOP_STUDENT, NODE_PASSWORD).await;
    app.stop().await;
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_a_rerun_after_node_activity_brings_only_what_changed() {
    let node = NodeDb::load().await;
    let target = TestDb::new(Backend::Sqlite).await;
    let db = target.migrated().await;

    let dry = import(&db, &node, true).await;
    assert!(dry.dry_run);
    assert_first_run(&dry);
    assert_eq!(rows(&db, "users").await, 0, "a dry run writes nothing");
    assert_eq!(rows(&db, "node_import_ledger").await, 0);

    let first = import(&db, &node, false).await;
    assert_first_run(&first);

    // More Node activity: a late signup with a six-character password (Node's policy), an
    // account whose address differs from another's only by case, the NaN key corrected, a new
    // published exam with that question taken by the late student, and a changed score.
    let late = "a2f1c7e0-0000-4000-8000-000000000001";
    let twin = "a2f1c7e0-0000-4000-8000-000000000002";
    let exam = "a2f1c7e0-0000-4000-8000-000000000003";
    let slot = "a2f1c7e0-0000-4000-8000-000000000004";
    let attempt = "a2f1c7e0-0000-4000-8000-000000000005";
    let answer = "a2f1c7e0-0000-4000-8000-000000000006";
    let hash = bcrypt::hash("abc123", 4).expect("bcrypt");
    node.sql(&format!(
        "INSERT INTO users VALUES
           ('{late}', 'Late Comer', 'Late@Example.test', '{hash}', 'USER', true, NULL, NULL,
            '2026-12-03 10:00:00+00', '2026-12-03 10:00:00+00'),
           ('{twin}', 'Load Twin', 'LOAD1796173540.3@example.test', '{hash}', 'USER', true, NULL,
            NULL, '2026-12-03 11:00:00+00', '2026-12-03 11:00:00+00');
         UPDATE numerical_answers SET value = 3 WHERE id = '{NAN_KEY}';
         INSERT INTO exams VALUES ('{exam}', 'Circuits quiz', NULL, 30, '2026-12-03 12:00:00+00',
            '2026-12-03 13:00:00+00', 'PUBLISHED', '8c560514-894c-4209-b4cc-1ca1c05eda94',
            '2026-12-03 11:30:00+00', '2026-12-03 11:30:00+00');
         INSERT INTO exam_questions VALUES ('{slot}', '{exam}', '{NAN_QUESTION}', 1, 2);
         INSERT INTO exam_attempts VALUES ('{attempt}', '{exam}', '{late}',
            '2026-12-03 12:01:00+00', '2026-12-03 12:05:00+00', 'SUBMITTED', 2);
         INSERT INTO student_answers VALUES ('{answer}', '{attempt}', '{NAN_QUESTION}', NULL, 3, 2);
         UPDATE exam_attempts SET score = 4 WHERE id = '33fb8c83-9987-4db6-9807-392ecc1d7975';"
    ))
    .await;

    let second = import(&db, &node, false).await;
    assert_eq!(
        counts(&second, "users"),
        (1, 0, 11, 1),
        "{:?}",
        second.tables
    );
    let twin_reason = refusal(&second, "users", twin).expect("the case twin is refused");
    assert!(
        twin_reason.contains("differs only by case"),
        "{twin_reason}"
    );
    assert_eq!(
        second.case_duplicates.len(),
        1,
        "{:?}",
        second.case_duplicates
    );
    let dup = &second.case_duplicates[0];
    assert_eq!(dup.email, "load1796173540.3@example.test");
    assert_eq!(dup.imported.id, "f23f7866-b7c6-4a2b-9a33-daa47f627634");
    assert_eq!(dup.not_imported[0].id, twin);
    assert_eq!(counts(&second, "questions"), (1, 0, 21, 0));
    assert_eq!(counts(&second, "numerical_answers"), (1, 0, 0, 0));
    assert_eq!(counts(&second, "exams"), (1, 0, 1, 0));
    assert_eq!(counts(&second, "exam_attempts"), (1, 1, 9, 0));
    assert_eq!(counts(&second, "student_answers"), (1, 0, 50, 0));
    assert_eq!(second.refused.len(), 1, "{:?}", second.refused);
    let score: String = sqlx::query_scalar(
        "SELECT CAST(score AS TEXT) FROM exam_attempts WHERE id = '33fb8c83-9987-4db6-9807-392ecc1d7975'",
    )
    .fetch_one(db.pool())
    .await
    .expect("score");
    assert_eq!(score, "4");

    let third = import(&db, &node, false).await;
    assert_eq!(
        third
            .tables
            .iter()
            .map(|t| t.inserted + t.updated)
            .sum::<u64>(),
        0,
        "{:?}",
        third.tables
    );
    assert_eq!(rows(&db, "users").await, 12);
    assert_eq!(rows(&db, "exam_attempts").await, 11);

    // The late student's six-character Node password still signs in.
    let app = TestApp::builder(Backend::Sqlite)
        .fast_password_hashing()
        .on(target, db.clone())
        .start()
        .await;
    let token = app.login("late@example.test", "abc123").await;
    let score = app.get(&format!("/api/result/{exam}/score"), &token).await;
    assert_eq!(score.status, 200, "{score:?}");
    assert_eq!(score.body["score"].as_f64(), Some(2.0), "{score:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_address_taken_in_oes_and_a_source_that_is_no_node_database_are_reported_not_crashed() {
    let node = NodeDb::load().await;
    let target = TestDb::new(Backend::Sqlite).await;
    let db = target.migrated().await;
    crate::support::user(
        &db,
        "Admin@OES.test",
        oes_app::domain::accounts::Role::Admin,
        true,
    )
    .await;

    let report = import(&db, &node, false).await;
    let reason = refusal(&report, "users", "8c560514-894c-4209-b4cc-1ca1c05eda94")
        .expect("the Node admin is refused");
    assert!(reason.contains("belongs to OES account"), "{reason}");
    assert_eq!(counts(&report, "users"), (10, 0, 0, 1));
    // The admin's exam still comes across, without an owner.
    assert_eq!(counts(&report, "exams"), (1, 0, 0, 0));

    let empty = TestDb::new(Backend::Postgres).await;
    let error = import_node::import(&db, &empty.url, ImportOptions::default(), &Quiet)
        .await
        .expect_err("not a Node database");
    assert!(
        error.to_string().contains("cannot read the Node database"),
        "{error}"
    );
    let error = import_node::import(&db, &target.url, ImportOptions::default(), &Quiet)
        .await
        .expect_err("not PostgreSQL");
    assert!(error.to_string().contains("PostgreSQL"), "{error}");
}
