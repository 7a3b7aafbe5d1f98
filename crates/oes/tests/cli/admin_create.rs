//! `oes admin create`: the only way to make an admin; the account can then log in over HTTP.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn oes(dir: &Path, db_url: &str) -> Command {
    let mut cmd = crate::support::oes(dir);
    cmd.env("DATABASE_URL", db_url);
    cmd
}

fn create(dir: &Path, db_url: &str, email: &str, password: &str) -> std::process::Output {
    let mut child = oes(dir, db_url)
        .args([
            "admin",
            "create",
            "--email",
            email,
            "--name",
            "Chief",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("oes starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password written");
    child.wait_with_output().expect("oes exits")
}

#[test]
fn an_admin_created_on_the_command_line_logs_in_with_the_admin_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = format!("sqlite://{}/oes.db", dir.path().display());
    let password = "admin secret 2024";

    let weak = create(dir.path(), &db_url, "boss@example.org", "weak");
    assert!(!weak.status.success());
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(stderr.contains("at least 8 characters"), "{stderr}");
    assert!(
        !stderr.contains("weak"),
        "the password is not echoed: {stderr}"
    );

    let made = create(dir.path(), &db_url, " Boss@Example.org ", password);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(String::from_utf8_lossy(&made.stdout).starts_with("admin created: "));

    let again = create(dir.path(), &db_url, "boss@example.org", password);
    assert!(!again.status.success(), "the email is taken");

    let mut server = oes(dir.path(), &db_url)
        .args(["serve"])
        .env("PORT", "0")
        .env("HOST", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("oes serve starts");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let base = line
        .trim()
        .strip_prefix("oes listening on ")
        .expect("the announced address")
        .to_owned();
    let login = reqwest::blocking::Client::new()
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({ "email": "boss@example.org", "password": password }))
        .send()
        .expect("login answers");
    let status = login.status();
    let body: serde_json::Value = login.json().expect("json");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "ADMIN");
    assert_eq!(body["user"]["fullName"], "Chief");
}
