//! What every test of the binary needs: the binary in a clean environment, and the local
//! Redis and PostgreSQL.

use std::path::Path;
use std::process::Command;

/// `oes` in `dir` (empty: no `.env`) with a clean environment: only `PATH`, `RUST_LOG=warn`
/// and what the test sets, so a developer's .env or shell cannot leak in.
pub fn oes(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oes"));
    cmd.current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

pub fn redis_url() -> String {
    std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn postgres_admin_url() -> String {
    std::env::var("OES_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}
