//! `oes loadtest --url` against a separate `oes serve`: the report's shape, not its timings.

use crate::serve::{serve, terminate};
use crate::support::oes;

#[test]
fn a_small_load_against_a_running_server_reports_every_figure_and_no_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [
        (
            "APP_SECRET",
            "loadtest-secret-loadtest-secret-loadtest-secret",
        ),
        ("METRICS_TOKEN", "loadtest-metrics-token"),
    ];
    let (mut server, base) = serve(dir.path(), &env);
    let pid = server.id().to_string();
    let mut cmd = oes(dir.path());
    cmd.args([
        "loadtest",
        "--students",
        "20",
        "--answers",
        "3",
        "--url",
        &base,
        "--pid",
        &pid,
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("loadtest runs");
    let stopped = terminate(&mut server);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stopped.success());

    assert!(report.contains("p50 ms") && report.contains("p95 ms") && report.contains("p99 ms"));
    for endpoint in ["POST start", "GET attempt", "POST save", "POST submit"] {
        let row = report
            .lines()
            .find(|l| l.starts_with(endpoint))
            .unwrap_or_else(|| panic!("no row for {endpoint}:\n{report}"));
        let count: usize = row[endpoint.len()..]
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no count in {row:?}"));
        let expected = if endpoint == "POST save" { 60 } else { 20 };
        assert_eq!(count, expected, "{row}");
    }
    assert!(report.contains("\nerrors: 0\n"), "{report}");
    assert!(
        report.contains("start storm: 20 of 20 students held their paper"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "paper loads from the database since the exam was created: {base}: 1"
        )),
        "one load for the one process:\n{report}"
    );
    assert!(report.contains("attempts scored: 20 of 20"), "{report}");
    assert!(
        report.contains(&format!("peak RSS of pid {pid} during the exam phase: ")),
        "{report}"
    );
}
