//! `oes import node` as an operator runs it on switch-over day: `oes migrate`, a dry run, the
//! import with a JSON report, and a second import that finds nothing to do; the Node database
//! is the fixture dump loaded into a scratch PostgreSQL database, the OES one PostgreSQL too.

use std::process::Output;
use std::str::FromStr;

use sqlx::{ConnectOptions, Executor};

const SCHEMA: &str = include_str!("../../../oes-app/tests/fixtures/node-oes-schema.sql");
const DATA: &str = include_str!("../../../oes-app/tests/fixtures/node-oes-sample-data.sql");

/// A PostgreSQL database of this test's own, dropped when it goes.
struct Scratch {
    name: String,
    url: String,
}

impl Scratch {
    async fn new(tag: &str) -> Scratch {
        sqlx::any::install_default_drivers();
        let name = format!("oes_cli_{tag}_{}", uuid::Uuid::new_v4().simple());
        let admin = crate::support::postgres_admin_url();
        let mut conn = connect(&admin).await;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create the scratch database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Scratch {
            url: format!("{base}/{name}"),
            name,
        }
    }

    async fn drop_now(self) {
        let mut conn = connect(&crate::support::postgres_admin_url()).await;
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await;
    }
}

async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::AnyConnectOptions::from_str(url)
        .expect("url")
        .connect()
        .await
        .expect("PostgreSQL is reachable")
}

fn oes(dir: &std::path::Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = crate::support::oes(dir);
    cmd.args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The numbers of a table's line in the printed report.
fn line(report: &str, table: &str) -> Vec<u64> {
    report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(table))
        .unwrap_or_else(|| panic!("no line for {table} in:\n{report}"))
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().expect("a count"))
        .collect()
}

#[tokio::test]
async fn the_command_imports_the_node_dump_reports_the_nan_row_and_changes_nothing_the_second_time()
{
    let node = Scratch::new("node").await;
    {
        let mut conn = connect(&node.url).await;
        conn.execute(SCHEMA).await.expect("the Node schema loads");
        conn.execute(DATA).await.expect("the Node rows load");
    }
    let target = Scratch::new("oes").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [
        ("DATABASE_URL", target.url.as_str()),
        ("NODE_DATABASE_URL", node.url.as_str()),
    ];

    stdout(&oes(dir.path(), &vars, &["migrate"]));
    let dry = stdout(&oes(dir.path(), &vars, &["import", "node", "--dry-run"]));
    assert!(dry.contains("dry run"), "{dry}");
    assert_eq!(line(&dry, "users"), [11, 11, 0, 0, 0], "{dry}");

    let report_file = dir.path().join("import.json");
    let report_arg = report_file.display().to_string();
    let first = stdout(&oes(
        dir.path(),
        &vars,
        &["import", "node", "--report", &report_arg],
    ));
    for (table, read, inserted, refused) in [
        ("users", 11, 11, 0),
        ("user_profiles", 1, 1, 0),
        ("questions", 22, 21, 1),
        ("options", 83, 83, 0),
        ("numerical_answers", 1, 0, 1),
        ("exams", 1, 1, 0),
        ("exam_questions", 20, 20, 0),
        ("exam_attempts", 10, 10, 0),
        ("student_answers", 50, 50, 0),
    ] {
        assert_eq!(
            line(&first, table),
            [read, inserted, 0, 0, refused],
            "{table}:\n{first}"
        );
    }
    assert!(first.contains("refused rows: 2"), "{first}");
    assert!(
        first.contains("questions ce80ed51-42dd-48fc-9412-af6fc5c400de:") && first.contains("NaN"),
        "{first}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_file).expect("the report file"))
            .expect("JSON");
    assert_eq!(json["refused"].as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(json["dry_run"], false);

    // The same command again (NODE_DATABASE_URL given as --from this time): nothing doubles.
    let again = stdout(&oes(
        dir.path(),
        &[("DATABASE_URL", target.url.as_str())],
        &["import", "node", "--from", &node.url],
    ));
    assert_eq!(
        line(&again, "student_answers"),
        [50, 0, 0, 50, 0],
        "{again}"
    );
    assert_eq!(line(&again, "users"), [11, 0, 0, 11, 0], "{again}");

    let not_node = oes(
        dir.path(),
        &[("DATABASE_URL", target.url.as_str())],
        &["import", "node", "--from", &target.url],
    );
    assert!(!not_node.status.success(), "an OES database is no Node one");
    let stderr = String::from_utf8_lossy(&not_node.stderr);
    assert!(stderr.contains("cannot read the Node database"), "{stderr}");

    node.drop_now().await;
    target.drop_now().await;
}
